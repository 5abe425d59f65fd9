package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newDevCmd() *cobra.Command {
	return &cobra.Command{Use: "dev", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("dev: not implemented yet")
	}}
}
