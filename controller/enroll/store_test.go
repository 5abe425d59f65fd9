package enroll

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/internal/agentapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testFP = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) {
	c.ns.Add(int64(d))
}
func (c *clock) now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newStore(t *testing.T, c *clock) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func create(t *testing.T, s *Store, fw string, ttl time.Duration, uses int) (Token, []byte) {
	t.Helper()
	tok, et, err := s.Create(NewTokenOptions{Firewall: fw, TTL: ttl, Uses: uses, URL: "https://198.18.0.1:8443", CAFingerprint: testFP})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := agentapi.ParseEnrollToken(et.Encode())
	if err != nil {
		t.Fatalf("the encoded token does not parse: %v", err)
	}
	secret, err := parsed.SecretBytes()
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

func TestCreateAndList(t *testing.T) {
	c := newClock(t0)
	s := newStore(t, c)
	a, _ := create(t, s, "db-1", 0, 0)
	c.add(time.Second)
	b, _ := create(t, s, "web-1", 24*time.Hour, 10)
	if a.ID == b.ID {
		t.Fatalf("two tokens share id %s", a.ID)
	}
	want := []Token{
		{ID: a.ID, Firewall: "db-1", URL: "https://198.18.0.1:8443", CreatedAt: t0, ExpiresAt: t0.Add(DefaultTTL), Uses: 1},
		{ID: b.ID, Firewall: "web-1", URL: "https://198.18.0.1:8443", CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(time.Second + 24*time.Hour), Uses: 10},
	}
	got, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List() (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode = %04o, want 0600", fi.Mode().Perm())
	}
	_, et, err := s.Create(NewTokenOptions{Firewall: "x", URL: "https://198.18.0.1:8443", CAFingerprint: testFP})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := et.SecretBytes()
	if bytes.Contains(raw, []byte(et.Secret)) || bytes.Contains(raw, secret) {
		t.Error("the database holds a token secret in clear")
	}
}

func TestCreateLimits(t *testing.T) {
	s := newStore(t, newClock(t0))
	for _, o := range []NewTokenOptions{
		{Firewall: "a", TTL: MaxTTL + time.Second},
		{Firewall: "a", TTL: -time.Second},
		{Firewall: "a", Uses: MaxUses + 1},
		{Firewall: "a", Uses: -1},
		{Firewall: "", TTL: time.Hour},
		{Firewall: "a", URL: "http://insecure.example.com"},
	} {
		if o.URL == "" {
			o.URL = "https://198.18.0.1:8443"
		}
		o.CAFingerprint = testFP
		if _, _, err := s.Create(o); err == nil {
			t.Errorf("Create(%+v) = nil error, want a refusal", o)
		}
	}
}

func TestRedeem(t *testing.T) {
	c := newClock(t0)
	s := newStore(t, c)
	once, onceSecret := create(t, s, "db-1", time.Hour, 1)
	twice, twiceSecret := create(t, s, "db-2", time.Hour, 2)
	short, shortSecret := create(t, s, "db-3", time.Minute, 5)
	revoked, revokedSecret := create(t, s, "db-4", time.Hour, 5)
	if _, err := s.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrong := append([]byte(nil), onceSecret...)
	wrong[0] ^= 1

	steps := []struct {
		name    string
		advance time.Duration
		id      string
		secret  []byte
		reason  string // "" means accepted
	}{
		{name: "wrong secret", id: once.ID, secret: wrong, reason: "wrong secret"},
		{name: "unknown id", id: "zzzzzzzzzzzzzzzz", secret: onceSecret, reason: "unknown"},
		{name: "one use", id: once.ID, secret: onceSecret},
		{name: "reused past its count", id: once.ID, secret: onceSecret, reason: StateUsedUp},
		{name: "two uses, first", id: twice.ID, secret: twiceSecret},
		{name: "two uses, second", id: twice.ID, secret: twiceSecret},
		{name: "two uses, third", id: twice.ID, secret: twiceSecret, reason: StateUsedUp},
		{name: "revoked", id: revoked.ID, secret: revokedSecret, reason: StateRevoked},
		{name: "before expiry", id: short.ID, secret: shortSecret},
		{name: "expired", advance: time.Minute, id: short.ID, secret: shortSecret, reason: StateExpired},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c.add(st.advance)
			tok, err := s.Redeem(st.id, st.secret)
			if st.reason == "" {
				if err != nil {
					t.Fatalf("Redeem = %v, want success", err)
				}
				if tok.ID != st.id {
					t.Errorf("Redeem returned token %s, want %s", tok.ID, st.id)
				}
				return
			}
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Redeem = %v, want a *TokenError matching ErrInvalidToken", err)
			}
			if te.Reason != st.reason {
				t.Errorf("refusal reason = %q, want %q", te.Reason, st.reason)
			}
		})
	}
	if _, err := s.Revoke("zzzzzzzzzzzzzzzz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
}

// TestRedeemConcurrent redeems a two-use token from many goroutines and
// two Store values on the same file (as the controller and the CLI are):
// exactly two succeed.
func TestRedeemConcurrent(t *testing.T) {
	dir := t.TempDir()
	c := newClock(t0)
	s1, err := Open(dir, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	tok, secret := create(t, s1, "db-1", time.Hour, 2)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			_, err := s.Redeem(tok.ID, secret)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ErrInvalidToken):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != 2 {
		t.Errorf("%d redemptions of a two-use token succeeded, want 2", got)
	}
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Used != 2 || list[0].Remaining() != 0 || list[0].State(c.now()) != StateUsedUp {
		t.Errorf("after the race: %+v, want one token used twice", list)
	}
}

func TestPrune(t *testing.T) {
	c := newClock(t0)
	s := newStore(t, c)
	old, _ := create(t, s, "old", time.Hour, 1)
	c.add(time.Hour + pruneAfter + time.Second)
	fresh, _ := create(t, s, "fresh", time.Hour, 1)
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	if diff := cmp.Diff([]string{fresh.ID}, ids); diff != "" {
		t.Errorf("after pruning %s (-want +got):\n%s", old.ID, diff)
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode = %04o, want 0700", fi.Mode().Perm())
	}
}
