package fwapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/fwrule"
	"github.com/fwgit/fwgit/schema/load"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// fingerprint is a rule object without its version (spec/fwapi.md §10): the
// fields whose change gives the rule a new version, in §2.3 key order.
type fingerprint struct {
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	Global      *bool  `json:"global,omitempty"`
	Log         bool   `json:"log"`
	OwnerUUID   string `json:"owner_uuid,omitempty"`
	Rule        string `json:"rule"`
	UUID        string `json:"uuid"`
}

// key is the fingerprint's compact JSON as JavaScript's JSON.stringify
// writes it, keys in §2.3 order: unlike encoding/json it escapes neither
// HTML characters nor U+2028 and U+2029. DirVersion hashes these bytes.
func (f fingerprint) key() string {
	var b strings.Builder
	b.WriteByte('{')
	if f.Description != "" {
		b.WriteString(`"description":` + jsQuote(f.Description) + ",")
	}
	b.WriteString(`"enabled":` + strconv.FormatBool(f.Enabled))
	if f.Global != nil && *f.Global {
		b.WriteString(`,"global":true`)
	}
	b.WriteString(`,"log":` + strconv.FormatBool(f.Log))
	if f.OwnerUUID != "" {
		b.WriteString(`,"owner_uuid":` + jsQuote(f.OwnerUUID))
	}
	b.WriteString(`,"rule":` + jsQuote(f.Rule) + `,"uuid":` + jsQuote(f.UUID) + "}")
	return b.String()
}

// jsQuote writes s as a JSON string the way JSON.stringify does.
func jsQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func newFingerprint(uuid, text, owner string, global, enabled, log bool, desc string) fingerprint {
	fp := fingerprint{Description: desc, Enabled: enabled, Log: log, OwnerUUID: owner, Rule: text, UUID: uuid}
	if global {
		t := true
		fp.Global, fp.OwnerUUID = &t, ""
	}
	return fp
}

func (s *Snapshot) fingerprint(r *model.Rule) fingerprint {
	return newFingerprint(r.UUID, s.canonical(r), r.Owner, r.Global, r.Enabled, r.Log, r.Description)
}

// DirVersion is the version of a rule served from a plain directory:
// "0.<N>", N the first 6 hex digits of SHA-256 over the fingerprint, mod 10^6.
func DirVersion(fp string) string {
	sum := sha256.Sum256([]byte(fp))
	return "0." + sixDigits(hex.EncodeToString(sum[:3]))
}

// sixDigits reads six hex digits as a number and formats it mod 10^6 with
// leading zeros.
func sixDigits(hex6 string) string {
	n, _ := strconv.ParseUint(hex6, 16, 32)
	return fmt.Sprintf("%06d", n%1000000)
}

// gitVersion formats the version of a rule whose origin commit is given.
func gitVersion(hash string, t time.Time) string {
	if len(hash) < 6 {
		return fmt.Sprintf("%d.000000", t.Unix()*1000)
	}
	return fmt.Sprintf("%d.%s", t.Unix()*1000, sixDigits(hash[:6]))
}

// Fingerprints returns the fingerprint of every valid Rule document of a
// tree, by rule UUID. A rule counts when its document decodes, its text
// parses (create level, enforceSubnetMask) and it has exactly one of owner
// and global; problems elsewhere in the tree do not matter.
func Fingerprints(fsys fs.FS) map[string]string {
	repo := load.Load(fsys)
	out := map[string]string{}
	for _, o := range repo.Objects {
		if o.Rule == nil || o.ParsedRule == nil {
			continue
		}
		spec := o.Rule.Spec
		if (spec.Owner != "") == spec.Global {
			continue
		}
		p, err := fwrule.FWAPI(spec.Rule, fwrule.Options{EnforceSubnetMask: true})
		if err != nil {
			continue
		}
		id := o.Rule.Metadata.UUID
		if id == "" {
			id = v1.DeriveUUID(v1.KindRule, o.Rule.Metadata.Name)
		}
		out[id] = newFingerprint(id, p.FWAPIText(), spec.Owner, spec.Global, spec.IsEnabled(), spec.Log, spec.Description).key()
	}
	return out
}

// Commit is what the version walk needs of one commit.
type Commit struct {
	Hash string
	// Tree identifies the policy tree; commits with the same Tree share
	// fingerprints and are not loaded twice.
	Tree string
	// Time is the committer time.
	Time time.Time
	// Parent is the first parent's hash; empty at the root or at the
	// boundary of a shallow clone.
	Parent string
	// FS is the policy tree of the commit.
	FS fs.FS
}

// History reads commits of the served repository.
type History interface {
	Commit(hash string) (Commit, error)
}

// Versions computes the version field of every rule at a commit from its
// first-parent history (§10), incrementally: it remembers the previous
// answer and the fingerprints of recently seen trees. It is safe for
// concurrent use.
type Versions struct {
	mu       sync.Mutex
	byTree   map[string]map[string]string
	prevHash string
	prevFP   map[string]string
	prevVer  map[string]string
}

// maxTrees bounds the fingerprint cache.
const maxTrees = 256

// Compute returns rule UUID → version for the rules valid at head.
func (v *Versions) Compute(h History, head string) (map[string]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, err := h.Commit(head)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", head, err)
	}
	fp0 := v.fingerprints(cur)
	origin := make(map[string]Commit, len(fp0))
	versions := make(map[string]string, len(fp0))
	pending := make(map[string]bool, len(fp0))
	for id := range fp0 {
		pending[id] = true
	}
	for len(pending) > 0 && cur.Parent != "" {
		if cur.Parent == v.prevHash && v.prevFP != nil {
			for id := range pending {
				if v.prevFP[id] == fp0[id] {
					versions[id] = v.prevVer[id]
				} else {
					origin[id] = cur
				}
			}
			clear(pending)
			break
		}
		parent, err := h.Commit(cur.Parent)
		if err != nil {
			break // a shallow boundary or a missing object ends the walk
		}
		fpp := v.fingerprints(parent)
		for id := range pending {
			if fpp[id] != fp0[id] {
				origin[id] = cur
				delete(pending, id)
			}
		}
		cur = parent
	}
	for id := range pending {
		origin[id] = cur
	}
	for id, c := range origin {
		versions[id] = gitVersion(c.Hash, c.Time)
	}
	v.prevHash, v.prevFP, v.prevVer = head, fp0, versions
	return versions, nil
}

func (v *Versions) fingerprints(c Commit) map[string]string {
	if fp, ok := v.byTree[c.Tree]; ok && c.Tree != "" {
		return fp
	}
	fp := Fingerprints(c.FS)
	if c.Tree != "" {
		if v.byTree == nil || len(v.byTree) >= maxTrees {
			v.byTree = map[string]map[string]string{}
		}
		v.byTree[c.Tree] = fp
	}
	return fp
}

// emptyFS is a file system with no files: the policy tree of a commit that
// lacks the configured path.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
