package controller

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/config"
)

// TestCredentialsRotate: a changed key file is read again; one that becomes
// unreadable keeps the last good key; at start a missing file is an error.
func TestCredentialsRotate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent-key")
	write := func(s string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	c := newCredentials(slog.New(slog.DiscardHandler))
	if err := c.load([]config.Credentials{{APIKeyFile: p}}); err == nil {
		t.Fatal("load of a missing key file succeeded")
	}
	write("first-key-0123456789abcdef", time.Hour)
	if err := c.load([]config.Credentials{{APIKeyFile: p}}); err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		k, err := c.key(p, false)
		if err != nil {
			t.Fatal(err)
		}
		return k.Reveal()
	}
	if got := get(); got != "first-key-0123456789abcdef" {
		t.Fatalf("key = %q", got)
	}
	write("second-key-0123456789abcdef", time.Minute)
	if got := get(); got != "second-key-0123456789abcdef" {
		t.Errorf("after rotation key = %q, want the new one", got)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "second-key-0123456789abcdef" {
		t.Errorf("with the file gone key = %q, want the last good one", got)
	}
}
