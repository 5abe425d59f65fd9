package dataplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fwgit/fwgit/internal/nft"
)

// ErrInjected is the error a [FakeApplier] returns for an injected failure
// when the test gave none.
var ErrInjected = errors.New("dataplane: injected failure")

// FakeApplier is an in-memory [Applier] that behaves like the kernel: an
// apply validates the ruleset and then either replaces the whole table or
// changes nothing. Tests can make the next applies fail, make them report
// [ErrUnknownOutcome] after committing (the lost ENOBUFS reply), and
// simulate drift by editing, deleting or adding foreign objects to the
// stored table. It is safe for concurrent use. The zero value is not
// ready; use [NewFakeApplier].
type FakeApplier struct {
	mu      sync.Mutex
	table   string
	current *nft.Ruleset // nil: no table
	digest  string       // what Apply recorded in the table
	foreign bool         // the table holds something the IR cannot express

	applies, commits int
	failNext         int
	failErr          error
	unknownNext      int
	readFailNext     int
	readErr          error
	foreignChains    []ForeignChain
}

// NewFakeApplier returns a fake that owns the table named table
// ([nft.DefaultTable] when empty) and starts with no table.
func NewFakeApplier(table string) *FakeApplier {
	if table == "" {
		table = nft.DefaultTable
	}
	return &FakeApplier{table: table}
}

// Apply validates rs and replaces the stored table with a copy of it, or
// deletes it when rs is empty. On any error nothing changes, except for an
// injected unknown outcome, which commits and then reports
// [ErrUnknownOutcome].
func (f *FakeApplier) Apply(ctx context.Context, rs *nft.Ruleset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if f.failNext > 0 {
		f.failNext--
		return fmt.Errorf("dataplane: fake apply: %w", f.failErr)
	}
	if err := checkRuleset(rs, f.table); err != nil {
		return err
	}
	f.commits++
	f.foreign = false
	if rs.Empty() {
		f.current, f.digest = nil, ""
	} else {
		f.current, f.digest = cloneRuleset(rs), rs.Digest()
	}
	if f.unknownNext > 0 {
		f.unknownNext--
		return fmt.Errorf("dataplane: fake apply: %w", ErrUnknownOutcome)
	}
	return nil
}

// Read returns a copy of the stored table, an empty ruleset when there is
// none, or [ErrForeign] after [FakeApplier.AddForeign].
func (f *FakeApplier) Read(ctx context.Context) (*nft.Ruleset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readFailNext > 0 {
		f.readFailNext--
		return nil, fmt.Errorf("dataplane: fake read: %w", f.readErr)
	}
	if f.current == nil {
		return &nft.Ruleset{Version: nft.IRVersion, Table: f.table}, nil
	}
	if f.foreign {
		return nil, fmt.Errorf("dataplane: reading table %s: %w", f.table, ErrForeign)
	}
	return cloneRuleset(f.current), nil
}

// StoredDigest returns the digest recorded by the last apply, or "" when
// the table does not exist. Like the kernel's marker it survives
// [FakeApplier.Mutate] and is lost with [FakeApplier.DeleteTable].
func (f *FakeApplier) StoredDigest(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current == nil {
		return "", nil
	}
	return f.digest, nil
}

// ForeignChains returns the chains set with [FakeApplier.SetForeignChains].
func (f *FakeApplier) ForeignChains(ctx context.Context) ([]ForeignChain, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.foreignChains), nil
}

// SetForeignChains sets what [FakeApplier.ForeignChains] reports.
func (f *FakeApplier) SetForeignChains(cs []ForeignChain) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.foreignChains = slices.Clone(cs)
}

// FailNext makes the next n applies fail with err ([ErrInjected] when nil)
// and change nothing.
func (f *FakeApplier) FailNext(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext, f.failErr = n, err
}

// FailNextRead makes the next n reads fail with err ([ErrInjected] when
// nil).
func (f *FakeApplier) FailNextRead(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readFailNext, f.readErr = n, err
}

// UnknownOutcomeNext makes the next n valid applies commit and then return
// [ErrUnknownOutcome], as the kernel does when its reply is lost.
func (f *FakeApplier) UnknownOutcomeNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unknownNext = n
}

// Mutate simulates an edit of the table by someone else (drift): fn gets
// the stored ruleset and may change it; the recorded digest stays. Mutate
// does nothing when there is no table.
func (f *FakeApplier) Mutate(fn func(rs *nft.Ruleset)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current != nil {
		fn(f.current)
	}
}

// DeleteTable simulates `nft delete table inet fwgit`.
func (f *FakeApplier) DeleteTable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current, f.digest, f.foreign = nil, "", false
}

// AddForeign simulates someone adding an object the IR cannot express to
// our table (say a counter rule): Read returns [ErrForeign] until the next
// successful apply. It does nothing when there is no table.
func (f *FakeApplier) AddForeign() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.foreign = f.current != nil
}

// Current returns a copy of the stored table, or nil when there is none,
// ignoring foreign objects and injected read failures.
func (f *FakeApplier) Current() *nft.Ruleset {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current == nil {
		return nil
	}
	return cloneRuleset(f.current)
}

// Applies returns how many times Apply was called, failures included.
func (f *FakeApplier) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies
}

// Commits returns how many applies changed the table.
func (f *FakeApplier) Commits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits
}

// checkRuleset is what both appliers require before touching a table: an
// empty ruleset (delete the table) or a valid one for our table.
func checkRuleset(rs *nft.Ruleset, table string) error {
	if rs.Empty() {
		if rs != nil && rs.Table != "" && rs.Table != table {
			return fmt.Errorf("dataplane: ruleset is for table %q, this agent owns %q: %w", rs.Table, table, nft.ErrInvalid)
		}
		return nil
	}
	if err := rs.Validate(); err != nil {
		return fmt.Errorf("dataplane: %w", err)
	}
	if rs.Table != table {
		return fmt.Errorf("dataplane: ruleset is for table %q, this agent owns %q: %w", rs.Table, table, nft.ErrInvalid)
	}
	return nil
}

// cloneRuleset returns a deep copy of rs.
func cloneRuleset(rs *nft.Ruleset) *nft.Ruleset {
	out := &nft.Ruleset{Version: rs.Version, Table: rs.Table}
	if rs.Sets != nil {
		out.Sets = make([]nft.Set, len(rs.Sets))
		for i, s := range rs.Sets {
			s.Elements = slices.Clone(s.Elements)
			out.Sets[i] = s
		}
	}
	if rs.Chains != nil {
		out.Chains = make([]nft.Chain, len(rs.Chains))
		for i, c := range rs.Chains {
			rules := c.Rules
			if rules != nil {
				c.Rules = make([]nft.Rule, len(rules))
				for j := range rules {
					c.Rules[j] = cloneRule(&rules[j])
				}
			}
			out.Chains[i] = c
		}
	}
	return out
}

func cloneRule(r *nft.Rule) nft.Rule {
	c := *r
	c.Src = cloneAddr(r.Src)
	c.Dst = cloneAddr(r.Dst)
	c.DPorts = slices.Clone(r.DPorts)
	if r.ICMP != nil {
		c.ICMP = make([]nft.ICMPMatch, len(r.ICMP))
		for i, m := range r.ICMP {
			if m.Code != nil {
				code := *m.Code
				m.Code = &code
			}
			c.ICMP[i] = m
		}
	}
	return c
}

func cloneAddr(m *nft.AddrMatch) *nft.AddrMatch {
	if m == nil {
		return nil
	}
	return &nft.AddrMatch{Set: m.Set, Prefixes: slices.Clone(m.Prefixes)}
}

// Compile-time guards.
var (
	_ Applier      = (*FakeApplier)(nil)
	_ DigestReader = (*FakeApplier)(nil)
)
