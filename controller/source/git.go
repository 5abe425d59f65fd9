package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/internal/gitfs"
	"github.com/fwgit/fwgit/internal/logfield"
)

// GitOptions configure [NewGit].
type GitOptions struct {
	// URL is the remote; Branch (default "main") the branch followed.
	URL, Branch string
	// Path is the policy directory inside the repository ("" = root).
	Path string
	// Dir is where the bare clone lives (inside the state directory).
	Dir string
	// Interval is the poll interval (default 30s).
	Interval time.Duration
	// Timeout bounds every remote operation (default 60s).
	Timeout time.Duration
	// Keyring, when not empty, is an armored OpenPGP public key ring the
	// head commit's signature must verify against.
	Keyring string
	// Username and Password are HTTP basic credentials (optional).
	Username, Password config.Secret
	Log                *slog.Logger
	// Registerer receives fwgit_git_fetch_total; may be nil.
	Registerer prometheus.Registerer
}

// Git follows a branch of a remote repository.
type Git struct {
	opts    GitOptions
	trigger chan struct{}
	fetches *prometheus.CounterVec

	mu           sync.Mutex
	lastObserved string // remote head hash last fetched
}

var (
	_ Source     = (*Git)(nil)
	_ Revisioner = (*Git)(nil)
)

// NewGit returns a Git source; nothing touches the network before Run.
func NewGit(opts GitOptions) (*Git, error) {
	if opts.URL == "" || opts.Dir == "" {
		return nil, errors.New("source: git URL and clone directory are required")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Path = strings.Trim(path.Clean("/"+opts.Path), "/")
	g := &Git{
		opts:    opts,
		trigger: make(chan struct{}, 1),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwgit_git_fetch_total",
			Help: "Checks of the Git remote by result: success (fetched a new head), unchanged (head did not move, nothing fetched), error.",
		}, []string{"result"}),
	}
	for _, r := range []string{"success", "unchanged", "error"} {
		g.fetches.WithLabelValues(r)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(g.fetches); err != nil {
			return nil, fmt.Errorf("source: registering metrics: %w", err)
		}
	}
	return g, nil
}

// Trigger implements [Source].
func (g *Git) Trigger() {
	select {
	case g.trigger <- struct{}{}:
	default:
	}
}

// Run implements [Source].
func (g *Git) Run(ctx context.Context, out chan<- Snapshot) error {
	t := time.NewTicker(g.opts.Interval)
	defer t.Stop()
	for {
		snap, changed, err := g.check(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			g.fetches.WithLabelValues("error").Inc()
			g.opts.Log.Warn("git check failed", logfield.Remote, redact(g.opts.URL), logfield.Error, err)
		case !changed:
			g.fetches.WithLabelValues("unchanged").Inc()
		default:
			g.fetches.WithLabelValues("success").Inc()
			g.opts.Log.Info("new revision", logfield.Revision, snap.Revision)
			select {
			case out <- snap:
			case <-ctx.Done():
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-g.trigger:
		}
	}
}

// CheckOnce checks the remote once: it returns the new snapshot and true
// when the head moved since the last check.
func (g *Git) CheckOnce(ctx context.Context) (Snapshot, bool, error) { return g.check(ctx) }

func (g *Git) auth() transport.AuthMethod {
	if g.opts.Username.IsZero() && g.opts.Password.IsZero() {
		return nil
	}
	return &http.BasicAuth{Username: g.opts.Username.Reveal(), Password: g.opts.Password.Reveal()}
}

func (g *Git) check(ctx context.Context) (Snapshot, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	repo, err := g.open()
	if err != nil {
		return Snapshot{}, false, err
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("git remote: %w", err)
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: g.auth()})
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("listing remote refs: %w", cleanErr(err, g.opts))
	}
	want := plumbing.NewBranchReferenceName(g.opts.Branch)
	var head plumbing.Hash
	for _, r := range refs {
		if r.Name() == want {
			head = r.Hash()
		}
	}
	if head.IsZero() {
		return Snapshot{}, false, fmt.Errorf("branch %q not found on the remote", g.opts.Branch)
	}
	g.mu.Lock()
	seen := g.lastObserved == head.String()
	g.mu.Unlock()
	if seen {
		return Snapshot{}, false, nil
	}
	local := plumbing.NewRemoteReferenceName("origin", g.opts.Branch)
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec("+" + want.String() + ":" + local.String())},
		Auth:     g.auth(),
		Force:    true,
		Tags:     git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return Snapshot{}, false, fmt.Errorf("fetching: %w", cleanErr(err, g.opts))
	}
	snap, err := g.snapshot(repo, head)
	if err != nil {
		return Snapshot{}, false, err
	}
	g.mu.Lock()
	g.lastObserved = head.String()
	g.mu.Unlock()
	return snap, true, nil
}

// open opens the bare clone, creating it (or re-creating it when the
// configured URL changed).
func (g *Git) open() (*git.Repository, error) {
	repo, err := git.PlainOpen(g.opts.Dir)
	if err == nil {
		if rem, err := repo.Remote("origin"); err == nil && len(rem.Config().URLs) > 0 && rem.Config().URLs[0] == g.opts.URL {
			return repo, nil
		}
		if err := os.RemoveAll(g.opts.Dir); err != nil {
			return nil, fmt.Errorf("removing stale clone: %w", err)
		}
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("opening clone: %w", err)
	}
	if err := os.MkdirAll(g.opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating clone directory: %w", err)
	}
	repo, err = git.PlainInit(g.opts.Dir, true)
	if err != nil {
		return nil, fmt.Errorf("initialising clone: %w", err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.opts.URL}}); err != nil {
		return nil, fmt.Errorf("configuring remote: %w", err)
	}
	return repo, nil
}

// SnapshotAt implements [Revisioner] for revisions of the followed branch
// ("branch@sha1:<hash>") already present in the local clone.
func (g *Git) SnapshotAt(ctx context.Context, revision string) (Snapshot, error) {
	branch, hash, ok := strings.Cut(revision, "@sha1:")
	if !ok || branch != g.opts.Branch || !plumbing.IsHash(hash) {
		return Snapshot{}, fmt.Errorf("source: revision %q is not of branch %s", revision, g.opts.Branch)
	}
	repo, err := git.PlainOpen(g.opts.Dir)
	if err != nil {
		return Snapshot{}, fmt.Errorf("opening clone: %w", err)
	}
	snap, err := g.snapshot(repo, plumbing.NewHash(hash))
	if err != nil {
		return Snapshot{}, err
	}
	if snap.Refused != nil {
		return Snapshot{}, snap.Refused
	}
	return snap, nil
}

func (g *Git) snapshot(repo *git.Repository, head plumbing.Hash) (Snapshot, error) {
	rev := g.opts.Branch + "@sha1:" + head.String()
	c, err := repo.CommitObject(head)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading commit %s: %w", head, err)
	}
	commit := Commit{
		Hash:    head.String(),
		Branch:  g.opts.Branch,
		Subject: strings.SplitN(strings.TrimSpace(c.Message), "\n", 2)[0],
		Author:  c.Author.Name + " <" + c.Author.Email + ">",
		Time:    c.Committer.When,
	}
	snap := Snapshot{Revision: rev, Commit: commit}
	if g.opts.Keyring != "" {
		if strings.TrimSpace(c.PGPSignature) == "" {
			snap.Refused = fmt.Errorf("%w: %s", ErrUnsigned, head)
			return snap, nil
		}
		if _, err := c.Verify(g.opts.Keyring); err != nil {
			snap.Refused = &SignatureError{Hash: head.String(), Err: err}
			return snap, nil
		}
	}
	gr, err := gitfs.Open(g.opts.Dir)
	if err != nil {
		return Snapshot{}, fmt.Errorf("opening clone: %w", err)
	}
	sub := g.opts.Path
	if sub == "" {
		sub = "."
	}
	fsys, _, err := gr.SubFS(head.String(), sub)
	if err != nil {
		if errors.Is(err, gitfs.ErrNotDir) {
			snap.Refused = fmt.Errorf("source: path %q is not a directory in commit %s", g.opts.Path, head)
			return snap, nil
		}
		return Snapshot{}, fmt.Errorf("reading commit %s: %w", head, err)
	}
	snap.FS = fsys
	return snap, nil
}

// cleanErr keeps credentials out of errors: go-git errors may quote the URL.
func cleanErr(err error, o GitOptions) error {
	msg := err.Error()
	clean := strings.ReplaceAll(msg, o.URL, redact(o.URL))
	if !o.Password.IsZero() {
		clean = strings.ReplaceAll(clean, o.Password.Reveal(), "REDACTED")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// redact removes user information from a URL for logs.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && (strings.Index(rest, "/") < 0 || at < strings.Index(rest, "/")) {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}
