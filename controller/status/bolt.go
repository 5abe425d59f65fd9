package status

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketFirewalls = []byte("firewalls")
	bucketHistory   = []byte("history")
	bucketMeta      = []byte("meta")
	keyRevision     = []byte("revision")
)

// Bolt is a [Store] in a bbolt file. Firewall status is also kept in memory,
// so reads never touch the disk; writes go to disk first, batched across
// concurrent callers, then to memory. A write that changes nothing is
// skipped.
type Bolt struct {
	db *bolt.DB

	mu       sync.RWMutex
	cache    map[string]Firewall
	raw      map[string][]byte
	revision Revision
}

var _ Store = (*Bolt)(nil)

// Open opens (or creates) the database at path. Only one process may hold
// it; a second Open waits up to 5 seconds and then fails.
func Open(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening status database: %w", err)
	}
	b := &Bolt{db: db, cache: map[string]Firewall{}, raw: map[string][]byte{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketFirewalls, bucketHistory, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keyRevision); v != nil {
			if err := json.Unmarshal(v, &b.revision); err != nil {
				return fmt.Errorf("decoding revision: %w", err)
			}
		}
		return tx.Bucket(bucketFirewalls).ForEach(func(k, v []byte) error {
			var fw Firewall
			if err := json.Unmarshal(v, &fw); err != nil {
				return fmt.Errorf("decoding firewall %q: %w", k, err)
			}
			b.cache[string(k)] = fw
			b.raw[string(k)] = slices.Clone(v)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading status database: %w", err)
	}
	return b, nil
}

// Get implements [Store].
func (b *Bolt) Get(name string) (Firewall, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	fw, ok := b.cache[name]
	if !ok {
		return Firewall{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return clone(fw), nil
}

// List implements [Store].
func (b *Bolt) List() ([]Firewall, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return sortedClones(b.cache), nil
}

// Put implements [Store].
func (b *Bolt) Put(fw Firewall, h *HistoryEntry) error {
	v, err := json.Marshal(fw)
	if err != nil {
		return fmt.Errorf("encoding firewall: %w", err)
	}
	b.mu.RLock()
	same := bytes.Equal(b.raw[fw.Name], v)
	b.mu.RUnlock()
	if same && h == nil {
		return nil
	}
	var hv []byte
	if h != nil {
		if hv, err = json.Marshal(h); err != nil {
			return fmt.Errorf("encoding history: %w", err)
		}
	}
	err = b.db.Batch(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketFirewalls).Put([]byte(fw.Name), v); err != nil {
			return err
		}
		if hv == nil {
			return nil
		}
		hb, err := tx.Bucket(bucketHistory).CreateBucketIfNotExists([]byte(fw.Name))
		if err != nil {
			return err
		}
		seq, err := hb.NextSequence()
		if err != nil {
			return err
		}
		if err := hb.Put(binary.BigEndian.AppendUint64(nil, seq), hv); err != nil {
			return err
		}
		// Trim to the newest HistoryLimit entries.
		for n := hb.Stats().KeyN + 1; n > HistoryLimit; n-- {
			c := hb.Cursor()
			k, _ := c.First()
			if k == nil {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing status of %s: %w", fw.Name, err)
	}
	b.mu.Lock()
	b.cache[fw.Name] = clone(fw)
	b.raw[fw.Name] = v
	b.mu.Unlock()
	return nil
}

// Delete implements [Store].
func (b *Bolt) Delete(name string) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketFirewalls).Delete([]byte(name)); err != nil {
			return err
		}
		if tx.Bucket(bucketHistory).Bucket([]byte(name)) != nil {
			return tx.Bucket(bucketHistory).DeleteBucket([]byte(name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting status of %s: %w", name, err)
	}
	b.mu.Lock()
	delete(b.cache, name)
	delete(b.raw, name)
	b.mu.Unlock()
	return nil
}

// History implements [Store].
func (b *Bolt) History(name string, n int) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := b.db.View(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHistory).Bucket([]byte(name))
		if hb == nil {
			return nil
		}
		c := hb.Cursor()
		for k, v := c.Last(); k != nil && (n <= 0 || len(out) < n); k, v = c.Prev() {
			var e HistoryEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding history of %s: %w", name, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Revision implements [Store].
func (b *Bolt) Revision() (Revision, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r := b.revision
	r.Diagnostics = slices.Clone(r.Diagnostics)
	return r, nil
}

// SetRevision implements [Store].
func (b *Bolt) SetRevision(r Revision) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding revision: %w", err)
	}
	if err := b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyRevision, v) }); err != nil {
		return fmt.Errorf("writing revision: %w", err)
	}
	b.mu.Lock()
	b.revision = r
	b.revision.Diagnostics = slices.Clone(r.Diagnostics)
	b.mu.Unlock()
	return nil
}

// Close implements [Store].
func (b *Bolt) Close() error { return b.db.Close() }

func clone(fw Firewall) Firewall {
	fw.Conditions = slices.Clone(fw.Conditions)
	if fw.Drift != nil {
		d := *fw.Drift
		fw.Drift = &d
	}
	return fw
}

func sortedClones(m map[string]Firewall) []Firewall {
	out := make([]Firewall, 0, len(m))
	for _, fw := range m {
		out = append(out, clone(fw))
	}
	slices.SortFunc(out, func(a, b Firewall) int { return strings.Compare(a.Name, b.Name) })
	return out
}
