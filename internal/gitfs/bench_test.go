package gitfs_test

import (
	"io/fs"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/internal/gitfs"
)

// BenchmarkReadCommit walks and reads every file of a commit holding the
// 1,000-firewall, 10,000-rule synthetic repository (1,122 files), as
// `fwgit validate --rev` and the controller do for each new revision.
func BenchmarkReadCommit(b *testing.B) {
	dir := b.TempDir()
	files := genrepo.Generate(genrepo.Options{Firewalls: 1000, Rules: 10000, Tags: 50, Owners: 4, Seed: 1})
	if err := files.WriteDir(dir); err != nil {
		b.Fatal(err)
	}
	r, err := git.PlainInit(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	wt, _ := r.Worktree()
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		b.Fatal(err)
	}
	sig := &object.Signature{Name: "b", Email: "b@example.test", When: time.Unix(0, 0)}
	if _, err := wt.Commit("generated", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		b.Fatal(err)
	}
	repo, err := gitfs.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		fsys, _, err := repo.FS("HEAD")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			_, err = fs.ReadFile(fsys, p)
			n++
			return err
		})
		if err != nil || n != len(files) {
			b.Fatalf("read %d files, want %d: %v", n, len(files), err)
		}
	}
}
