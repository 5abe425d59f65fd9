package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newControllerCmd() *cobra.Command {
	return &cobra.Command{Use: "controller", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("controller: not implemented yet")
	}}
}
