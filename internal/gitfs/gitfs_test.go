package gitfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/gitfs"
)

// fixture is a repository on disk with three commits on main, a branch, a
// lightweight and an annotated tag.
type fixture struct {
	dir                string
	c1, c2, c3, cFeat  string
	c3Time             time.Time
	repo               *git.Repository
	wantC3, wantFeatFS map[string]string
}

// commitFiles replaces the worktree's content with files (path → content;
// content "->target" makes a symbolic link) and commits.
func commitFiles(t *testing.T, r *git.Repository, dir string, files map[string]string, msg string, when time.Time) string {
	t.Helper()
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if len(content) > 2 && content[:2] == "->" {
			if err := os.Symlink(content[2:], p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Ada Tester", Email: "ada@example.test", When: when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, repo: r}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.c1 = commitFiles(t, r, dir, map[string]string{
		"README.md":               "first\n",
		"policy/rules/web.yaml":   "kind: Rule # v1\n",
		"policy/tags/role.yaml":   "kind: Tag\n",
		"policy/old.yaml":         "gone later\n",
		"other/notes.txt":         "notes\n",
		"policy/firewalls/a.yaml": "kind: Firewall\n",
	}, "Initial policy\n\nWith a body.\n", base)
	f.c2 = commitFiles(t, r, dir, map[string]string{
		"README.md":               "second\n",
		"policy/rules/web.yaml":   "kind: Rule # v2\n",
		"policy/tags/role.yaml":   "kind: Tag\n",
		"other/notes.txt":         "notes\n",
		"policy/firewalls/a.yaml": "kind: Firewall\n",
	}, "Drop old.yaml", base.Add(time.Hour))
	if _, err := r.CreateTag("v1", plumbing.NewHash(f.c2), nil); err != nil {
		t.Fatal(err)
	}
	f.wantC3 = map[string]string{
		"README.md":                "third\n",
		"policy/rules/web.yaml":    "kind: Rule # v3\n",
		"policy/rules/db.yaml":     "kind: Rule # db\n",
		"policy/rules/deep/x.yaml": "deep\n",
		"policy/tags/role.yaml":    "kind: Tag\n",
		"policy/firewalls/a.yaml":  "kind: Firewall\n",
		"policy/link.yaml":         "->rules/web.yaml",
		"policy/dirlink":           "->rules/deep",
		"policy/escape":            "->../../outside",
		"other/notes.txt":          "notes\n",
	}
	f.c3Time = base.Add(2 * time.Hour)
	f.c3 = commitFiles(t, r, dir, f.wantC3, "Add db rules", f.c3Time)
	sig := &object.Signature{Name: "Ada Tester", Email: "ada@example.test", When: f.c3Time}
	if _, err := r.CreateTag("v2", plumbing.NewHash(f.c3), &git.CreateTagOptions{Tagger: sig, Message: "release"}); err != nil {
		t.Fatal(err)
	}
	// A feature branch one commit ahead of c2, then back to main.
	wt, _ := r.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(f.c2), Branch: plumbing.NewBranchReferenceName("feature"), Create: true}); err != nil {
		t.Fatal(err)
	}
	f.wantFeatFS = map[string]string{"policy/rules/web.yaml": "kind: Rule # feature\n"}
	f.cFeat = commitFiles(t, r, dir, f.wantFeatFS, "Feature", base.Add(3*time.Hour))
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("main")}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	r, err := gitfs.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rev                  string
		hash, branch, tag    string
		wantRev, wantSubject string
	}{
		{rev: "", hash: f.c3, branch: "main", wantRev: "main@sha1:" + f.c3, wantSubject: "Add db rules"},
		{rev: "HEAD", hash: f.c3, branch: "main", wantRev: "main@sha1:" + f.c3, wantSubject: "Add db rules"},
		{rev: "main", hash: f.c3, branch: "main", wantRev: "main@sha1:" + f.c3, wantSubject: "Add db rules"},
		{rev: "refs/heads/feature", hash: f.cFeat, branch: "feature", wantRev: "feature@sha1:" + f.cFeat, wantSubject: "Feature"},
		{rev: "feature", hash: f.cFeat, branch: "feature", wantRev: "feature@sha1:" + f.cFeat, wantSubject: "Feature"},
		{rev: "v1", hash: f.c2, tag: "v1", wantRev: "v1@sha1:" + f.c2, wantSubject: "Drop old.yaml"},
		{rev: "v2", hash: f.c3, tag: "v2", wantRev: "v2@sha1:" + f.c3, wantSubject: "Add db rules"},
		{rev: f.c1, hash: f.c1, wantRev: "sha1:" + f.c1, wantSubject: "Initial policy"},
		{rev: f.c1[:7], hash: f.c1, wantRev: "sha1:" + f.c1, wantSubject: "Initial policy"},
		{rev: "HEAD~2", hash: f.c1, wantRev: "sha1:" + f.c1, wantSubject: "Initial policy"},
		{rev: "main^", hash: f.c2, wantRev: "sha1:" + f.c2, wantSubject: "Drop old.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.rev, func(t *testing.T) {
			c, err := r.Resolve(tc.rev)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.rev, err)
			}
			got := []string{c.Hash, c.Branch, c.Tag, c.Revision(), c.Subject, c.Author}
			want := []string{tc.hash, tc.branch, tc.tag, tc.wantRev, tc.wantSubject, "Ada Tester <ada@example.test>"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tc.rev, diff)
			}
		})
	}
	for _, bad := range []string{"nope", "0000000", "v9", "HEAD~10"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			if _, err := r.Resolve(bad); !errors.Is(err, gitfs.ErrRevisionNotFound) {
				t.Errorf("Resolve(%q) = %v, want ErrRevisionNotFound", bad, err)
			}
		})
	}
}

// readAll walks fsys and returns every regular file's content, following
// symbolic links the way os.DirFS does (contents of the target).
func readAll(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if d.Type() == fs.ModeSymlink {
			fi, err := fs.Stat(fsys, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				got[p] = "<dangling>"
				return nil
			case err != nil:
				return err
			case fi.IsDir():
				got[p] = "<dirlink>"
				return nil
			}
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if d.Type() == fs.ModeSymlink {
			got[p] = "link:" + string(data)
		} else {
			got[p] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFSContents(t *testing.T) {
	f := newFixture(t)
	bareDir := filepath.Join(t.TempDir(), "bare.git")
	if _, err := git.PlainClone(bareDir, true, &git.CloneOptions{URL: f.dir, Tags: git.AllTags}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f.dir, bareDir} {
		r, err := gitfs.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, rev, sub string
			want           map[string]string
		}{
			{name: "first", rev: f.c1, sub: "policy", want: map[string]string{
				"rules/web.yaml":   "kind: Rule # v1\n",
				"tags/role.yaml":   "kind: Tag\n",
				"old.yaml":         "gone later\n",
				"firewalls/a.yaml": "kind: Firewall\n",
			}},
			{name: "tag", rev: "v1", sub: "policy/rules", want: map[string]string{"web.yaml": "kind: Rule # v2\n"}},
			{name: "head", rev: "HEAD", sub: ".", want: map[string]string{
				"README.md":                "third\n",
				"policy/rules/web.yaml":    "kind: Rule # v3\n",
				"policy/rules/db.yaml":     "kind: Rule # db\n",
				"policy/rules/deep/x.yaml": "deep\n",
				"policy/tags/role.yaml":    "kind: Tag\n",
				"policy/firewalls/a.yaml":  "kind: Firewall\n",
				"policy/link.yaml":         "link:kind: Rule # v3\n",
				"policy/dirlink":           "<dirlink>",
				"policy/escape":            "<dangling>",
				"other/notes.txt":          "notes\n",
			}},
		}
		if dir == f.dir {
			tests = append(tests, struct {
				name, rev, sub string
				want           map[string]string
			}{name: "branch", rev: "feature", sub: "", want: f.wantFeatFS})
		}
		for _, tc := range tests {
			t.Run(filepath.Base(dir)+"/"+tc.name, func(t *testing.T) {
				fsys, c, err := r.SubFS(tc.rev, tc.sub)
				if err != nil {
					t.Fatal(err)
				}
				got := readAll(t, fsys)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("SubFS(%q, %q) files (-want +got):\n%s", tc.rev, tc.sub, diff)
				}
				fi, err := fs.Stat(fsys, ".")
				if err != nil || !fi.IsDir() || !fi.ModTime().Equal(c.Time) {
					t.Errorf("Stat(.) = %v, %v; want a directory with time %v", fi, err, c.Time)
				}
			})
		}
	}
}

func TestFSFollowsLinks(t *testing.T) {
	f := newFixture(t)
	r, err := gitfs.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	fsys, _, err := r.FS("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	data, err := fsys.ReadFile("policy/dirlink/x.yaml")
	if err != nil || string(data) != "deep\n" {
		t.Errorf("ReadFile(policy/dirlink/x.yaml) = %q, %v; want %q", data, err, "deep\n")
	}
	des, err := fsys.ReadDir("policy/dirlink")
	if err != nil || len(des) != 1 || des[0].Name() != "x.yaml" {
		t.Errorf("ReadDir(policy/dirlink) = %v, %v; want [x.yaml]", des, err)
	}
	if _, err := fsys.Open("policy/escape"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(policy/escape) = %v, want ErrNotExist (the link leaves the tree)", err)
	}
	for _, bad := range []string{"/abs", "../x", "a//b", "policy/"} {
		if _, err := fsys.Open(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := fsys.ReadFile("policy"); err == nil {
		t.Error("ReadFile(policy) succeeded on a directory")
	}
	if _, err := fsys.Stat("policy/none.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(policy/none.yaml) = %v, want ErrNotExist", err)
	}
}

// TestFSConformance runs the standard library's file system checker over a
// commit, so Open, ReadDir, Stat, Seek and ReadFile agree with each other.
func TestFSConformance(t *testing.T) {
	f := newFixture(t)
	r, err := gitfs.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	fsys, _, err := r.SubFS(f.c2, ".")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "README.md", "policy/rules/web.yaml", "policy/tags/role.yaml", "other/notes.txt"); err != nil {
		t.Fatal(err)
	}
	sub, _, err := r.SubFS("HEAD", "policy/rules")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "web.yaml", "db.yaml", "deep/x.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenInsideWorktree(t *testing.T) {
	f := newFixture(t)
	r, err := gitfs.Open(filepath.Join(f.dir, "policy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Prefix(); got != "policy" {
		t.Errorf("Prefix() = %q, want %q", got, "policy")
	}
	fsys, _, err := r.FS(f.c1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	want := []string{"firewalls/a.yaml", "old.yaml", "rules/web.yaml", "tags/role.yaml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files under policy at c1 (-want +got):\n%s", diff)
	}
	// The directory existed at c1 but policy/rules/deep did not.
	if _, _, err := r.SubFS(f.c1, "rules/deep"); !errors.Is(err, gitfs.ErrNotDir) {
		t.Errorf("SubFS(c1, rules/deep) = %v, want ErrNotDir", err)
	}
	if _, _, err := r.SubFS("HEAD", "rules/web.yaml"); !errors.Is(err, gitfs.ErrNotDir) {
		t.Errorf("SubFS(HEAD, rules/web.yaml) = %v, want ErrNotDir", err)
	}
	if _, _, err := r.SubFS("HEAD", "../../.."); !errors.Is(err, gitfs.ErrNotDir) {
		t.Errorf("SubFS(HEAD, ../../..) = %v, want ErrNotDir", err)
	}
}

func TestOpenNotRepository(t *testing.T) {
	if _, err := gitfs.Open(t.TempDir()); !errors.Is(err, gitfs.ErrNotRepository) {
		t.Errorf("Open(empty dir) = %v, want ErrNotRepository", err)
	}
	if _, err := gitfs.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open(missing dir) succeeded")
	}
}

func TestRemoteBranchRevision(t *testing.T) {
	f := newFixture(t)
	clone := t.TempDir()
	if _, err := git.PlainClone(clone, false, &git.CloneOptions{URL: f.dir}); err != nil {
		t.Fatal(err)
	}
	r, err := gitfs.Open(clone)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Resolve("origin/feature")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Revision(), "feature@sha1:"+f.cFeat; got != want {
		t.Errorf("Resolve(origin/feature).Revision() = %q, want %q", got, want)
	}
}
