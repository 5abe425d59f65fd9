package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/internal/agentapi"
)

func runToken(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newTokenCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

func TestTokenCommands(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	stdout, stderr, err := runToken(t, "create", "--state-dir", state, "--firewall", "db-1", "--ttl", "2h", "--uses", "3", "--url", "https://198.18.0.1:8443")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr)
	}
	tok, err := agentapi.ParseEnrollToken(stdout)
	if err != nil {
		t.Fatalf("token create printed %q, not a token: %v", stdout, err)
	}
	authority, err := ca.Load(filepath.Join(state, ca.FileName))
	if err != nil {
		t.Fatalf("token create did not leave a CA: %v", err)
	}
	if tok.Firewall != "db-1" || tok.URL != "https://198.18.0.1:8443" || tok.CAFingerprint != authority.Fingerprint() {
		t.Errorf("token = %v pinning %s, want db-1 at https://198.18.0.1:8443 pinning %s", tok, tok.CAFingerprint, authority.Fingerprint())
	}
	if !strings.Contains(stderr, tok.ID) || strings.Contains(stderr, tok.Secret) {
		t.Errorf("stderr should name the token id and never its secret:\n%s", stderr)
	}

	list, _, err := runToken(t, "list", "--state-dir", state)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("token list:\n%s\nwant a header and one token", list)
	}
	if got, want := strings.Fields(lines[1])[:4], []string{tok.ID, "db-1", "active", "3/3"}; !cmp.Equal(got, want) {
		t.Errorf("token list row = %v, want %v", got, want)
	}
	if strings.Contains(list, tok.Secret) {
		t.Error("token list shows the secret")
	}

	if out, _, err := runToken(t, "revoke", tok.ID, "--state-dir", state); err != nil || !strings.Contains(out, "revoked token "+tok.ID) {
		t.Fatalf("token revoke = %q, %v", out, err)
	}
	js, _, err := runToken(t, "list", "--state-dir", state, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Remaining int    `json:"remaining"`
	}
	if err := json.Unmarshal([]byte(js), &entries); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Remaining int    `json:"remaining"`
	}{{tok.ID, "revoked", 3}}, entries); diff != "" {
		t.Errorf("token list --json (-want +got):\n%s", diff)
	}
	if _, _, err := runToken(t, "revoke", "zzzzzzzzzzzzzzzz", "--state-dir", state); err == nil {
		t.Error("revoking an unknown token succeeded")
	}
}

func TestTokenCreateFromConfig(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "controller.yaml")
	os.WriteFile(cfg, []byte("dir: "+dir+"\nstateDir: "+state+"\nlisten:\n  agents: 0.0.0.0:8443\npull:\n  url: https://fw.example.com:8443\n"), 0o600)
	stdout, _, err := runToken(t, "create", "--config", cfg, "--firewall", "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := agentapi.ParseEnrollToken(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if tok.URL != "https://fw.example.com:8443" {
		t.Errorf("token URL = %s, want pull.url from the configuration", tok.URL)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no firewall", []string{"create", "--state-dir", state, "--url", "https://198.18.0.1:8443"}},
		{"no URL", []string{"create", "--state-dir", state, "--firewall", "db-1"}},
		{"zero uses", []string{"create", "--state-dir", state, "--firewall", "db-1", "--url", "https://198.18.0.1:8443", "--uses", "0"}},
		{"ttl too long", []string{"create", "--state-dir", state, "--firewall", "db-1", "--url", "https://198.18.0.1:8443", "--ttl", "9000h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := runToken(t, tc.args...); !isUsage(err) {
				t.Errorf("token %v = %v, want a usage error", tc.args, err)
			}
		})
	}
}
