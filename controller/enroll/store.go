package enroll

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fwgit/fwgit/internal/agentapi"
)

// DBFileName is the token database in the controller's state directory.
const DBFileName = "enroll.db"

// Limits of a token.
const (
	// DefaultTTL is how long a token is valid unless told otherwise.
	DefaultTTL = time.Hour
	// MaxTTL bounds a token's life: enrollment tokens are meant to be
	// short-lived.
	MaxTTL = 30 * 24 * time.Hour
	// MaxUses bounds how many agents one token may enroll.
	MaxUses = 10000
	// pruneAfter is how long a token stays listed after it expired, was
	// used up or revoked.
	pruneAfter = 7 * 24 * time.Hour
)

var bucketTokens = []byte("tokens")

// Sentinel errors of [Store].
var (
	// ErrNotFound reports an unknown token id.
	ErrNotFound = errors.New("enroll: no such token")
	// ErrInvalidToken is matched by every refused redemption
	// ([*TokenError]).
	ErrInvalidToken = errors.New("enroll: invalid enrollment token")
)

// TokenError says why a redemption was refused. Reason is for the log; the
// client only learns [ErrInvalidToken].
type TokenError struct {
	ID     string
	Reason string
}

func (e *TokenError) Error() string { return "enrollment token " + e.ID + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidToken) hold.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Token is the controller's record of an enrollment token. It holds no
// secret: the hash of the secret is kept by the store alone.
type Token struct {
	ID        string    `json:"id"`
	Firewall  string    `json:"firewall"`
	URL       string    `json:"url,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Uses is how many enrollments the token allows; Used how many it
	// made.
	Uses      int       `json:"uses"`
	Used      int       `json:"used"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	LastUsed  time.Time `json:"lastUsed,omitzero"`
}

// Token states, as [Token.State] names them.
const (
	StateActive  = "active"
	StateExpired = "expired"
	StateUsedUp  = "used"
	StateRevoked = "revoked"
)

// Remaining returns how many enrollments the token still allows.
func (t Token) Remaining() int { return max(t.Uses-t.Used, 0) }

// State returns the token's state at now: revoked, expired, used or
// active, in that order of precedence.
func (t Token) State(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return StateRevoked
	case !now.Before(t.ExpiresAt):
		return StateExpired
	case t.Remaining() == 0:
		return StateUsedUp
	}
	return StateActive
}

// record is a token as stored: the public fields and the secret's hash.
type record struct {
	Token
	Hash []byte `json:"hash"`
}

// Options configure a [Store].
type Options struct {
	// Now defaults to time.Now.
	Now func() time.Time
	// LockTimeout bounds the wait for the database file lock held by
	// another process (default 5s).
	LockTimeout time.Duration
}

// Store keeps enrollment tokens in dir/[DBFileName]. It is safe for
// concurrent use by several goroutines and, one transaction at a time, by
// several processes.
type Store struct {
	path string
	o    Options
	mu   sync.Mutex
}

// Open returns the store in dir, creating the directory (0700) and the
// database (0600) if needed.
func Open(dir string, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	s := &Store{path: filepath.Join(dir, DBFileName), o: o}
	err := s.update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTokens)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) open() (*bolt.DB, error) {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.o.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("opening token database %s: %w", s.path, err)
	}
	return db, nil
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.open()
	if err != nil {
		return err
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing token database: %w", cerr)
	}
	return err
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.open()
	if err != nil {
		return err
	}
	err = db.View(fn)
	db.Close()
	return err
}

// NewTokenOptions describe a token to create.
type NewTokenOptions struct {
	// Firewall is the name the enrolled agent's certificate will carry.
	Firewall string
	// TTL defaults to [DefaultTTL]; at most [MaxTTL].
	TTL time.Duration
	// Uses defaults to 1; at most [MaxUses].
	Uses int
	// URL is the controller's agent-facing URL put into the token.
	URL string
	// CAFingerprint is the CA pin put into the token.
	CAFingerprint string
}

// Create makes a token: a random id and a random secret of
// agentapi.MinTokenSecret bytes, of which only the SHA-256 is stored. It
// returns the record and the encoded token, the one place the secret
// exists. Tokens that ended over a week ago are pruned on the way.
func (s *Store) Create(o NewTokenOptions) (Token, agentapi.EnrollToken, error) {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Uses == 0 {
		o.Uses = 1
	}
	switch {
	case o.TTL < 0 || o.TTL > MaxTTL:
		return Token{}, agentapi.EnrollToken{}, fmt.Errorf("token lifetime %v is not between 0 and %v", o.TTL, MaxTTL)
	case o.Uses < 0 || o.Uses > MaxUses:
		return Token{}, agentapi.EnrollToken{}, fmt.Errorf("token uses %d is not between 1 and %d", o.Uses, MaxUses)
	}
	idb := make([]byte, 10)
	secret := make([]byte, agentapi.MinTokenSecret)
	if _, err := rand.Read(idb); err != nil {
		return Token{}, agentapi.EnrollToken{}, fmt.Errorf("reading random bytes: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return Token{}, agentapi.EnrollToken{}, fmt.Errorf("reading random bytes: %w", err)
	}
	now := s.o.Now().UTC().Truncate(time.Second)
	hash := sha256.Sum256(secret)
	rec := record{Token: Token{
		ID:        strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(idb)),
		Firewall:  o.Firewall,
		URL:       o.URL,
		CreatedAt: now,
		ExpiresAt: now.Add(o.TTL),
		Uses:      o.Uses,
	}, Hash: hash[:]}
	et := agentapi.EnrollToken{
		URL:           o.URL,
		CAFingerprint: o.CAFingerprint,
		Firewall:      o.Firewall,
		ID:            rec.ID,
		Secret:        base64.RawURLEncoding.EncodeToString(secret),
		Expires:       rec.ExpiresAt.Unix(),
	}
	if err := et.Validate(); err != nil {
		return Token{}, agentapi.EnrollToken{}, err
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if err := prune(b, now); err != nil {
			return err
		}
		return put(b, rec)
	})
	if err != nil {
		return Token{}, agentapi.EnrollToken{}, err
	}
	return rec.Token, et, nil
}

func put(b *bolt.Bucket, rec record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(rec.ID), v)
}

func get(b *bolt.Bucket, id string) (record, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return record{}, ErrNotFound
	}
	var rec record
	if err := json.Unmarshal(v, &rec); err != nil {
		return record{}, fmt.Errorf("decoding token %s: %w", id, err)
	}
	return rec, nil
}

// prune deletes tokens that ended (expired, used up or revoked) more than
// pruneAfter before now.
func prune(b *bolt.Bucket, now time.Time) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var rec record
		if json.Unmarshal(v, &rec) != nil {
			return nil
		}
		end := rec.ExpiresAt
		if !rec.RevokedAt.IsZero() && rec.RevokedAt.Before(end) {
			end = rec.RevokedAt
		}
		if rec.Remaining() == 0 && !rec.LastUsed.IsZero() && rec.LastUsed.Before(end) {
			end = rec.LastUsed
		}
		if now.Sub(end) > pruneAfter {
			old = append(old, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// List returns every token, oldest first.
func (s *Store) List() ([]Token, error) {
	var out []Token
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decoding token %s: %w", k, err)
			}
			out = append(out, rec.Token)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// Revoke ends token id at once; [ErrNotFound] when there is none.
// Revoking a revoked token changes nothing.
func (s *Store) Revoke(id string) (Token, error) {
	var tok Token
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		rec, err := get(b, id)
		if err != nil {
			return err
		}
		if rec.RevokedAt.IsZero() {
			rec.RevokedAt = s.o.Now().UTC()
			if err := put(b, rec); err != nil {
				return err
			}
		}
		tok = rec.Token
		return nil
	})
	return tok, err
}

// Redeem checks secret against token id and, when the token is active,
// consumes one use in the same transaction. Any refusal is a
// [*TokenError] (matching [ErrInvalidToken]) whose reason is for the log
// only. The hash comparison takes constant time.
func (s *Store) Redeem(id string, secret []byte) (Token, error) {
	var tok Token
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		rec, err := get(b, id)
		if errors.Is(err, ErrNotFound) {
			return &TokenError{ID: id, Reason: "unknown"}
		}
		if err != nil {
			return err
		}
		got := sha256.Sum256(secret)
		if subtle.ConstantTimeCompare(got[:], rec.Hash) != 1 {
			return &TokenError{ID: id, Reason: "wrong secret"}
		}
		now := s.o.Now().UTC()
		if st := rec.State(now); st != StateActive {
			return &TokenError{ID: id, Reason: st}
		}
		rec.Used++
		rec.LastUsed = now
		if err := put(b, rec); err != nil {
			return err
		}
		tok = rec.Token
		return nil
	})
	return tok, err
}
