package safety

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fwgit/fwgit/agent/internal/atomicfile"
	"github.com/fwgit/fwgit/internal/agentapi"
)

// StateFileName is the file in STATE_DIR that holds the persisted state.
const StateFileName = "state.json"

// storeVersion is the format version of the state file.
const storeVersion = 1

// Record is one ruleset the agent applied: the controller's request as it
// arrived (its digest is the controller's, without the failsafe rules) and
// when it was applied.
type Record struct {
	Request   agentapi.RulesetRequest `json:"request"`
	AppliedAt time.Time               `json:"appliedAt"`
}

// Persisted is everything the agent must remember across a restart. Current
// is what runs; Previous is what a commit-confirm rollback restores (the
// last ruleset that was not awaiting confirmation), nil meaning "no table".
type Persisted struct {
	Version    int                  `json:"version"`
	Current    *Record              `json:"current,omitempty"`
	Previous   *Record              `json:"previous,omitempty"`
	Pending    *agentapi.Pending    `json:"pending,omitempty"`
	RolledBack *agentapi.RolledBack `json:"rolledBack,omitempty"`
}

// Store keeps [Persisted] in one JSON file in the state directory, replaced
// atomically on every save so that a crash leaves the old state or the new
// one.
type Store struct{ path string }

// OpenStore returns the store in dir, creating dir (mode 0700) if needed.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	return &Store{path: filepath.Join(dir, StateFileName)}, nil
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// ErrCorrupt is matched by every [*CorruptError].
var ErrCorrupt = errors.New("safety: corrupt state file")

// CorruptError reports a state file that cannot be trusted: it does not
// parse, has an unknown version, or holds a ruleset that fails validation
// or its own digest.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("corrupt state file %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Load reads the state. It returns nil and no error when there is no state
// file (a fresh agent), and a [*CorruptError] when the file cannot be
// trusted. The rulesets it returns have been checked with [CheckRequest]
// against table.
func (s *Store) Load(table string) (*Persisted, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	var p Persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, &CorruptError{Path: s.path, Err: err}
	}
	if p.Version != storeVersion {
		return nil, &CorruptError{Path: s.path, Err: fmt.Errorf("unknown format version %d", p.Version)}
	}
	for name, r := range map[string]*Record{"current": p.Current, "previous": p.Previous} {
		if r == nil {
			continue
		}
		if err := CheckRequest(&r.Request, table); err != nil {
			return nil, &CorruptError{Path: s.path, Err: fmt.Errorf("%s ruleset: %w", name, err)}
		}
	}
	if p.Pending != nil && (p.Current == nil || p.Current.Request.Generation != p.Pending.Generation) {
		return nil, &CorruptError{Path: s.path, Err: errors.New("pending confirmation for a ruleset that is not current")}
	}
	return &p, nil
}

// Save writes p atomically with mode 0600.
func (s *Store) Save(p *Persisted) error {
	p.Version = storeVersion
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, data, 0o600); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// ReadState loads the state in dir without creating anything, for
// `fwgit-agent status`. It returns nil and no error when there is none.
func ReadState(dir, table string) (*Persisted, error) {
	return (&Store{path: filepath.Join(dir, StateFileName)}).Load(table)
}
