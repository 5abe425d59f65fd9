package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is the lab's policy repository: a bare repository the controller
// follows (file://) and a working clone commits are made in.
type Repo struct {
	// Bare is the bare repository; Work the working clone.
	Bare, Work string
	home       string
}

func newRepo(ctx context.Context, dir, policy string) (*Repo, error) {
	r := &Repo{Bare: filepath.Join(dir, "policy.git"), Work: filepath.Join(dir, "work"), home: filepath.Join(dir, "home")}
	if err := os.MkdirAll(r.home, 0o700); err != nil {
		return nil, err
	}
	if _, err := r.git(ctx, dir, "init", "-q", "--bare", "-b", "main", r.Bare); err != nil {
		return nil, err
	}
	if _, err := r.git(ctx, dir, "init", "-q", "-b", "main", r.Work); err != nil {
		return nil, err
	}
	if _, err := r.git(ctx, r.Work, "remote", "add", "origin", r.Bare); err != nil {
		return nil, err
	}
	if err := os.CopyFS(r.Work, os.DirFS(policy)); err != nil {
		return nil, fmt.Errorf("copying %s: %w", policy, err)
	}
	if _, err := r.Commit(ctx, "Import "+filepath.Base(policy), nil); err != nil {
		return nil, err
	}
	return r, nil
}

// git runs git in dir with a configuration of its own (no user or system
// files) and returns its output.
func (r *Repo) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+r.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Lab Operator", "GIT_AUTHOR_EMAIL=operator@lab.invalid",
		"GIT_COMMITTER_NAME=Lab Operator", "GIT_COMMITTER_EMAIL=operator@lab.invalid")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Commit runs edit on the working clone (nil: no edit), commits every
// change with msg, pushes it to the bare repository, and returns the
// commit's hash.
func (r *Repo) Commit(ctx context.Context, msg string, edit func(work string) error) (string, error) {
	h, err := r.CommitLocal(ctx, msg, edit)
	if err != nil {
		return "", err
	}
	return h, r.PushMain(ctx)
}

// CommitLocal is [Repo.Commit] without the push: the commit exists only
// in the working clone, as in a pull request's branch.
func (r *Repo) CommitLocal(ctx context.Context, msg string, edit func(work string) error) (string, error) {
	if edit != nil {
		if err := edit(r.Work); err != nil {
			return "", err
		}
	}
	if _, err := r.git(ctx, r.Work, "add", "-A", "."); err != nil {
		return "", err
	}
	if _, err := r.git(ctx, r.Work, "commit", "-q", "--allow-empty", "-m", msg); err != nil {
		return "", err
	}
	return r.Head(ctx)
}

// PushMain pushes the working clone's main to the bare repository.
func (r *Repo) PushMain(ctx context.Context) error {
	_, err := r.git(ctx, r.Work, "push", "-q", "origin", "main")
	return err
}

// Git runs git with args in the working clone and returns its output.
func (r *Repo) Git(ctx context.Context, args ...string) (string, error) {
	return r.git(ctx, r.Work, args...)
}

// Head returns the hash of the working clone's HEAD.
func (r *Repo) Head(ctx context.Context) (string, error) {
	out, err := r.git(ctx, r.Work, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// Revision returns the controller's name for a commit: main@sha1:<hash>.
func Revision(hash string) string { return "main@sha1:" + hash }

// FS returns the working clone's files (the policy as last committed, as
// long as the caller commits every edit).
func (r *Repo) FS() fs.FS { return os.DirFS(r.Work) }

// Replace returns an edit that replaces old with new in the file at path
// (relative to the repository), which must hold old exactly once.
func Replace(path, old, new string) func(work string) error {
	return func(work string) error {
		p := filepath.Join(work, filepath.FromSlash(path))
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if n := strings.Count(string(b), old); n != 1 {
			return fmt.Errorf("%s holds %q %d times, want once", path, old, n)
		}
		return os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
}

// WriteFile returns an edit that writes a file (relative to the
// repository).
func WriteFile(path, content string) func(work string) error {
	return func(work string) error {
		p := filepath.Join(work, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
}

// RemoveFile returns an edit that deletes a file (relative to the
// repository).
func RemoveFile(path string) func(work string) error {
	return func(work string) error { return os.Remove(filepath.Join(work, filepath.FromSlash(path))) }
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
