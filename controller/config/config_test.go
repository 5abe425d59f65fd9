package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	if err != nil {
		walk(err)
	}
	sort.Strings(out)
	return out
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte("dir: /srv/policy\nstateDir: /var/lib/fwgit\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Dir = "/srv/policy"
	want.StateDir = "/var/lib/fwgit"
	if diff := cmp.Diff(want, cfg, cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
	if cfg.PollInterval.D() != 30*time.Second || cfg.ConfirmTimeout.D() != 30*time.Second || cfg.Listen.API != "127.0.0.1:8080" {
		t.Errorf("defaults = %v %v %q", cfg.PollInterval.D(), cfg.ConfirmTimeout.D(), cfg.Listen.API)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(Config) string
		wantErr string
	}{
		{name: "confirm timeout zero disables", yaml: "confirmTimeout: 0s", check: func(c Config) string {
			return fmt.Sprint(c.ConfirmTimeout.D())
		}},
		{name: "seconds as number", yaml: "pollInterval: 90", check: func(c Config) string { return fmt.Sprint(c.PollInterval.D()) }},
		{name: "unknown field", yaml: "pollIntervall: 10s", wantErr: "unknown field"},
		{name: "bad duration", yaml: "pollInterval: soon", wantErr: "invalid duration"},
		{name: "per firewall creds", yaml: "agents:\n  default: {apiKeyFile: /k}\n  firewalls:\n    db-1: {caFile: /ca.pem}\n", check: func(c Config) string {
			cr := c.CredentialsFor("db-1")
			return cr.APIKeyFile + " " + cr.CAFile
		}},
	}
	want := map[string]string{
		"confirm timeout zero disables": "0s",
		"seconds as number":             "1m30s",
		"per firewall creds":            "/k /ca.pem",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %q", tc.yaml, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(cfg); got != want[tc.name] {
				t.Errorf("Parse(%q) = %q, want %q", tc.yaml, got, want[tc.name])
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	key := writeFile(t, dir, "key", "s3cret\n")
	base := func() Config {
		c := Default()
		c.Dir = dir
		c.StateDir = filepath.Join(dir, "state")
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{name: "valid dir", mutate: func(*Config) {}},
		{name: "valid git", mutate: func(c *Config) {
			c.Dir = ""
			c.Git = &Git{URL: "https://git.example.com/net/policy.git", Branch: "main"}
		}},
		{name: "no source", mutate: func(c *Config) { c.Dir = "" }, want: []string{"git"}},
		{name: "both sources", mutate: func(c *Config) { c.Git = &Git{URL: "file:///x"} }, want: []string{"dir"}},
		{name: "password in url", mutate: func(c *Config) {
			c.Dir = ""
			c.Git = &Git{URL: "https://u:pw@example.com/r.git"}
		}, want: []string{"git.url"}},
		{name: "path escapes", mutate: func(c *Config) {
			c.Dir = ""
			c.Git = &Git{URL: "file:///r", Path: "../x"}
		}, want: []string{"git.path"}},
		{name: "many problems", mutate: func(c *Config) {
			c.StateDir = ""
			c.DriftMode = "ignore"
			c.Concurrency = 0
			c.Backoff.Max = Duration(time.Millisecond)
			c.ConfirmTimeout = Duration(-time.Second)
			c.Listen.API = "8080"
		}, want: []string{"backoff.max", "concurrency", "confirmTimeout", "driftMode", "listen.api", "stateDir"}},
		{name: "missing key file", mutate: func(c *Config) {
			c.Agents.Firewalls = map[string]Credentials{"db-1": {APIKeyFile: filepath.Join(dir, "nope")}}
		}, want: []string{"agents.firewalls.db-1.apiKeyFile"}},
		{name: "bad fingerprint", mutate: func(c *Config) {
			c.Agents.Default = Credentials{APIKeyFile: key, Fingerprint: "sha256:XYZ"}
		}, want: []string{"agents.default.fingerprint"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			got := fields(c.Validate())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate() fields mismatch (-want +got):\n%s\nerror: %v", diff, c.Validate())
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	dir := t.TempDir()
	s, err := ReadSecret(writeFile(t, dir, "k", "  hunter2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Reveal() != "hunter2" {
		t.Fatalf("Reveal() = %q, want hunter2", s.Reveal())
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s)
	for _, out := range []string{buf.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if _, err := ReadSecret(writeFile(t, dir, "empty", "\n")); err == nil {
		t.Error("ReadSecret(empty file) = nil error")
	}
}

func TestExampleConfigParses(t *testing.T) {
	cfg, err := Load("../../examples/controller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Git == nil || cfg.Git.URL == "" {
		t.Errorf("example has no git source: %+v", cfg.Git)
	}
}
