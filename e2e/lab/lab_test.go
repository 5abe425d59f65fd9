package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/load"
)

const examples = "../../examples/repo"

// examplesLab returns a lab (not started) over a copy of examples/repo,
// with made-up fingerprints, and the copy's directory.
func examplesLab(t *testing.T, pull ...string) (*Lab, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(examples)); err != nil {
		t.Fatal(err)
	}
	inv, diags := model.Build(load.Load(os.DirFS(dir)))
	if inv == nil || diags.HasErrors() {
		t.Fatalf("examples/repo: %v", diags)
	}
	l := &Lab{opts: Options{Pull: pull}, Inventory: inv}
	for i, fw := range inv.Firewalls {
		l.Firewalls = append(l.Firewalls, &Firewall{Name: fw.Name, URL: fw.Agent.URL, Fingerprint: fmt.Sprintf("sha256:%064x", i+1)})
	}
	return l, dir
}

func TestPinFingerprints(t *testing.T) {
	l, dir := examplesLab(t, "analytics-1")
	if err := l.pinFingerprints(dir); err != nil {
		t.Fatal(err)
	}
	inv, _, err := Desired(os.DirFS(dir))
	if err != nil {
		t.Fatalf("the pinned repository does not load: %v", err)
	}
	for _, fw := range l.Firewalls {
		got := inv.FirewallByName(fw.Name).Agent
		switch {
		case fw.Name == "analytics-1":
			if got.Mode != "pull" || got.URL != "" || got.Fingerprint != "" {
				t.Errorf("%s: agent %+v, want pull mode without URL or pin", fw.Name, got)
			}
		case got.Fingerprint != fw.Fingerprint || got.URL != fw.URL:
			t.Errorf("%s: agent %+v, want %s pinned to %s", fw.Name, got, fw.URL, fw.Fingerprint)
		}
	}
}

func TestPinFingerprintsNeedsTheURLLine(t *testing.T) {
	l, dir := examplesLab(t)
	l.Firewalls[0].URL = "https://198.18.99.99:33033"
	if err := l.pinFingerprints(dir); err == nil {
		t.Error("pinFingerprints succeeded for a firewall whose URL is not in its manifest")
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte("a: 1\nb: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Replace("f.yaml", "a: 1", "a: 2")(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "f.yaml"))
	if string(b) != "a: 2\nb: 1\n" {
		t.Errorf("after Replace: %q", b)
	}
	for _, old := range []string{"missing", ": "} {
		if err := Replace("f.yaml", old, "z")(dir); err == nil {
			t.Errorf("Replace(%q) succeeded, want an error: it is not there exactly once", old)
		}
	}
}

func TestConverged(t *testing.T) {
	l := &Lab{Firewalls: []*Firewall{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	rev := Revision("abc")
	st := &api.StatusResponse{Revision: api.RevisionInfo{LastGood: rev}, Firewalls: []api.FirewallStatus{
		{Name: "a", Condition: "Ready", DesiredRevision: rev, DesiredDigest: "sha256:1", AppliedDigest: "sha256:1"},
		{Name: "b", Condition: "Ready", DesiredRevision: rev, DesiredDigest: "sha256:2", AppliedDigest: "sha256:1"},
		{Name: "c", Condition: "Stalled", DesiredRevision: rev, DesiredDigest: "sha256:3", AppliedDigest: "sha256:3"},
		{Name: "other", Condition: "Ready", DesiredRevision: rev, DesiredDigest: "sha256:4", AppliedDigest: "sha256:4"},
	}}
	if got := l.Converged(st, "abc"); got != 1 {
		t.Errorf("Converged = %d, want 1 (b runs another digest, c is Stalled, other is not in the lab)", got)
	}
	if got := l.Converged(st, "def"); got != 0 {
		t.Errorf("Converged on another commit = %d, want 0", got)
	}
}
