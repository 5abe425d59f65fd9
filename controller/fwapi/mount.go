package fwapi

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
)

// revisionRecord is what the controller's view also offers: the revision
// record, which tells a failed first load from one still under way (/ping
// reports "offline" rather than "initializing", §4).
type revisionRecord interface {
	Store() status.Store
}

// Mount returns the [api.Mount] that serves the FWAPI endpoints on the
// controller's API listener from its current good revision. history reads
// the repository for the version field; nil (a plain directory) gives the
// directory form of §10.
func Mount(cfg Config, history func() (History, error), log *slog.Logger) api.Mount {
	return func(mux *http.ServeMux, view api.PolicyView) {
		s := New(cfg, log)
		f := &follower{s: s, view: view, history: history, log: log}
		s.current = f.snapshot
		s.Register(mux)
	}
}

// follower turns the controller's current policy into a [Snapshot] the
// first time a request needs it after a change, computing rule versions
// incrementally.
type follower struct {
	s       *Server
	view    api.PolicyView
	history func() (History, error)
	log     *slog.Logger

	mu       sync.Mutex
	policy   *api.Policy
	snap     *Snapshot
	versions Versions
}

func (f *follower) snapshot() *Snapshot {
	p := f.view.Policy()
	if p == nil {
		if rr, ok := f.view.(revisionRecord); ok {
			if rev, err := rr.Store().Revision(); err == nil && rev.Current != "" && !rev.Valid {
				f.s.LoadFailed()
			}
		}
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == f.policy {
		return f.snap
	}
	commit := p.Commit.Hash
	var versions map[string]string
	if commit != "" && f.history != nil {
		// Opened anew for each revision: an opened repository does not see
		// the pack files a later fetch adds.
		if h, err := f.history(); err != nil {
			f.log.Warn("fwapi: opening history for rule versions", "error", err)
		} else if versions, err = f.versions.Compute(h, commit); err != nil {
			f.log.Warn("fwapi: computing rule versions", "error", err)
		}
	}
	f.policy, f.snap = p, NewSnapshot(p.Inventory, commit, versions)
	f.s.Publish(f.snap)
	return f.snap
}
