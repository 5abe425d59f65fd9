package controllertest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a real Git repository on disk, on branch main.
type Repo struct {
	// Dir is the repository's work tree.
	Dir string
	// Author is the name commits are made under (default "Ada").
	Author string

	t    testing.TB
	repo *git.Repository
}

// NewRepo creates an empty repository in a temporary directory of t.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Dir: dir, Author: "Ada", t: t, repo: r}
}

// Commit writes files (path relative to the work tree: content; empty
// content removes the file), commits every change with message msg and
// returns the commit's hash.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, content := range files {
		full := filepath.Join(r.Dir, name)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if content == "" {
			if err := os.Remove(full); err == nil {
				wt.Remove(name)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: r.Author, Email: "ada@example.com", When: time.Now()}})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}
