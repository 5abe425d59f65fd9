package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// checkingApplier records every ruleset that reaches the kernel that does
// not validate.
type checkingApplier struct {
	*dataplane.FakeApplier
	mu      sync.Mutex
	invalid []error
}

func (c *checkingApplier) Apply(ctx context.Context, rs *nft.Ruleset) error {
	if err := rs.Validate(); err != nil {
		c.mu.Lock()
		c.invalid = append(c.invalid, err)
		c.mu.Unlock()
	}
	return c.FakeApplier.Apply(ctx, rs)
}

// FuzzPutRuleset feeds arbitrary bodies to PUT /api/v1/ruleset through the
// whole handler chain and a real safety.Guard: the handler never panics
// (which would show as a recovered 500 InternalError), answers only with
// the documented statuses, and nothing invalid ever reaches the applier.
func FuzzPutRuleset(f *testing.F) {
	valid := func(gen uint64, rs *nft.Ruleset, confirm int64) []byte {
		b, _ := json.Marshal(&agentapi.RulesetRequest{Version: 1, Generation: gen, Digest: rs.Digest(), ConfirmTimeoutMS: confirm, Ruleset: rs})
		return b
	}
	withSet := policy(443)
	withSet.Sets = []nft.Set{{Name: nft.SetName(nft.SetIPv4, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}), Type: nft.SetIPv4, Elements: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}}}
	withSet.Chains[0].Rules = append(withSet.Chains[0].Rules, nft.Rule{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: withSet.Sets[0].Name}, Verdict: nft.Accept})
	for _, seed := range [][]byte{
		valid(1, policy(80), 0),
		valid(2, withSet, 0),
		valid(3, policy(22), 1000),
		valid(4, &nft.Ruleset{Version: 1, Table: "fwgit"}, 0),
		[]byte(strings.Replace(string(valid(5, policy(80), 0)), `"lo":80`, `"lo":0`, 1)),
		[]byte(`{"version":1,"generation":1,"digest":"sha256:00","ruleset":{"version":1,"table":"fwgit","chains":[{"name":"input","hook":"input","policy":"drop","rules":[{"src":{"set":"nope"},"family":"ipv4","verdict":"accept"}]}]}}`),
		[]byte(`{"version":2}`),
		[]byte(`{"version":1,"ruleset":{"version":7}}`),
		[]byte(`{"version":1,"ruleset":null}`),
		[]byte(`[`),
		[]byte(``),
	} {
		f.Add(seed)
	}

	kernel := &checkingApplier{FakeApplier: dataplane.NewFakeApplier(nft.DefaultTable)}
	store, err := safety.OpenStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	guard := safety.NewGuard(safety.Options{Applier: kernel, Store: store, Table: nft.DefaultTable, Clock: safety.NewFakeClock(t0), Log: log,
		Failsafe: safety.Failsafe{APIPort: 33033, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	f.Cleanup(guard.Close)
	h := New(Config{APIKey: testKey, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Table: nft.DefaultTable, RulesetLimit: 1 << 20}, guard, log).Handler()

	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPut, "/api/v1/ruleset", bytes.NewReader(body))
		r.Header.Set(agentapi.HeaderAPIKey, testKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e agentapi.Error
		json.Unmarshal(w.Body.Bytes(), &e)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("PUT /ruleset = %d %s", w.Code, w.Body)
		}
		if w.Code == http.StatusBadRequest && e.Code == "" {
			t.Fatalf("400 without an error code: %s", w.Body)
		}
		kernel.mu.Lock()
		defer kernel.mu.Unlock()
		if len(kernel.invalid) > 0 {
			t.Fatalf("an invalid ruleset reached the applier: %v (body %q)", kernel.invalid[0], body)
		}
	})
}
