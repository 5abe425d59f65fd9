package safety

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/internal/nft"
)

// fakeKernel is a transactional in-memory Applier for these tests: an apply
// replaces the whole table or, on error, changes nothing. It records every
// ruleset it was given and how many applies ever overlapped.
type fakeKernel struct {
	mu          sync.Mutex
	table       *nft.Ruleset // nil: no table
	applied     []*nft.Ruleset
	fail        error         // returned by every Apply while set
	unknown     bool          // commit, then answer ErrUnknownOutcome once
	readErr     error         // returned by Read while set
	block       chan struct{} // Apply waits for it to close
	entered     chan struct{} // receives once per Apply that started
	inFlight    int
	maxInFlight int
	foreign     []dataplane.ForeignChain
}

var _ dataplane.Applier = (*fakeKernel)(nil)

func clone(rs *nft.Ruleset) *nft.Ruleset {
	b, err := json.Marshal(rs)
	if err != nil {
		panic(err)
	}
	var out nft.Ruleset
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

func (k *fakeKernel) Apply(ctx context.Context, rs *nft.Ruleset) error {
	k.mu.Lock()
	k.inFlight++
	k.maxInFlight = max(k.maxInFlight, k.inFlight)
	block, entered := k.block, k.entered
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.inFlight--
		k.mu.Unlock()
	}()
	if entered != nil {
		entered <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.applied = append(k.applied, clone(rs))
	if k.fail != nil {
		return k.fail
	}
	if rs.Empty() {
		k.table = nil
	} else {
		k.table = clone(rs)
	}
	if k.unknown {
		k.unknown = false
		return dataplane.ErrUnknownOutcome
	}
	return nil
}

func (k *fakeKernel) Read(context.Context) (*nft.Ruleset, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.readErr != nil {
		return nil, k.readErr
	}
	if k.table == nil {
		return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}, nil
	}
	return clone(k.table), nil
}

func (k *fakeKernel) ForeignChains(context.Context) ([]dataplane.ForeignChain, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.foreign, nil
}

// applies returns how many transactions reached the kernel.
func (k *fakeKernel) applies() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.applied)
}

// current returns a copy of the table, or nil when there is none.
func (k *fakeKernel) current() *nft.Ruleset {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.table == nil {
		return nil
	}
	return clone(k.table)
}

func (k *fakeKernel) set(rs *nft.Ruleset) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.table = rs
}

func mustJSON(t interface{ Fatal(...any) }, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
