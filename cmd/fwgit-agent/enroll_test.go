package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fwgit/fwgit/agent/pull"
	"github.com/fwgit/fwgit/internal/agentapi"
)

func TestEnrollCommandRefusesLocally(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "agent.env")
	expired := agentapi.EnrollToken{URL: "https://198.18.0.1:8443", CAFingerprint: "sha256:" + string(bytes.Repeat([]byte("a"), 64)),
		Firewall: "db-1", ID: "abcdefgh12345678", Secret: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Expires: 1}
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"expired token", []string{expired.Encode()}, pull.ErrTokenExpired},
		{"not a token", []string{"fwgit1.xyz"}, agentapi.ErrBadToken},
		{"no token", nil, errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newEnrollCmd(&env)
			cmd.SetArgs(tc.args)
			cmd.SetOut(new(bytes.Buffer))
			cmd.SetErr(new(bytes.Buffer))
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			if err := cmd.Execute(); !errors.Is(err, tc.want) {
				t.Errorf("enroll %v = %v, want %v", tc.args, err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused enrollment wrote %d files", len(entries))
			}
		})
	}
}
