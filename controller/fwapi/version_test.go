package fwapi

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitRepo is a real repository on disk that tests commit files to.
type gitRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	now  time.Time
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &gitRepo{t: t, dir: dir, repo: r, now: time.Date(2025, 1, 15, 8, 30, 0, 0, time.UTC)}
}

// commit writes files (nil content removes the file) and commits them one
// minute after the previous commit, returning the hash.
func (g *gitRepo) commit(files map[string]string) string {
	g.t.Helper()
	wt, err := g.repo.Worktree()
	if err != nil {
		g.t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(g.dir, name)
		if data == "" {
			os.Remove(p)
			if _, err := wt.Remove(name); err != nil {
				g.t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			g.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			g.t.Fatal(err)
		}
	}
	g.now = g.now.Add(time.Minute)
	sig := &object.Signature{Name: "t", Email: "t@example.invalid", When: g.now}
	h, err := wt.Commit("change", &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		g.t.Fatal(err)
	}
	return h.String()
}

func ruleDoc(name, uuid, text, extra string) string {
	return "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: " + name + ", uuid: " + uuid + "}\nspec:\n  owner: " + ownerO + "\n  rule: \"" + text + "\"\n" + extra
}

const (
	uuidA = "aaaaaaaa-0000-4000-8000-000000000001"
	uuidB = "bbbbbbbb-0000-4000-8000-000000000002"
)

func TestVersionsFromHistory(t *testing.T) {
	g := newGitRepo(t)
	c1 := g.commit(map[string]string{
		"rules/a.yaml": ruleDoc("a", uuidA, "FROM any TO all vms ALLOW tcp PORT 22", ""),
		"rules/b.yaml": ruleDoc("b", uuidB, "FROM any TO all vms ALLOW tcp PORT 80", ""),
	})
	// Move a to another file and respell it: same fingerprint.
	c2 := g.commit(map[string]string{
		"rules/a.yaml":       "",
		"moved/renamed.yaml": ruleDoc("a", uuidA, "from any to all vms allow tcp port 22", ""),
	})
	// Toggle b's enabled flag: new version.
	c3 := g.commit(map[string]string{"rules/b.yaml": ruleDoc("b", uuidB, "FROM any TO all vms ALLOW tcp PORT 80", "  enabled: false\n")})
	// An unrelated broken file does not break the runs.
	c4 := g.commit(map[string]string{"broken.yaml": "kind: [\n"})

	h, err := NewGitHistory(g.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	commitTime := func(hash string) string {
		c, err := h.Commit(hash)
		if err != nil {
			t.Fatal(err)
		}
		return gitVersion(c.Hash, c.Time)
	}
	var full Versions
	got, err := full.Compute(h, c4)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{uuidA: commitTime(c1), uuidB: commitTime(c3)}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("version of %s at c4 = %q, want %q", id[:8], got[id], v)
		}
		if !regexp.MustCompile(`^[0-9]{13}\.[0-9]{6}$`).MatchString(got[id]) {
			t.Errorf("version %q has the wrong form", got[id])
		}
	}
	// The incremental path (previous answer at c2, then c3, then c4) must
	// equal the full walk.
	var inc Versions
	for _, c := range []string{c1, c2, c3, c4} {
		if _, err := inc.Compute(h, c); err != nil {
			t.Fatal(err)
		}
	}
	if inc.prevVer[uuidA] != got[uuidA] || inc.prevVer[uuidB] != got[uuidB] {
		t.Errorf("incremental versions %v, full walk %v", inc.prevVer, got)
	}
	// Spec example: origin 5e2f0c1a…, committed 2025-01-15T08:30:00Z.
	if v := gitVersion("5e2f0c1a00000000000000000000000000000000", time.Date(2025, 1, 15, 8, 30, 0, 0, time.UTC)); v != "1736929800000.172428" {
		t.Errorf("gitVersion = %q, want 1736929800000.172428", v)
	}
}

func TestDirVersion(t *testing.T) {
	v := DirVersion(`{"enabled":true,"log":false,"rule":"x","uuid":"u"}`)
	if !regexp.MustCompile(`^0\.[0-9]{6}$`).MatchString(v) {
		t.Errorf("DirVersion = %q", v)
	}
	if DirVersion("a") == DirVersion("b") {
		t.Errorf("DirVersion does not depend on the fingerprint")
	}
	// The fingerprint is JSON.stringify's compact form, keys in §2.3 order:
	// no HTML or U+2028 escapes, control characters as \uXXXX.
	tests := []struct {
		fp   fingerprint
		want string
	}{
		{newFingerprint("u", `FROM tag "a<b" TO any ALLOW tcp PORT 1`, "", true, true, false, "x & y\u2028\x01\t"),
			`{"description":"x & y` + "\u2028" + `\u0001\t","enabled":true,"global":true,"log":false,"rule":"FROM tag \"a<b\" TO any ALLOW tcp PORT 1","uuid":"u"}`},
		{newFingerprint("u", "r", "o", false, false, true, ""), `{"enabled":false,"log":true,"owner_uuid":"o","rule":"r","uuid":"u"}`},
	}
	for _, tc := range tests {
		if got := tc.fp.key(); got != tc.want {
			t.Errorf("fingerprint = %s, want %s", got, tc.want)
		}
	}
	sum := sha256.Sum256([]byte(`{"enabled":false,"log":true,"owner_uuid":"o","rule":"r","uuid":"u"}`))
	n := (uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])) % 1000000
	if got, want := DirVersion(tests[1].fp.key()), fmt.Sprintf("0.%06d", n); got != want {
		t.Errorf("DirVersion = %s, want %s", got, want)
	}
}
