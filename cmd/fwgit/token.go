package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newTokenCmd() *cobra.Command {
	return &cobra.Command{Use: "token", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("token: not implemented yet")
	}}
}
