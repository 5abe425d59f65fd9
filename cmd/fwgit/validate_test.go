package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/diag"
)

// runValidateArgs runs `fwgit validate ARGS...` in-process.
func runValidateArgs(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, newValidateCmd(), args...)
}

func writeRepoFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	testOwner = "aaaaaaaa-0000-4000-8000-000000000001"
	tagsYAML  = "apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\n"
	fwYAML    = "apiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: web-1\nspec:\n  owner: " + testOwner +
		"\n  addresses: [198.18.0.1]\n  tags: {role: web}\n  agent: {mode: pull}\n"
	ruleYAML = "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: r\nspec:\n  owner: " + testOwner +
		"\n  rule: FROM any TO tag role = web ALLOW tcp PORT 80\n"
)

// validSmallRepo is a valid repository of one firewall, one tag and one rule.
func validSmallRepo() map[string]string {
	return map[string]string{"tags.yaml": tagsYAML, "fw/web.yaml": fwYAML, "rules/web.yaml": ruleYAML}
}

var validateSummaryRE = regexp.MustCompile(`^(.*): (\d+) files?, (\d+) objects? \((\d+) firewalls?, (\d+) rules?, (\d+) tags?, (\d+) tests?, (\d+) settings\): (\d+) errors?, (\d+) warnings?`)

func TestValidateExamples(t *testing.T) {
	out, errOut, code := runValidateArgs(t, "../../examples/repo")
	if code != 0 {
		t.Fatalf("fwgit validate examples/repo: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1 || errOut != "" {
		t.Fatalf("output = %q, stderr %q; want one summary line", out, errOut)
	}
	m := validateSummaryRE.FindStringSubmatch(lines[0])
	if m == nil || m[1] != "../../examples/repo" || m[9] != "0" || m[10] != "0" || m[4] == "0" || m[5] == "0" {
		t.Errorf("summary = %q, want a clean summary of ../../examples/repo", lines[0])
	}
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeRepoFiles(t, dst, map[string]string{filepath.ToSlash(rel): string(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lineColOf returns "line:col" of the first occurrence of needle in data.
func lineColOf(t *testing.T, data, needle string) string {
	t.Helper()
	i := strings.Index(data, needle)
	if i < 0 {
		t.Fatalf("%q not found", needle)
	}
	before := data[:i]
	return fmt.Sprintf("%d:%d", strings.Count(before, "\n")+1, i-strings.LastIndex(before, "\n"))
}

// TestValidateBrokenExamples breaks a copy of examples/repo three ways (a
// rule text, an unknown tag, a duplicate name) and checks each error comes
// out once, at its file:line:col, and nothing else does.
func TestValidateBrokenExamples(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	copyTree(t, "../../examples/repo", dir)
	read := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	// The first two plain one-line rules of the rules directory.
	var plain []string // "file\x00line"
	ruleFiles, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yaml"))
	sort.Strings(ruleFiles)
	for _, f := range ruleFiles {
		rel, _ := filepath.Rel(dir, f)
		for _, l := range strings.Split(read(rel), "\n") {
			if strings.HasPrefix(l, "  rule: FROM ") && strings.Contains(l, " ALLOW ") {
				plain = append(plain, filepath.ToSlash(rel)+"\x00"+l)
			}
		}
	}
	if len(plain) < 2 {
		t.Fatalf("examples/repo has %d plain rules; the test needs two", len(plain))
	}
	var want []string
	// 1. A rule text error: ALLOW misspelt.
	file1, line1, _ := strings.Cut(plain[0], "\x00")
	broken := strings.Replace(line1, " ALLOW ", " ALOW ", 1)
	data := strings.Replace(read(file1), line1, broken, 1)
	writeRepoFiles(t, dir, map[string]string{file1: data})
	want = append(want, fmt.Sprintf("%s/%s:%s: error [rule-syntax]", dir, file1, lineColOf(t, data, broken[strings.Index(broken, "ALOW"):])))
	// 2. An unknown tag.
	file2, line2, _ := strings.Cut(plain[1], "\x00")
	unknown := "  rule: FROM tag nosuch TO all vms ALLOW tcp PORT 1"
	data = strings.Replace(read(file2), line2, unknown, 1)
	writeRepoFiles(t, dir, map[string]string{file2: data})
	want = append(want, fmt.Sprintf("%s/%s:%s: error [unknown-tag]", dir, file2, lineColOf(t, data, "tag nosuch")))
	// 3. A second firewall with the name of an existing one.
	m := regexp.MustCompile(`(?m)^kind: Firewall\nmetadata:\n  name: (\S+)`).FindStringSubmatch(read("firewalls/" + firstYAMLIn(t, filepath.Join(dir, "firewalls"))))
	if m == nil {
		t.Fatal("no firewall name found")
	}
	dup := "apiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: " + m[1] + "\n  uuid: 00000000-0000-4000-8000-00000000d0d0\nspec:\n  addresses: [198.19.99.99]\n  agent: {mode: pull}\n"
	writeRepoFiles(t, dir, map[string]string{"firewalls/zz-dup.yaml": dup})
	want = append(want, fmt.Sprintf("%s/firewalls/zz-dup.yaml:4:9: error [duplicate-name]", dir))
	sort.Strings(want)

	out, _, code := runValidateArgs(t, dir)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, ": error: "); i >= 0 {
			code := l[strings.LastIndex(l, " ["):]
			got = append(got, l[:i]+": error"+code)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\noutput:\n%s", diff, out)
	}
	if !strings.Contains(out, ": 3 errors, ") {
		t.Errorf("summary does not count 3 errors:\n%s", out)
	}
}

func firstYAMLIn(t *testing.T, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(names) == 0 {
		t.Fatalf("no YAML files in %s", dir)
	}
	sort.Strings(names)
	return filepath.Base(names[0])
}

func TestValidateFormats(t *testing.T) {
	dir := t.TempDir()
	files := validSmallRepo()
	files["rules/web.yaml"] = strings.Replace(ruleYAML, "tag role = web", "tag nope", 1)
	writeRepoFiles(t, dir, files)
	pos := dir + "/rules/web.yaml:7:21"

	t.Run("text", func(t *testing.T) {
		out, errOut, code := runValidateArgs(t, dir)
		want := pos + `: error: rule "r" uses tag "nope", which no Tag declares [unknown-tag]` + "\n" +
			dir + ": 3 files, 3 objects (1 firewall, 1 rule, 1 tag, 0 tests, 0 settings): 1 error, 0 warnings\n"
		if code != 1 || out != want || errOut != "" {
			t.Errorf("validate = %q, %q, exit %d; want %q, exit 1", out, errOut, code, want)
		}
	})
	t.Run("github", func(t *testing.T) {
		out, errOut, code := runValidateArgs(t, "--format", "github", dir)
		want := fmt.Sprintf("::error file=%s/rules/web.yaml,line=7,col=21,title=unknown-tag::rule \"r\" uses tag \"nope\", which no Tag declares\n", dir)
		if code != 1 || out != want || !strings.Contains(errOut, ": 1 error, 0 warnings") {
			t.Errorf("validate --format github = %q, %q, exit %d; want %q and the summary on stderr", out, errOut, code, want)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, errOut, code := runValidateArgs(t, "--format", "json", dir)
		var got diag.List
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		want := diag.List{{Pos: diag.Pos{File: dir + "/rules/web.yaml", Line: 7, Col: 21}, Severity: diag.Error,
			Code: "unknown-tag", Msg: `rule "r" uses tag "nope", which no Tag declares`}}
		if diff := cmp.Diff(want, got); diff != "" || code != 1 || !strings.Contains(errOut, "1 error") {
			t.Errorf("validate --format json: exit %d, stderr %q, diff (-want +got):\n%s", code, errOut, diff)
		}
	})
	t.Run("json clean", func(t *testing.T) {
		clean := t.TempDir()
		writeRepoFiles(t, clean, validSmallRepo())
		out, _, code := runValidateArgs(t, "--format=json", clean)
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("validate --format json on a clean repo = %q, exit %d; want [] and 0", out, code)
		}
	})
}

func TestValidateStrictAndPaths(t *testing.T) {
	dir := t.TempDir()
	files := validSmallRepo()
	files["fw/web.yaml"] = strings.Replace(fwYAML, "  agent: {mode: pull}\n", "", 1)
	// The same repository again under a subdirectory, with an error.
	files["sub/tags.yaml"] = tagsYAML
	files["sub/fw.yaml"] = strings.Replace(fwYAML, "198.18.0.1", "198.18.0.300", 1)
	files["sub/.hidden/x.yaml"] = "not: [valid"
	writeRepoFiles(t, dir, files)
	// Keep the subdirectory out of the main validation.
	root := filepath.Join(dir, "root")
	writeRepoFiles(t, root, map[string]string{"tags.yaml": files["tags.yaml"], "fw/web.yaml": files["fw/web.yaml"], "rules/web.yaml": files["rules/web.yaml"]})

	tests := []struct {
		name    string
		args    []string
		code    int
		summary string
	}{
		{"warning passes", []string{root}, 0, "0 errors, 1 warning"},
		{"strict fails on a warning", []string{"--strict", root}, 1, "0 errors, 1 warning"},
		{"path", []string{"--path", "sub", dir}, 1, "1 error, 0 warnings"},
		{"bad format", []string{"--format", "xml", root}, 2, ""},
		{"missing dir", []string{filepath.Join(dir, "nope")}, 2, ""},
		{"path outside", []string{"--path", "../x", dir}, 2, ""},
		{"two dirs", []string{root, root}, 2, ""},
		{"rev outside git", []string{"--rev", "HEAD", root}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runValidateArgs(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.summary) {
				t.Errorf("validate %v = exit %d, %q, %q; want exit %d with %q", tc.args, code, out, errOut, tc.code, tc.summary)
			}
		})
	}
	t.Run("path prefix", func(t *testing.T) {
		out, _, _ := runValidateArgs(t, "--path", "sub", dir)
		if want := dir + "/sub/fw.yaml:7:15: error: "; !strings.HasPrefix(out, want) {
			t.Errorf("validate --path sub = %q, want a line starting %q", out, want)
		}
	})
}

func TestValidateCap(t *testing.T) {
	dir := t.TempDir()
	files := validSmallRepo()
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: u%d\nspec:\n  owner: %s\n  rule: FROM any TO tag nope%d ALLOW tcp PORT 80\n", i, testOwner, i)
	}
	files["rules/more.yaml"] = b.String()
	writeRepoFiles(t, dir, files)
	out, _, code := runValidateArgs(t, "--max-diagnostics", "2", dir)
	if code != 1 || strings.Count(out, "[unknown-tag]") != 2 || !strings.Contains(out, "5 errors, 0 warnings (3 not shown)") {
		t.Errorf("validate --max-diagnostics 2 = exit %d:\n%s", code, out)
	}
}

// TestValidateRev validates commits of a real Git repository on disk.
func TestValidateRev(t *testing.T) {
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	commit := func(files map[string]string, msg string) string {
		writeRepoFiles(t, dir, files)
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "T", Email: "t@example.test", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	good := map[string]string{}
	for name, data := range validSmallRepo() {
		good["policy/"+name] = data
	}
	c1 := commit(good, "valid policy")
	c2 := commit(map[string]string{"policy/rules/web.yaml": strings.Replace(ruleYAML, "tag role = web", "tag nope", 1)}, "break it")
	// The worktree now holds a third, uncommitted state.
	writeRepoFiles(t, dir, map[string]string{"policy/rules/web.yaml": "kind: ["})

	tests := []struct {
		name    string
		args    []string
		code    int
		summary string
	}{
		{"head is broken", []string{"--rev", "HEAD", "--path", "policy", dir}, 1, "at main@sha1:" + c2},
		{"previous is valid", []string{"--rev", "HEAD~1", "--path", "policy", dir}, 0, "at sha1:" + c1},
		{"short hash", []string{"--rev", c1[:8], "--path", "policy", dir}, 0, "at sha1:" + c1},
		{"inside the worktree", []string{"--rev", "main~1", filepath.Join(dir, "policy")}, 0, filepath.Join(dir, "policy") + " at sha1:" + c1},
		{"worktree itself", []string{"--path", "policy", dir}, 1, "1 error"},
		{"unknown revision", []string{"--rev", "nope", dir}, 2, ""},
		{"path not in commit", []string{"--rev", "HEAD", "--path", "missing", dir}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runValidateArgs(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.summary) {
				t.Errorf("validate %v = exit %d, %q, %q; want exit %d with %q", tc.args, code, out, errOut, tc.code, tc.summary)
			}
		})
	}
	out, _, _ := runValidateArgs(t, "--rev", "HEAD", "--path", "policy", dir)
	if want := dir + "/policy/rules/web.yaml:7:21: error: "; !strings.HasPrefix(out, want) {
		t.Errorf("validate --rev HEAD = %q, want a line starting %q", out, want)
	}
}

func TestDevGenrepo(t *testing.T) {
	run := func(args ...string) (string, int) {
		cmd := newDevCmd()
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		switch {
		case err == nil:
			return out.String(), 0
		case isUsage(err):
			return out.String(), 2
		}
		return out.String() + err.Error(), 1
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, dir := range []string{a, b} {
		if out, code := run("genrepo", "--firewalls", "30", "--rules", "120", "--tags", "9", "--owners", "3", "--seed", "7", "--out", dir); code != 0 {
			t.Fatalf("dev genrepo: exit %d: %s", code, out)
		}
	}
	out, _, code := runValidateArgs(t, "--strict", a)
	if code != 0 || !strings.Contains(out, "(30 firewalls, 120 rules, 9 tags, 1 test, 1 settings): 0 errors, 0 warnings") {
		t.Errorf("validate of a generated repository: exit %d, %q", code, out)
	}
	// The same flags write the same bytes.
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"genrepo"}, {"genrepo", "--out", a, "--firewalls", "0"}} {
		if _, code := run(args...); code != 2 {
			t.Errorf("dev %v: exit %d, want 2", args, code)
		}
	}
}
