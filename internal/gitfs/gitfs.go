package gitfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNotRepository reports that a directory is not inside a Git repository.
var ErrNotRepository = errors.New("gitfs: not a git repository")

// ErrRevisionNotFound reports that a revision names no commit.
var ErrRevisionNotFound = errors.New("gitfs: revision not found")

// ErrNotDir reports that a subdirectory asked for is absent from the commit
// or is not a directory there.
var ErrNotDir = errors.New("gitfs: no such directory in commit")

// Repo is an opened repository. Its methods are safe for concurrent use; the
// file systems it returns serialise their access to the object store.
type Repo struct {
	repo *git.Repository
	// prefix is the slash-separated path of the opened directory inside the
	// worktree; "" when it is the top (or the repository is bare).
	prefix string

	mu sync.Mutex // guards every use of repo's storage
}

// Commit describes a resolved commit.
type Commit struct {
	// Hash is the full hexadecimal commit hash.
	Hash string
	// Branch is the branch the revision named (directly, or through a
	// symbolic HEAD); empty for a tag or a bare hash.
	Branch string
	// Tag is the tag the revision named; empty otherwise.
	Tag string
	// Subject is the first line of the commit message.
	Subject string
	// Author is "Name <email>".
	Author string
	// Time is the committer time.
	Time time.Time
}

// Revision returns the commit in Flux form: "main@sha1:<hash>" for a branch,
// "v1.2@sha1:<hash>" for a tag, and "sha1:<hash>" for a bare hash.
func (c Commit) Revision() string {
	name := c.Branch
	if name == "" {
		name = c.Tag
	}
	if name == "" {
		return "sha1:" + c.Hash
	}
	return name + "@sha1:" + c.Hash
}

// Open opens the repository at dir. dir may be a bare repository, the top of
// a worktree, or a directory inside a worktree; in the last case the file
// systems of [Repo.FS] are rooted at that directory (see [Repo.Prefix]).
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("gitfs: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("gitfs: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("gitfs: %s: %w", dir, ErrNotDir)
	}
	// First the directory itself, so that a bare repository nested inside
	// some other worktree is not mistaken for that worktree.
	r, err := git.PlainOpen(abs)
	if err == nil {
		return &Repo{repo: r}, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("gitfs: opening %s: %w", dir, err)
	}
	r, err = git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("gitfs: opening %s: %w", dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	}
	top, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, fmt.Errorf("gitfs: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("gitfs: %w", err)
	}
	rel, err := filepath.Rel(top, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		rel = ""
	}
	return &Repo{repo: r, prefix: rel}, nil
}

// Prefix returns the slash-separated path, inside the repository, of the
// directory given to [Open]; "" when that is the top of the repository.
func (r *Repo) Prefix() string { return r.prefix }

// Resolve resolves rev to a commit. An empty rev means HEAD.
func (r *Repo) Resolve(rev string) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, _, err := r.resolve(rev)
	return c, err
}

// FS resolves rev and returns the commit's tree at the directory given to
// [Open] as a read-only file system.
func (r *Repo) FS(rev string) (*FS, Commit, error) { return r.SubFS(rev, ".") }

// SubFS is like [Repo.FS] but rooted at dir, a slash-separated path relative
// to the directory given to [Open]. It fails with [ErrNotDir] when dir is not
// a directory in that commit.
func (r *Repo) SubFS(rev, sub string) (*FS, Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, commit, err := r.resolve(rev)
	if err != nil {
		return nil, Commit{}, err
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, Commit{}, fmt.Errorf("gitfs: reading tree of %s: %w", c.Hash, err)
	}
	f := &FS{repo: r, mtime: c.Time, trees: map[plumbing.Hash]*dir{}}
	root := f.dirFromTree(tree)
	p := path.Clean(path.Join(r.prefix, filepath.ToSlash(sub)))
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return nil, Commit{}, fmt.Errorf("%w: %s", ErrNotDir, sub)
	}
	f.root = root
	if p != "." {
		n, err := f.lookup(p, true)
		if err != nil || n.mode != filemode.Dir {
			return nil, Commit{}, fmt.Errorf("%w: %s at %s", ErrNotDir, p, c.Hash[:12])
		}
		d, err := f.loadDir(n.hash)
		if err != nil {
			return nil, Commit{}, err
		}
		f.root = d
	}
	return f, c, nil
}

// resolve finds the commit rev names and which branch or tag it went
// through. The caller holds r.mu.
func (r *Repo) resolve(rev string) (Commit, *object.Commit, error) {
	if rev == "" {
		rev = "HEAD"
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil || h == nil || h.IsZero() {
		return Commit{}, nil, fmt.Errorf("%w: %q", ErrRevisionNotFound, rev)
	}
	commit, err := r.repo.CommitObject(*h)
	if err != nil {
		return Commit{}, nil, fmt.Errorf("%w: %q", ErrRevisionNotFound, rev)
	}
	c := Commit{
		Hash:    h.String(),
		Subject: subject(commit.Message),
		Author:  fmt.Sprintf("%s <%s>", commit.Author.Name, commit.Author.Email),
		Time:    commit.Committer.When,
	}
	c.Branch, c.Tag = r.refName(rev, *h)
	return c, commit, nil
}

// refName reports the branch or tag that rev names, when it names one whose
// commit is h. It follows git's lookup order for short names.
func (r *Repo) refName(rev string, h plumbing.Hash) (branch, tag string) {
	candidates := []string{rev}
	if !strings.HasPrefix(rev, "refs/") {
		candidates = append(candidates, "refs/"+rev, "refs/tags/"+rev, "refs/heads/"+rev, "refs/remotes/"+rev)
	}
	for _, name := range candidates {
		ref, err := r.repo.Reference(plumbing.ReferenceName(name), true)
		if err != nil {
			continue
		}
		target, err := r.repo.ResolveRevision(plumbing.Revision(ref.Name().String()))
		if err != nil || *target != h {
			return "", ""
		}
		// A resolved reference carries its final name: HEAD becomes the
		// branch it points at, and stays HEAD when detached.
		full := ref.Name()
		switch {
		case full.IsBranch():
			return full.Short(), ""
		case full.IsTag():
			return "", full.Short()
		case full.IsRemote():
			// refs/remotes/origin/main names the branch main.
			s := strings.TrimPrefix(full.String(), "refs/remotes/")
			if _, b, ok := strings.Cut(s, "/"); ok {
				return b, ""
			}
		}
		return "", ""
	}
	return "", ""
}

func subject(msg string) string {
	s, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(s)
}
