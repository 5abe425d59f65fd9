package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newRuleCmd() *cobra.Command {
	return &cobra.Command{Use: "rule", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("rule: not implemented yet")
	}}
}
