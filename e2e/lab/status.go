package lab

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/load"
)

// Push commits an edit to the policy repository and calls the webhook so
// the controller fetches at once. It returns the commit's hash.
func (l *Lab) Push(ctx context.Context, msg string, edit func(work string) error) (string, error) {
	hash, err := l.Repo.Commit(ctx, msg, edit)
	if err != nil {
		return "", err
	}
	return hash, l.API.Webhook(ctx)
}

// Converged counts the lab's firewalls that the controller reports Ready
// on commit's revision, running the desired digest.
func (l *Lab) Converged(st *api.StatusResponse, commit string) (done int) {
	rev := Revision(commit)
	if st.Revision.LastGood != rev {
		return 0
	}
	byName := map[string]api.FirewallStatus{}
	for _, f := range st.Firewalls {
		byName[f.Name] = f
	}
	for _, fw := range l.Firewalls {
		f, ok := byName[fw.Name]
		if ok && f.Condition == "Ready" && f.DesiredRevision == rev && f.DesiredDigest != "" && f.AppliedDigest == f.DesiredDigest {
			done++
		}
	}
	return done
}

// WaitConverged polls /v1/status until every firewall is Ready on
// commit's revision, calling progress (if not nil) after every poll. It
// returns the last status seen.
func (l *Lab) WaitConverged(ctx context.Context, commit string, progress func(st *api.StatusResponse, done int)) (*api.StatusResponse, error) {
	var last *api.StatusResponse
	err := Poll(ctx, 100*time.Millisecond, func() (bool, error) {
		if p := l.Controller(); p != nil && p.Exited() {
			return false, fmt.Errorf("controller exited: %v\n%s", p.Err(), p.LogTail(20))
		}
		st, err := l.API.Status(ctx)
		if err != nil {
			return false, nil // the controller may be restarting
		}
		last = st
		n := l.Converged(st, commit)
		if progress != nil {
			progress(st, n)
		}
		return n == len(l.Firewalls), nil
	})
	if err != nil {
		return last, fmt.Errorf("waiting for %d firewalls to converge on %s: %w", len(l.Firewalls), Revision(commit), err)
	}
	return last, nil
}

// Desired loads, validates and compiles the policy in fsys as the
// controller does, for tests that check the controller's work against an
// independent compile.
func Desired(fsys fs.FS) (*model.Inventory, map[string]*nft.Ruleset, error) {
	repo := load.Load(fsys)
	inv, diags := model.Build(repo)
	diags = append(repo.Diags, diags...)
	if inv == nil || diags.HasErrors() {
		return nil, nil, fmt.Errorf("policy not valid: %d errors", diags.Errors())
	}
	return inv, compile.All(inv), nil
}

// Digests returns the digest of every ruleset, with an empty ruleset's for
// a firewall that compiles to none.
func Digests(inv *model.Inventory, rs map[string]*nft.Ruleset) map[string]string {
	out := map[string]string{}
	for _, fw := range inv.Firewalls {
		r := rs[fw.Name]
		if r == nil {
			r = compile.Empty()
		}
		out[fw.Name] = r.Digest()
	}
	return out
}
