package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/identity"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// setup runs `fwgit-agent init` into a temporary directory and loads the
// env file it wrote, as `fwgit-agent run` would.
func setup(t testing.TB, mode agentconfig.DriftMode) (agentconfig.Config, *identity.InitResult) {
	t.Helper()
	dir := t.TempDir()
	s := agentconfig.Default()
	s.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	s.MgmtCIDRs = []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}
	s.StateDir = filepath.Join(dir, "state")
	s.DriftMode = mode
	res, err := identity.Init(identity.InitOptions{Dir: dir, Settings: s, SkipHostSANs: true, SANs: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := agentconfig.Load(agentconfig.Sources{EnvFile: f, FileName: res.EnvFile})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, res
}

type running struct {
	t      testing.TB
	base   string
	client *http.Client
	key    string
	stop   func() error
}

// run starts the agent on a loopback listener and returns a client that
// pins its certificate by fingerprint, as the controller does.
func run(t testing.TB, cfg agentconfig.Config, res *identity.InitResult, applier dataplane.Applier, clock safety.Clock) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return runWith(t, cfg, res, Deps{Applier: applier, Clock: clock, Listener: ln}, ln.Addr().String(), nil)
}

// runWith runs the agent with deps, reached at addr, with the client
// dialling through dial when it is set.
func runWith(t testing.TB, cfg agentconfig.Config, res *identity.InitResult, deps Deps, addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *running {
	t.Helper()
	deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(cfg, deps)
	if err != nil {
		if deps.Listener != nil {
			deps.Listener.Close()
		}
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tr := &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the fingerprint pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if got := identity.Fingerprint(cs.PeerCertificates[0].Raw); got != res.Fingerprint {
				return fmt.Errorf("certificate %s, pinned %s", got, res.Fingerprint)
			}
			return nil
		},
	}}
	r := &running{t: t, base: "https://" + addr, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, key: res.APIKey.Reveal()}
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		tr.CloseIdleConnections()
		return <-done
	}
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *running) do(method, path string, body any) (int, []byte) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	req.Header.Set(agentapi.HeaderAPIKey, r.key)
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *running) state() agentapi.State {
	r.t.Helper()
	code, b := r.do(http.MethodGet, "/api/v1/state", nil)
	var st agentapi.State
	if code != http.StatusOK || json.Unmarshal(b, &st) != nil {
		r.t.Fatalf("GET /state = %d %s", code, b)
	}
	return st
}

// waitFor polls cond for up to two seconds; the agent's loops run on their
// own goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func policy(port uint16) *nft.Ruleset {
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
			{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: "rule:web"},
		}},
	}}
}

func request(gen uint64, rs *nft.Ruleset) *agentapi.RulesetRequest {
	return &agentapi.RulesetRequest{Version: agentapi.Version, Generation: gen, Digest: rs.Digest(), Ruleset: rs}
}

func TestRunServesRestoresAndStopsCleanly(t *testing.T) {
	cfg, res := setup(t, agentconfig.DriftRepair)
	kernel := dataplane.NewFakeApplier(cfg.Table)
	r := run(t, cfg, res, kernel, safety.NewFakeClock(t0))
	if code, b := r.do(http.MethodPut, "/api/v1/ruleset", request(7, policy(443))); code != http.StatusOK {
		t.Fatalf("PUT /ruleset = %d %s", code, b)
	}
	// What reached the kernel starts with the failsafe rules for the
	// configured port and addresses.
	got := kernel.Current()
	if got == nil || len(got.Chains[0].Rules) != 5 || got.Chains[0].Rules[0].Comment != safety.CommentFailsafeND ||
		got.Chains[0].Rules[1].Comment != safety.CommentFailsafeAPI || got.Chains[0].Rules[1].DPorts[0].Lo != 33033 {
		t.Fatalf("kernel input chain = %+v, want 4 failsafe rules (IPv6 ND, API v4, v6, SSH) then the rule", got)
	}
	code, b := r.do(http.MethodGet, "/api/v1/info", nil)
	var info agentapi.Info
	if code != http.StatusOK || json.Unmarshal(b, &info) != nil || info.Table != "fwgit" || info.Kernel == "" || !strings.Contains(strings.Join(info.Features, ","), "commit-confirm") {
		t.Errorf("GET /info = %d %s", code, b)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}

	// A reboot: the kernel is empty; the agent re-applies the state before
	// it answers.
	kernel2 := dataplane.NewFakeApplier(cfg.Table)
	r2 := run(t, cfg, res, kernel2, safety.NewFakeClock(t0))
	st := r2.state()
	if st.Generation != 7 || st.Digest != policy(443).Digest() {
		t.Errorf("state after restart = %+v, want generation 7", st)
	}
	if cur := kernel2.Current(); cur == nil || cur.Digest() != st.EffectiveDigest {
		t.Errorf("kernel after restart does not hold the effective ruleset %s", st.EffectiveDigest)
	}
	if err := r2.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}
	// goleak.VerifyTestMain checks that both runs left no goroutine.
}

func TestDriftLoop(t *testing.T) {
	for _, mode := range []agentconfig.DriftMode{agentconfig.DriftRepair, agentconfig.DriftReport} {
		t.Run(string(mode), func(t *testing.T) {
			cfg, res := setup(t, mode)
			kernel := dataplane.NewFakeApplier(cfg.Table)
			clock := safety.NewFakeClock(t0)
			r := run(t, cfg, res, kernel, clock)
			if code, b := r.do(http.MethodPut, "/api/v1/ruleset", request(1, policy(443))); code != http.StatusOK {
				t.Fatalf("PUT /ruleset = %d %s", code, b)
			}
			// The loop arms its timer right after Run starts.
			waitFor(t, "the drift timer", func() bool { return clock.Pending() > 0 })
			kernel.DeleteTable()
			clock.Advance(cfg.DriftInterval)
			waitFor(t, "the drift check", func() bool { return r.state().Drift != nil })
			st := r.state()
			if st.Drift.Reason != "table is missing" || st.Drift.Repaired != (mode == agentconfig.DriftRepair) {
				t.Errorf("drift = %+v, want a missing table, repaired %v", st.Drift, mode == agentconfig.DriftRepair)
			}
			if present := kernel.Current() != nil; present != (mode == agentconfig.DriftRepair) {
				t.Errorf("table present after the check = %v, want %v", present, mode == agentconfig.DriftRepair)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	cfg, _ := setup(t, agentconfig.DriftRepair)
	kernel := dataplane.NewFakeApplier("")
	bad := cfg
	bad.AllowedIPs = nil
	if _, err := New(bad, Deps{Applier: kernel}); err == nil || !strings.Contains(err.Error(), "ALLOWED_IPS") {
		t.Errorf("New(no ALLOWED_IPS) = %v, want the setting named", err)
	}
	missing := cfg
	missing.TLSCert = filepath.Join(t.TempDir(), "nope.crt")
	if _, err := New(missing, Deps{Applier: kernel}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "fwgit-agent init") {
		t.Errorf("New(missing cert) = %v, want a not-exist error that points at init", err)
	}
	if _, err := New(cfg, Deps{}); err == nil {
		t.Errorf("New without an applier = nil error")
	}
}
