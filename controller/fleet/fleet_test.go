package fleet_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/controller/fleet/fleettest"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

const key = "test-api-key-0123456789"

func ruleset(policy nft.Verdict) *nft.Ruleset {
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Priority: 0, Policy: policy},
	}}
}

func request(gen uint64, rs *nft.Ruleset, confirmMS int64) *agentapi.RulesetRequest {
	return &agentapi.RulesetRequest{Version: agentapi.Version, Generation: gen, Digest: rs.Digest(), Revision: "main@sha1:abc", ConfirmTimeoutMS: confirmMS, Ruleset: rs}
}

func startAgent(t *testing.T) *fleettest.Agent {
	t.Helper()
	a, err := fleettest.Start(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func newClient() *fleet.HTTPS {
	return fleet.NewHTTPS(fleet.HTTPSOptions{Timeout: 2 * time.Second, RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
}

func TestHTTPSRoundTrip(t *testing.T) {
	a := startAgent(t)
	c := newClient()
	tg := fleet.Target{Name: "web-1", URL: a.URL, Fingerprint: a.Fingerprint, APIKey: config.NewSecret(key)}
	ctx := context.Background()
	st, err := c.State(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Digest != "" || st.Generation != 0 {
		t.Fatalf("fresh agent state = %+v, want empty", st)
	}
	rs := ruleset(nft.Drop)
	res, err := c.Apply(ctx, tg, request(1, rs, 30000))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.PendingConfirm == nil || res.PendingConfirm.Generation != 1 {
		t.Fatalf("Apply() = %+v, want changed with pending confirm for generation 1", res)
	}
	connsBefore := a.Conns()
	if err := c.Confirm(ctx, tg, 1); err != nil {
		t.Fatal(err)
	}
	if a.Conns() != connsBefore+1 {
		t.Errorf("Confirm used %d new connections, want exactly 1 (a fresh one)", a.Conns()-connsBefore)
	}
	st, err = c.State(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Digest != rs.Digest() || st.PendingConfirm != nil || st.Generation != 1 {
		t.Errorf("State() after confirm = %+v, want digest %s, generation 1, nothing pending", st, rs.Digest())
	}
	// Re-applying the running digest is no kernel work.
	res, err = c.Apply(ctx, tg, request(2, rs, 0))
	if err != nil || res.Changed {
		t.Errorf("re-apply = %+v, %v; want unchanged", res, err)
	}
	if a.Applies() != 1 {
		t.Errorf("agent applies = %d, want 1", a.Applies())
	}
}

func TestHTTPSTrust(t *testing.T) {
	a := startAgent(t)
	other := startAgent(t)
	ownCA := x509.NewCertPool()
	ownCA.AddCert(a.Cert)
	otherCA := x509.NewCertPool()
	otherCA.AddCert(other.Cert)
	tests := []struct {
		name     string
		target   fleet.Target
		wantErr  error
		wantFP   bool
		wantConn bool
	}{
		{name: "pinned", target: fleet.Target{Fingerprint: a.Fingerprint}, wantConn: true},
		{name: "wrong pin fails closed", target: fleet.Target{Fingerprint: other.Fingerprint}, wantErr: fleet.ErrUnreachable, wantFP: true, wantConn: true},
		{name: "pin wins over a CA", target: fleet.Target{Fingerprint: other.Fingerprint, RootCAs: ownCA}, wantErr: fleet.ErrUnreachable, wantFP: true, wantConn: true},
		{name: "own CA", target: fleet.Target{RootCAs: ownCA}, wantConn: true},
		{name: "other CA", target: fleet.Target{RootCAs: otherCA}, wantErr: fleet.ErrUnreachable, wantConn: true},
		{name: "neither pin nor CA", target: fleet.Target{}, wantErr: fleet.ErrNoTrust},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conns, states := a.Conns(), a.Requests("state")
			tg := tc.target
			tg.Name, tg.URL, tg.APIKey = "web-1", a.URL, config.NewSecret(key)
			_, err := newClient().State(context.Background(), tg)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("State() error = %v", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("State() error = %v, want %v", err, tc.wantErr)
			}
			var fe *fleet.FingerprintError
			if got := errors.As(err, &fe); got != tc.wantFP {
				t.Errorf("errors.As(FingerprintError) = %v, want %v (err %v)", got, tc.wantFP, err)
			}
			if got := a.Conns() > conns; got != tc.wantConn {
				t.Errorf("connected = %v, want %v", got, tc.wantConn)
			}
			if tc.wantErr != nil && a.Requests("state") != states {
				t.Errorf("agent answered a request although verification failed: the API key was sent")
			}
			if strings.Contains(errString(err), key) {
				t.Errorf("error leaks the API key: %v", err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestHTTPSErrors(t *testing.T) {
	a := startAgent(t)
	c := newClient()
	ctx := context.Background()
	good := fleet.Target{Name: "web-1", URL: a.URL, Fingerprint: a.Fingerprint, APIKey: config.NewSecret(key)}

	t.Run("wrong key", func(t *testing.T) {
		tg := good
		tg.APIKey = config.NewSecret("nope")
		_, err := c.State(ctx, tg)
		var ae *fleet.AgentError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("State() error = %v, want a 401 AgentError", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		tg := good
		tg.APIKey = config.Secret{}
		if _, err := c.State(ctx, tg); !errors.Is(err, fleet.ErrNoAPIKey) {
			t.Fatalf("State() error = %v, want ErrNoAPIKey", err)
		}
	})
	t.Run("digest mismatch refused", func(t *testing.T) {
		req := request(1, ruleset(nft.Drop), 0)
		req.Digest = ruleset(nft.Accept).Digest()
		_, err := c.Apply(ctx, good, req)
		var ae *fleet.AgentError
		if !errors.As(err, &ae) || ae.Code != "DigestMismatch" {
			t.Fatalf("Apply() error = %v, want DigestMismatch", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		a.Down()
		defer a.Up()
		start := time.Now()
		_, err := c.State(ctx, good)
		if !errors.Is(err, fleet.ErrUnreachable) {
			t.Fatalf("State() error = %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("State() on a down agent took %v, want bounded by the timeout", d)
		}
	})
}

func TestHTTPSRetriesAndLimits(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky/api/v1/state":
			if calls.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{"generation":4,"digest":"sha256:00"}`))
		case "/huge/api/v1/state":
			w.Write([]byte(`{"lastError":"` + strings.Repeat("x", 2<<20) + `"}`))
		case "/broken/api/v1/state":
			calls.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	fp := fleet.Fingerprint(srv.Certificate().Raw)
	c := newClient()
	tg := func(prefix string) fleet.Target {
		return fleet.Target{Name: "x", URL: srv.URL + prefix, Fingerprint: fp, APIKey: config.NewSecret(key)}
	}
	st, err := c.State(context.Background(), tg("/flaky"))
	if err != nil {
		t.Fatalf("State() with two transient failures = %v, want success after retries", err)
	}
	if diff := cmp.Diff(&agentapi.State{Generation: 4, Digest: "sha256:00"}, st); diff != "" {
		t.Errorf("State() (-want +got):\n%s", diff)
	}
	_, err = c.State(context.Background(), tg("/huge"))
	var ae *fleet.AgentError
	if !errors.As(err, &ae) || ae.Code != "ResponseTooLarge" {
		t.Errorf("State() of a 2 MiB answer = %v, want ResponseTooLarge", err)
	}
	calls.Store(0)
	_, err = c.State(context.Background(), tg("/broken"))
	if !errors.As(err, &ae) || ae.Status != 500 {
		t.Errorf("State() of a broken agent = %v, want a 500 AgentError", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("broken agent saw %d attempts, want 3 (1 + 2 retries, bounded)", n)
	}
}

func TestFakeAgentCommitConfirm(t *testing.T) {
	a := fleet.NewFakeAgent()
	var fire func()
	a.AfterFunc = func(d time.Duration, f func()) func() bool {
		fire = f
		return func() bool { fire = nil; return true }
	}
	v1, v2 := ruleset(nft.Accept), ruleset(nft.Drop)
	if _, err := a.Apply(request(1, v1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(request(2, v2, 1000)); err != nil {
		t.Fatal(err)
	}
	if a.State().PendingConfirm == nil || fire == nil {
		t.Fatal("no pending confirm after apply with a confirm timeout")
	}
	fire() // the deadline passes
	st := a.State()
	if st.Digest != v1.Digest() || st.RolledBack == nil || st.RolledBack.Generation != 2 || st.PendingConfirm != nil {
		t.Fatalf("after the deadline: state = %+v, want v1 back with RolledBack generation 2", st)
	}
	// A confirm that comes too late is refused.
	var ae *fleet.AgentError
	if err := a.Confirm(2); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("late Confirm() = %v, want 409", err)
	}
	// Stale generations are refused, the running digest is not.
	if _, err := a.Apply(request(0, v2, 0)); !errors.As(err, &ae) || ae.Code != "StaleGeneration" {
		t.Errorf("Apply(stale generation) = %v, want StaleGeneration", err)
	}
	// A failed apply leaves the running ruleset.
	a.FailNextApply("netlink: ENOBUFS")
	if _, err := a.Apply(request(3, v2, 0)); err == nil {
		t.Fatal("Apply() after FailNextApply succeeded")
	}
	if a.State().Digest != v1.Digest() {
		t.Errorf("failed apply changed the running digest")
	}
}
