package status

import (
	"fmt"
	"slices"
	"sync"
)

// FakeStore is an in-memory [Store] for tests and for controllers without a
// state directory. It keeps the same history limit as [Bolt] and loses
// everything when the process ends.
type FakeStore struct {
	mu        sync.RWMutex
	firewalls map[string]Firewall
	history   map[string][]HistoryEntry
	revision  Revision
}

var _ Store = (*FakeStore)(nil)

// NewFakeStore returns an empty store.
func NewFakeStore() *FakeStore {
	return &FakeStore{firewalls: map[string]Firewall{}, history: map[string][]HistoryEntry{}}
}

// Get implements [Store].
func (s *FakeStore) Get(name string) (Firewall, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fw, ok := s.firewalls[name]
	if !ok {
		return Firewall{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return clone(fw), nil
}

// List implements [Store].
func (s *FakeStore) List() ([]Firewall, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedClones(s.firewalls), nil
}

// Put implements [Store].
func (s *FakeStore) Put(fw Firewall, h *HistoryEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firewalls[fw.Name] = clone(fw)
	if h != nil {
		hs := append(s.history[fw.Name], *h)
		if len(hs) > HistoryLimit {
			hs = slices.Clone(hs[len(hs)-HistoryLimit:])
		}
		s.history[fw.Name] = hs
	}
	return nil
}

// Delete implements [Store].
func (s *FakeStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.firewalls, name)
	delete(s.history, name)
	return nil
}

// History implements [Store].
func (s *FakeStore) History(name string, n int) ([]HistoryEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hs := s.history[name]
	var out []HistoryEntry
	for i := len(hs) - 1; i >= 0 && (n <= 0 || len(out) < n); i-- {
		out = append(out, hs[i])
	}
	return out, nil
}

// Revision implements [Store].
func (s *FakeStore) Revision() (Revision, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.revision
	r.Diagnostics = slices.Clone(r.Diagnostics)
	return r, nil
}

// SetRevision implements [Store].
func (s *FakeStore) SetRevision(r Revision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revision = r
	s.revision.Diagnostics = slices.Clone(r.Diagnostics)
	return nil
}

// Close implements [Store].
func (s *FakeStore) Close() error { return nil }
