package fwapi

import (
	"fmt"
	"path"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fwgit/fwgit/internal/gitfs"
)

// GitHistory reads the first-parent history of a repository on disk for
// [Versions]: each commit's policy tree at sub (a path inside the
// repository; "" for the top) and its tree hash.
type GitHistory struct {
	repo *git.Repository
	fsys *gitfs.Repo
	sub  string
}

// NewGitHistory opens the repository at dir (bare or not).
func NewGitHistory(dir, sub string) (*GitHistory, error) {
	r, err := git.PlainOpen(dir) // a bare clone, or the top of a worktree
	if err != nil {
		r, err = git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	g, err := gitfs.Open(dir)
	if err != nil {
		return nil, err
	}
	if sub == "" {
		sub = "."
	}
	return &GitHistory{repo: r, fsys: g, sub: path.Clean(sub)}, nil
}

// Commit implements [History].
func (h *GitHistory) Commit(hash string) (Commit, error) {
	c, err := h.repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return Commit{}, fmt.Errorf("reading commit %s: %w", hash, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return Commit{}, fmt.Errorf("reading tree of %s: %w", hash, err)
	}
	treeHash := tree.Hash.String()
	if h.sub != "." {
		e, err := tree.FindEntry(h.sub)
		if err != nil {
			treeHash = "" // no policy directory in this commit
		} else {
			treeHash = e.Hash.String()
		}
	}
	out := Commit{Hash: c.Hash.String(), Tree: treeHash, Time: c.Committer.When}
	if c.NumParents() > 0 {
		out.Parent = c.ParentHashes[0].String()
		if _, err := h.repo.CommitObject(c.ParentHashes[0]); err != nil {
			out.Parent = "" // shallow boundary
		}
	}
	if treeHash == "" {
		out.FS = emptyFS{}
		out.Tree = "empty"
		return out, nil
	}
	fsys, _, err := h.fsys.SubFS(out.Hash, h.sub)
	if err != nil {
		return Commit{}, err
	}
	out.FS = fsys
	return out, nil
}

var _ History = (*GitHistory)(nil)
