package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fwgit/fwgit/internal/nft"
)

const exampleRepo = "../../examples/repo"

// copyDir copies a directory tree into a fresh temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// commitAll commits the whole worktree of the repository in dir (creating
// it first when needed) and returns the commit hash.
func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = git.PlainInit(dir, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestCompileCommand(t *testing.T) {
	out, errOut, code := runCmd(t, newCompileCmd(), exampleRepo)
	if code != 0 {
		t.Fatalf("compile examples/repo exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "# firewall web-1 sha256:") || !strings.Contains(out, "table inet fwgit {") {
		t.Errorf("compile output lacks the firewall headers or tables:\n%.500s", out)
	}
	if nftPath, err := exec.LookPath("nft"); err == nil && !testing.Short() {
		cmd := exec.Command(nftPath, "-c", "-f", "-")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(b), "Operation not permitted") {
			t.Errorf("nft -c -f rejects the compile output: %v\n%s", err, b)
		}
	}

	js, _, code := runCmd(t, newCompileCmd(), exampleRepo, "--firewall", "db-1", "--format", "json")
	if code != 0 {
		t.Fatalf("compile --format json exited %d", code)
	}
	var got []struct {
		Name    string          `json:"name"`
		Digest  string          `json:"digest"`
		Ruleset json.RawMessage `json:"ruleset"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil || len(got) != 1 || got[0].Name != "db-1" {
		t.Fatalf("compile --format json = %.300s (%v), want one firewall db-1", js, err)
	}
	rs, err := nft.Decode(got[0].Ruleset)
	if err != nil {
		t.Fatalf("the JSON ruleset does not decode: %v", err)
	}
	if rs.Digest() != got[0].Digest {
		t.Errorf("digest %s does not match the ruleset's %s", got[0].Digest, rs.Digest())
	}

	if _, errOut, code := runCmd(t, newCompileCmd(), exampleRepo, "--firewall", "nope"); code != 2 || !strings.Contains(errOut, `no firewall named "nope"`) {
		t.Errorf("unknown --firewall: exit %d, stderr %q; want 2", code, errOut)
	}

	bad := copyDir(t, exampleRepo)
	if err := os.WriteFile(filepath.Join(bad, "rules", "broken.yaml"), []byte("apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: broken}\nspec:\n  global: true\n  rule: FROM any TO all vms ALLOW tcp PORT 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCmd(t, newCompileCmd(), bad)
	if code != 1 || out != "" || !strings.Contains(errOut, "rules/broken.yaml:6:") {
		t.Errorf("invalid repository: exit %d, stdout %q, stderr %q; want exit 1 with the diagnostic", code, out, errOut)
	}
}

func TestTestCommand(t *testing.T) {
	out, errOut, code := runCmd(t, newTestCmd(), exampleRepo)
	if code != 0 {
		t.Fatalf("test examples/repo exited %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "0 failed") || strings.Contains(out, "FAIL") {
		t.Errorf("test output:\n%s", out)
	}

	dir := copyDir(t, exampleRepo)
	contra := `apiVersion: fwgit/v1
kind: Test
metadata: {name: contradiction}
spec:
  cases:
    - {name: lb reaches db, firewall: db-1, from: 198.18.0.11, proto: tcp, port: 5432, expect: drop}
`
	if err := os.WriteFile(filepath.Join(dir, "tests", "zz-contra.yaml"), []byte(contra), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCmd(t, newTestCmd(), dir)
	if code != 1 {
		t.Errorf("a contradicting Test exits %d, want 1", code)
	}
	want := "FAIL tests/zz-contra.yaml:6:7 contradiction/lb reaches db: db-1 in tcp 198.18.0.11 -> * port 5432: want drop, got accept by rule web-to-db (rules/data.yaml:3)"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestTraceCommand(t *testing.T) {
	out, errOut, code := runCmd(t, newTraceCmd(), exampleRepo, "--firewall", "db-1", "--from", "198.18.0.11", "--proto", "tcp", "--port", "5432", "--format", "json")
	if code != 0 {
		t.Fatalf("trace exited %d: %s", code, errOut)
	}
	var got struct {
		Verdict string `json:"verdict"`
		Rule    struct {
			Name, UUID, File string
			Line             int
		} `json:"rule"`
		NFT string `json:"nft"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("trace JSON: %v\n%s", err, out)
	}
	if got.Verdict != "accept" || got.Rule.Name != "web-to-db" || got.Rule.File != "rules/data.yaml" || got.Rule.Line == 0 || got.Rule.UUID == "" ||
		!strings.Contains(got.NFT, "tcp dport 5432 accept comment \"rule:"+got.Rule.UUID+"\"") {
		t.Errorf("trace = %+v", got)
	}

	out, _, code = runCmd(t, newTraceCmd(), exampleRepo, "--firewall", "db-1", "--from", "198.19.5.5", "--proto", "tcp", "--port", "5432", "--format", "json")
	if code != 0 || !strings.Contains(out, `"rule": "default"`) || !strings.Contains(out, `"verdict": "drop"`) {
		t.Errorf("trace of a dropped packet = exit %d\n%s", code, out)
	}
	out, _, code = runCmd(t, newTraceCmd(), exampleRepo, "--firewall", "db-1", "--direction", "out", "--to", "198.19.30.25", "--proto", "tcp", "--port", "25")
	if code != 0 || !strings.Contains(out, "verdict: drop") || !strings.Contains(out, "decided: rule pci-no-smtp (rules/data.yaml:") {
		t.Errorf("text trace = exit %d\n%s", code, out)
	}
	if _, errOut, code := runCmd(t, newTraceCmd(), exampleRepo, "--firewall", "db-1", "--from", "fd00::1", "--proto", "icmp"); code != 2 || !strings.Contains(errOut, "icmp needs IPv4") {
		t.Errorf("icmp with an IPv6 source: exit %d, %q; want 2", code, errOut)
	}
}

func TestPlanCommand(t *testing.T) {
	dir := copyDir(t, exampleRepo)
	base := commitAll(t, dir, "base")
	path := filepath.Join(dir, "rules", "data.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "PORT 5432", "(PORT 5432 AND PORT 5433)", 1)
	if changed == string(b) {
		t.Fatal("rules/data.yaml no longer has PORT 5432; update the test")
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	// The worktree differs from HEAD; commit it for --head.
	out, errOut, code := runCmd(t, newPlanCmd(), dir, "--base", base, "--worktree", "--format", "json")
	if code != 0 {
		t.Fatalf("plan --worktree exited %d: %s", code, errOut)
	}
	head := commitAll(t, dir, "head")
	out2, errOut, code := runCmd(t, newPlanCmd(), dir, "--base", base, "--head", head, "--format", "json")
	if code != 0 {
		t.Fatalf("plan --head exited %d: %s", code, errOut)
	}
	for _, o := range []string{out, out2} {
		var p struct {
			Counts    struct{ Changed, Unchanged int }
			Firewalls []struct {
				Name, Status, Diff string
				Causes             []struct{ Name string }
			}
		}
		if err := json.Unmarshal([]byte(o), &p); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range p.Firewalls {
			if f.Status == "changed" {
				names = append(names, f.Name)
				if !strings.Contains(f.Diff, "+\t\t") || !strings.Contains(f.Diff, "5433") || len(f.Causes) == 0 || f.Causes[0].Name != "web-to-db" {
					t.Errorf("%s: diff or causes wrong: %+v", f.Name, f)
				}
			}
		}
		if strings.Join(names, ",") != "db-1" || p.Counts.Unchanged == 0 {
			t.Errorf("changed firewalls = %v (counts %+v), want db-1 only", names, p.Counts)
		}
	}
	md, _, code := runCmd(t, newPlanCmd(), dir, "--base", base)
	if code != 0 || !strings.Contains(md, "| `db-1` | changed |") || !strings.Contains(md, "```diff") {
		t.Errorf("markdown plan = exit %d\n%s", code, md)
	}
	if _, _, code := runCmd(t, newPlanCmd(), dir); code != 2 {
		t.Errorf("plan without --base exits %d, want 2", code)
	}
}
