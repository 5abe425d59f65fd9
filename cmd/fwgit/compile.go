package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder with the real command.
func newCompileCmd() *cobra.Command {
	return &cobra.Command{Use: "compile", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("compile: not implemented yet")
	}}
}
