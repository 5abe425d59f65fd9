package fwapi

import (
	"errors"
	"fmt"
	v1 "github.com/fwgit/fwgit/schema/v1"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// fakeHistory is an in-memory first-parent history; commits listed in
// missing are beyond a shallow boundary.
type fakeHistory struct {
	commits map[string]Commit
	missing map[string]bool
}

func (f *fakeHistory) Commit(hash string) (Commit, error) {
	c, ok := f.commits[hash]
	if !ok || f.missing[hash] {
		return Commit{}, errors.New("object not found")
	}
	return c, nil
}

// referenceVersions is §10's definition, walked naively: for each rule
// valid at head, the oldest first-parent ancestor reached through commits
// where its fingerprint equals head's.
func referenceVersions(h History, head string) map[string]string {
	c0, _ := h.Commit(head)
	out := map[string]string{}
	for id, fp := range Fingerprints(c0.FS) {
		cur := c0
		for cur.Parent != "" {
			p, err := h.Commit(cur.Parent)
			if err != nil || Fingerprints(p.FS)[id] != fp {
				break
			}
			cur = p
		}
		out[id] = gitVersion(cur.Hash, cur.Time)
	}
	return out
}

// ruleState is one rule as a commit writes it.
type ruleState struct {
	uuid, name, file string
	port             int
	lower            bool // respelled in lower case: same canonical text
	disabled, log    bool
	desc, owner      string // owner "" means global
}

func (r ruleState) doc() string {
	text := fmt.Sprintf("FROM any TO all vms ALLOW tcp PORT %d", r.port)
	if r.lower {
		text = strings.ToLower(text)
	}
	scope := "owner: " + r.owner
	if r.owner == "" {
		scope = "global: true"
	}
	s := "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: " + r.name + ", uuid: " + r.uuid + "}\nspec:\n  " + scope + "\n  rule: \"" + text + "\"\n"
	if r.disabled {
		s += "  enabled: false\n"
	}
	if r.log {
		s += "  log: true\n"
	}
	if r.desc != "" {
		s += "  description: " + r.desc + "\n"
	}
	return s
}

// TestVersionsIncrementalEqualsWalk builds random first-parent histories
// (moves, respellings, toggles, text, owner and description changes,
// broken files, empty commits, a shallow boundary) and checks that
// [Versions.Compute], whatever revisions it saw before, equals the walk.
func TestVersionsIncrementalEqualsWalk(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := range 20 {
		h := &fakeHistory{commits: map[string]Commit{}, missing: map[string]bool{}}
		rules := []ruleState{
			{uuid: uuidA, name: "a", file: "a.yaml", port: 22, owner: ownerO},
			{uuid: uuidB, name: "b", file: "b.yaml", port: 80, owner: ownerO},
			{uuid: "cccccccc-0000-4000-8000-000000000003", name: "c", file: "a.yaml", port: 443},
		}
		broken := map[string]bool{}
		var chain []string
		base := time.Date(2025, 1, 15, 8, 30, 0, 0, time.UTC)
		commit := func(parent string) string {
			files := fstest.MapFS{}
			docs := map[string]string{}
			for _, r := range rules {
				docs[r.file] += r.doc()
			}
			for name, d := range docs {
				if broken[name] {
					d += "kind: [\n"
				}
				files[name] = &fstest.MapFile{Data: []byte(d)}
			}
			n := len(h.commits)
			hash := fmt.Sprintf("%06x%034x", rng.Intn(1<<24), n)
			h.commits[hash] = Commit{Hash: hash, Tree: fmt.Sprint(docs, broken), Time: base.Add(time.Duration(n) * time.Minute), Parent: parent, FS: files}
			return hash
		}
		mutate := func() {
			r := &rules[rng.Intn(len(rules))]
			switch rng.Intn(9) {
			case 0:
				r.port++
			case 1:
				r.lower = !r.lower
			case 2:
				r.disabled = !r.disabled
			case 3:
				r.log = !r.log
			case 4:
				r.desc = map[string]string{"": "x", "x": ""}[r.desc]
			case 5:
				r.owner = map[string]string{"": ownerO, ownerO: ownerP, ownerP: ""}[r.owner]
			case 6:
				r.file = map[string]string{"a.yaml": "sub/b.yaml", "b.yaml": "a.yaml", "sub/b.yaml": "b.yaml"}[r.file]
			case 7:
				f := []string{"a.yaml", "b.yaml", "sub/b.yaml"}[rng.Intn(3)]
				broken[f] = !broken[f]
			case 8: // an empty commit
			}
		}
		parent := ""
		for range 12 {
			parent = commit(parent)
			chain = append(chain, parent)
			mutate()
		}
		// A side branch from the middle, for non-fast-forward moves.
		side := chain[5]
		for range 4 {
			mutate()
			side = commit(side)
		}
		if round%4 == 3 { // a shallow clone: history before chain[3] is missing
			for _, c := range chain[:3] {
				h.missing[c] = true
			}
		}
		orders := [][]string{
			chain,
			{chain[11]},
			{chain[0], chain[4], chain[11]},
			{chain[8], side, chain[11], chain[6]},
		}
		for _, order := range orders {
			var v Versions
			for _, head := range order {
				if h.missing[head] {
					continue
				}
				got, err := v.Compute(h, head)
				if err != nil {
					t.Fatal(err)
				}
				want := referenceVersions(h, head)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("round %d, heads %v, at %s: Compute = %v, walk = %v", round, order, head[:6], got, want)
				}
			}
		}
	}
}

// TestVersionsGitMerge runs the walk on a real repository with a merged
// branch, renames with and without metadata.uuid, and description, owner
// and unrelated changes outside the policy path.
func TestVersionsGitMerge(t *testing.T) {
	g := newGitRepo(t)
	wt, _ := g.repo.Worktree()
	commitWith := func(files map[string]string, parents ...string) string {
		t.Helper()
		for name, data := range files {
			g.commitFile(wt, name, data)
		}
		g.now = g.now.Add(time.Minute)
		sig := &object.Signature{Name: "t", Email: "t@example.invalid", When: g.now}
		opts := &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true}
		for _, p := range parents {
			opts.Parents = append(opts.Parents, plumbing.NewHash(p))
		}
		h, err := wt.Commit("change", opts)
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	ruleN := func(name string) string {
		return "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: " + name + "}\nspec:\n  global: true\n  rule: \"FROM any TO all vms ALLOW tcp PORT 9\"\n"
	}
	a1 := ruleDoc("a", uuidA, "FROM any TO all vms ALLOW tcp PORT 22", "")
	a2 := ruleDoc("a", uuidA, "FROM any TO all vms ALLOW tcp PORT 23", "")
	b1 := ruleDoc("b", uuidB, "FROM any TO all vms ALLOW tcp PORT 80", "")
	c1 := commitWith(map[string]string{"policy/a.yaml": a1, "policy/b.yaml": b1, "policy/n.yaml": ruleN("n1"), "README": "1"})
	side := commitWith(map[string]string{"policy/a.yaml": a2}, c1)
	main := commitWith(map[string]string{"policy/a.yaml": a1, "README": "2"}, c1)
	merge := commitWith(map[string]string{"policy/a.yaml": a2}, main, side)
	c4 := commitWith(map[string]string{
		"policy/a.yaml": ruleDoc("a-renamed", uuidA, "FROM any TO all vms ALLOW tcp PORT 23", ""),
		"policy/b.yaml": ruleDoc("b", uuidB, "FROM any TO all vms ALLOW tcp PORT 80", "  description: web\n"),
		"policy/n.yaml": ruleN("n2"),
	}, merge)
	c5 := commitWith(map[string]string{"policy/b.yaml": strings.Replace(ruleDoc("b", uuidB, "FROM any TO all vms ALLOW tcp PORT 80", "  description: web\n"), ownerO, ownerP, 1)}, c4)

	h, err := NewGitHistory(g.dir, "policy")
	if err != nil {
		t.Fatal(err)
	}
	ver := func(hash string) string {
		c, err := h.Commit(hash)
		if err != nil {
			t.Fatal(err)
		}
		return gitVersion(c.Hash, c.Time)
	}
	if x, y := mustCommit(t, h, c1), mustCommit(t, h, main); x.Tree != y.Tree {
		t.Errorf("a change outside the policy path changed its tree: %s, %s", x.Tree, y.Tree)
	}
	uuidN1, uuidN2 := deriveRuleUUID("n1"), deriveRuleUUID("n2")
	tests := []struct {
		head string
		want map[string]string
	}{
		{main, map[string]string{uuidA: ver(c1), uuidB: ver(c1), uuidN1: ver(c1)}},
		{side, map[string]string{uuidA: ver(side), uuidB: ver(c1), uuidN1: ver(c1)}},
		// The merge is one first-parent step: A gets the merge's version.
		{merge, map[string]string{uuidA: ver(merge), uuidB: ver(c1), uuidN1: ver(c1)}},
		// Renaming with metadata.uuid keeps the version, without it is a new rule.
		{c4, map[string]string{uuidA: ver(merge), uuidB: ver(c4), uuidN2: ver(c4)}},
		{c5, map[string]string{uuidA: ver(merge), uuidB: ver(c5), uuidN2: ver(c4)}},
	}
	var inc Versions
	for _, tc := range tests {
		var full Versions
		got, err := full.Compute(h, tc.head)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("versions at %s = %v, want %v", tc.head[:7], got, tc.want)
		}
		if got, _ := inc.Compute(h, tc.head); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("incremental versions at %s = %v, want %v", tc.head[:7], got, tc.want)
		}
	}
}

func mustCommit(t *testing.T, h History, hash string) Commit {
	t.Helper()
	c, err := h.Commit(hash)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deriveRuleUUID(name string) string { return v1.DeriveUUID(v1.KindRule, name) }

// commitFile writes and stages one file.
func (g *gitRepo) commitFile(wt *git.Worktree, name, data string) {
	g.t.Helper()
	p := filepath.Join(g.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		g.t.Fatal(err)
	}
}
