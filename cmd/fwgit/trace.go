package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newTraceCmd() *cobra.Command {
	return &cobra.Command{Use: "trace", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("trace: not implemented yet")
	}}
}
