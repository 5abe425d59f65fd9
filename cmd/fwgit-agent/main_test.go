package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/identity"
)

// execute runs one subcommand as the CLI would and returns its output.
func execute(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestInitFingerprintStatus(t *testing.T) {
	dir := t.TempDir()
	out, err := execute(t, newInitCmd(), "--dir", dir, "--allowed-ips", "127.0.0.1,::1", "--state-dir", filepath.Join(dir, "state"), "--san", "fw1.test")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	env, err := os.ReadFile(filepath.Join(dir, identity.EnvFileName))
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^API_KEY=(.+)$`).FindStringSubmatch(string(env))
	if key == nil || strings.Contains(out, key[1]) {
		t.Errorf("init printed the API key or wrote none:\n%s", out)
	}
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(out)
	if fp == "" {
		t.Fatalf("init printed no fingerprint:\n%s", out)
	}

	root := &cobra.Command{Use: "fwgit-agent"}
	envFile := root.PersistentFlags().String("env-file", "", "")
	root.AddCommand(newFingerprintCmd(envFile), newStatusCmd(envFile), newInitCmd())
	if out, err := execute(t, root, "fingerprint", "--env-file", filepath.Join(dir, identity.EnvFileName)); err != nil || strings.TrimSpace(out) != fp {
		t.Errorf("fingerprint = %q, %v; want %s", out, err, fp)
	}
	if out, err := execute(t, root, "status", "--env-file", filepath.Join(dir, identity.EnvFileName)); err != nil || !strings.Contains(out, "nothing applied yet") {
		t.Errorf("status = %q, %v", out, err)
	}
	// A second init refuses; --show-key prints the key.
	if _, err := execute(t, newInitCmd(), "--dir", dir); !errors.Is(err, identity.ErrExists) {
		t.Errorf("second init = %v, want ErrExists", err)
	}
	out, err = execute(t, newInitCmd(), "--dir", dir, "--force", "--show-key")
	newKey := regexp.MustCompile(`(?m)^API_KEY=(.+)$`).FindStringSubmatch(string(must(os.ReadFile(filepath.Join(dir, identity.EnvFileName)))))
	if err != nil || newKey == nil || !strings.Contains(out, newKey[1]) || newKey[1] == key[1] {
		t.Errorf("init --force --show-key = %v; want a new key, printed", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "agent.env")
	if err := os.WriteFile(envFile, []byte("LISTEN=:1111\nTABLE=fromfile\nDRIFT_MODE=report\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TABLE", "fromenv")
	t.Setenv("DRIFT_MODE", "repair")
	var got []string
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd, envFile)
		got = []string{cfg.Listen, cfg.Table, string(cfg.DriftMode)}
		return err
	}}
	bindSettings(cmd)
	if _, err := execute(t, cmd, "--table", "fromflag"); err != nil {
		t.Fatal(err)
	}
	if want := []string{":1111", "fromflag", "repair"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("loadConfig = %v, want %v (flag > environment > file)", got, want)
	}
	cmd2 := &cobra.Command{Use: "y", RunE: func(cmd *cobra.Command, _ []string) error {
		_, err := loadConfig(cmd, filepath.Join(dir, "missing.env"))
		return err
	}}
	cmd2.Flags().String("env-file", "", "")
	if _, err := execute(t, cmd2, "--env-file", "x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("explicit missing env file = %v, want not-exist", err)
	}
	cmd3 := &cobra.Command{Use: "z", RunE: func(cmd *cobra.Command, _ []string) error {
		_, err := loadConfig(cmd, filepath.Join(dir, "missing.env"))
		return err
	}}
	cmd3.Flags().String("env-file", "", "")
	if _, err := execute(t, cmd3); err != nil {
		t.Errorf("default missing env file = %v, want nil (settings may come from elsewhere)", err)
	}
}
