package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/identity"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "test-key-0123456789-abcdefghijklmnopqrstuv"

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// syncBuffer collects log output from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// blockingApplier wraps the fake so a test can hold an apply inside the
// kernel and count overlapping transactions.
type blockingApplier struct {
	*dataplane.FakeApplier
	mu                    sync.Mutex
	block                 chan struct{}
	entered               chan struct{}
	inFlight, maxInFlight int
}

func (b *blockingApplier) Apply(ctx context.Context, rs *nft.Ruleset) error {
	b.mu.Lock()
	b.inFlight++
	b.maxInFlight = max(b.maxInFlight, b.inFlight)
	block := b.block
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	if block != nil {
		b.entered <- struct{}{}
		<-block
	}
	return b.FakeApplier.Apply(ctx, rs)
}

type env struct {
	t       *testing.T
	base    string
	client  *http.Client
	kernel  *blockingApplier
	clock   *safety.FakeClock
	guard   *safety.Guard
	logs    *syncBuffer
	handler http.Handler
	pool    *x509.CertPool
}

type opts struct {
	listen  string // default 127.0.0.1:0
	allowed []string
	backend Backend // replaces the guard when set
	ruleset int64
}

// testCert returns a fresh self-signed certificate for localhost, 127.0.0.1
// and ::1, and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var sans identity.SANs
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		sans.Add(n)
	}
	der, err := identity.SelfSigned(key, sans, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// start serves the API over real HTTPS on loopback, backed by a real
// safety.Guard over the fake kernel.
func start(t *testing.T, o opts) *env {
	t.Helper()
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	if o.allowed == nil {
		o.allowed = []string{"127.0.0.1/32", "::1/128"}
	}
	var allowed []netip.Prefix
	for _, s := range o.allowed {
		allowed = append(allowed, netip.MustParsePrefix(s))
	}
	e := &env{t: t, logs: &syncBuffer{}, clock: safety.NewFakeClock(t0)}
	e.kernel = &blockingApplier{FakeApplier: dataplane.NewFakeApplier(nft.DefaultTable)}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	store, err := safety.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.guard = safety.NewGuard(safety.Options{Applier: e.kernel, Store: store, Table: nft.DefaultTable, Clock: e.clock, Log: log,
		Failsafe: safety.Failsafe{APIPort: 33033, AllowedIPs: allowed}})
	var backend Backend = e.guard
	if o.backend != nil {
		backend = o.backend
	}
	srv := New(Config{APIKey: testKey, AllowedIPs: allowed, Table: nft.DefaultTable, RulesetLimit: o.ruleset,
		Info: agentapi.Info{Version: "test", Table: nft.DefaultTable, Features: []string{"ir-v1"}, IRVersions: []int{1}}}, backend, log)
	e.handler = srv.Handler()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", o.listen, err)
	}
	cert, pool := testCert(t)
	e.pool = pool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, cert) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
		e.guard.Close()
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	t.Cleanup(tr.CloseIdleConnections)
	e.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	e.base = "https://" + ln.Addr().String()
	return e
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) err() agentapi.Error {
	var e agentapi.Error
	json.Unmarshal(a.body, &e)
	return e
}

func (e *env) do(method, path, key string, body io.Reader) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(agentapi.HeaderAPIKey, key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return answer{resp.StatusCode, b, resp.Header}
}

func (e *env) put(req *agentapi.RulesetRequest) answer {
	e.t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPut, "/api/v1/ruleset", testKey, bytes.NewReader(b))
}

func policy(port uint16) *nft.Ruleset {
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
			{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"},
			{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: "rule:web"},
		}},
		{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept},
	}}
}

func request(gen uint64, rs *nft.Ruleset, confirm time.Duration) *agentapi.RulesetRequest {
	return &agentapi.RulesetRequest{Version: agentapi.Version, Generation: gen, Digest: rs.Digest(), ConfirmTimeoutMS: confirm.Milliseconds(), Ruleset: rs}
}

func TestAPIKey(t *testing.T) {
	e := start(t, opts{})
	tests := []struct {
		name, key  string
		wantStatus int
		wantCode   string
	}{
		{"missing", "", http.StatusUnauthorized, "Unauthorized"},
		{"wrong", "not-the-key-0123456789-abcdefghijklmnopqrst", http.StatusUnauthorized, "Unauthorized"},
		{"prefix of the key", testKey[:len(testKey)-1], http.StatusUnauthorized, "Unauthorized"},
		{"right", testKey, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodPut} {
				a := e.do(m, "/api/v1/ping", tc.key, nil)
				if a.status != tc.wantStatus || a.err().Code != tc.wantCode {
					t.Errorf("%s /ping = %d %s, want %d %q", m, a.status, a.body, tc.wantStatus, tc.wantCode)
				}
				if ct := a.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
			}
		})
	}
	a := e.do(http.MethodGet, "/api/v1/ping", testKey, nil)
	var p agentapi.Ping
	if err := json.Unmarshal(a.body, &p); err != nil || !p.OK || p.Version != "test" {
		t.Errorf("ping body %s, want ok and the version", a.body)
	}
	logs := e.logs.String()
	if strings.Contains(logs, testKey) || strings.Contains(logs, testKey[:len(testKey)-1]) {
		t.Errorf("the log holds an API key:\n%s", logs)
	}
	if !strings.Contains(logs, "bad API key") {
		t.Errorf("refusals are not logged:\n%s", logs)
	}
}

func TestAllowedIPs(t *testing.T) {
	tests := []struct {
		name, listen string
		allowed      []string
		wantStatus   int
	}{
		{"v4 allowed", "127.0.0.1:0", []string{"127.0.0.1/32"}, http.StatusOK},
		{"v4 allowed by CIDR", "127.0.0.1:0", []string{"198.18.0.0/15", "127.0.0.0/8"}, http.StatusOK},
		{"v4 excluded", "127.0.0.1:0", []string{"198.18.0.0/15", "::1/128"}, http.StatusForbidden},
		{"v6 allowed", "[::1]:0", []string{"::1/128"}, http.StatusOK},
		{"v6 allowed by CIDR", "[::1]:0", []string{"::/64"}, http.StatusOK},
		{"v6 excluded", "[::1]:0", []string{"127.0.0.1/32", "fd00::/8"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, opts{listen: tc.listen, allowed: tc.allowed})
			a := e.do(http.MethodGet, "/api/v1/state", testKey, nil)
			if a.status != tc.wantStatus {
				t.Errorf("GET /state from %s = %d %s, want %d", tc.listen, a.status, a.body, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusForbidden {
				if a.err().Code != "Forbidden" {
					t.Errorf("body %s, want code Forbidden", a.body)
				}
				// The address check comes first: no key still gets 403.
				if a := e.do(http.MethodGet, "/api/v1/state", "", nil); a.status != http.StatusForbidden {
					t.Errorf("without a key = %d, want 403 (address check first)", a.status)
				}
				// And nothing behind it runs.
				if a := e.put(request(1, policy(80), 0)); a.status != http.StatusForbidden || e.kernel.Applies() != 0 {
					t.Errorf("PUT /ruleset = %d with %d applies, want 403 and none", a.status, e.kernel.Applies())
				}
			}
		})
	}
}

func TestRemoteAddr(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"127.0.0.1:5000", "127.0.0.1"},
		{"[::ffff:198.18.0.9]:5000", "198.18.0.9"},
		{"[fe80::1%eth0]:5000", "fe80::1"},
		{"[::1]:1", "::1"},
		{"garbage", "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil)
			r.RemoteAddr = tc.remote
			if got := RemoteAddr(r).String(); got != tc.want {
				t.Errorf("RemoteAddr(%s) = %s, want %s", tc.remote, got, tc.want)
			}
		})
	}
	// A mapped address is checked as IPv4 by the handler too.
	s := New(Config{APIKey: testKey, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}}, nil, slog.New(slog.DiscardHandler))
	for remote, want := range map[string]int{"[::ffff:198.18.0.9]:1": 200, "[::ffff:198.19.0.9]:1": 403} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil)
		r.RemoteAddr = remote
		r.Header.Set(agentapi.HeaderAPIKey, testKey)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("GET /ping from %s = %d, want %d", remote, w.Code, want)
		}
	}
}

func TestBodies(t *testing.T) {
	e := start(t, opts{ruleset: 4096})
	valid, _ := json.Marshal(request(1, policy(80), 0))
	irV2 := strings.Replace(string(valid), `"ruleset":{"version":1`, `"ruleset":{"version":2,"newThing":true`, 1)
	protoV2 := strings.Replace(string(valid), `"version":1,"generation"`, `"version":2,"generation"`, 1)
	wrongDigest := strings.Replace(string(valid), `"digest":"sha256:`, `"digest":"sha256:00`, 1)
	tests := []struct {
		name, method, path string
		body               io.Reader
		wantStatus         int
		wantCode           string
	}{
		{"ruleset over the limit", http.MethodPut, "/api/v1/ruleset", bytes.NewReader(make([]byte, 4097)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"ruleset over the limit, chunked", http.MethodPut, "/api/v1/ruleset", io.MultiReader(strings.NewReader(`{"version":1,"ruleset":{"comment":"`), strings.NewReader(strings.Repeat("x", 8000))), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"confirm over 4 KiB", http.MethodPost, "/api/v1/confirm", strings.NewReader(`{"generation":1}` + strings.Repeat(" ", 4096)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"malformed JSON", http.MethodPut, "/api/v1/ruleset", strings.NewReader(`{"version":1,`), http.StatusBadRequest, "InvalidContent"},
		{"not an object", http.MethodPut, "/api/v1/ruleset", strings.NewReader(`[]`), http.StatusBadRequest, "InvalidContent"},
		{"trailing data", http.MethodPut, "/api/v1/ruleset", strings.NewReader(string(valid) + `{}`), http.StatusBadRequest, "InvalidContent"},
		{"unknown field", http.MethodPut, "/api/v1/ruleset", strings.NewReader(strings.Replace(string(valid), `{"version":1,`, `{"version":1,"force":true,`, 1)), http.StatusBadRequest, "InvalidContent"},
		{"unknown IR version", http.MethodPut, "/api/v1/ruleset", strings.NewReader(irV2), http.StatusBadRequest, "UnsupportedVersion"},
		{"unknown protocol version", http.MethodPut, "/api/v1/ruleset", strings.NewReader(protoV2), http.StatusBadRequest, "UnsupportedVersion"},
		{"wrong digest", http.MethodPut, "/api/v1/ruleset", strings.NewReader(wrongDigest), http.StatusBadRequest, "DigestMismatch"},
		{"malformed confirm", http.MethodPost, "/api/v1/confirm", strings.NewReader(`{"generation":"one"}`), http.StatusBadRequest, "InvalidContent"},
		{"wrong method", http.MethodDelete, "/api/v1/ruleset", nil, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"unknown path", http.MethodGet, "/api/v2/state", nil, http.StatusNotFound, "ResourceNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(tc.method, tc.path, testKey, tc.body)
			if a.status != tc.wantStatus || a.err().Code != tc.wantCode {
				t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, a.status, a.body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if n := e.kernel.Applies(); n != 0 {
		t.Errorf("kernel saw %d applies, want none", n)
	}
	if a := e.do(http.MethodPatch, "/api/v1/ping", testKey, nil); a.header.Get("Allow") != "GET, PUT, HEAD" {
		t.Errorf("Allow = %q, want GET, PUT, HEAD", a.header.Get("Allow"))
	}
	if a := e.do(http.MethodPut, "/api/v1/ruleset", testKey, bytes.NewReader(valid)); a.status != http.StatusOK {
		t.Errorf("valid PUT after the refusals = %d %s, want 200", a.status, a.body)
	}
}

func TestRulesetAndConfirm(t *testing.T) {
	e := start(t, opts{})
	decode := func(a answer) agentapi.ApplyResult {
		t.Helper()
		if a.status != http.StatusOK {
			t.Fatalf("PUT /ruleset = %d %s, want 200", a.status, a.body)
		}
		var r agentapi.ApplyResult
		if err := json.Unmarshal(a.body, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := decode(e.put(request(3, policy(80), 0))); !r.Changed || r.Generation != 3 {
		t.Errorf("first apply = %+v, want changed at generation 3", r)
	}
	if r := decode(e.put(request(3, policy(80), 0))); r.Changed {
		t.Errorf("same digest = %+v, want unchanged", r)
	}
	if n := e.kernel.Applies(); n != 1 {
		t.Errorf("kernel saw %d applies, want 1 (same digest does no kernel work)", n)
	}
	if a := e.put(request(2, policy(81), 0)); a.status != http.StatusConflict || a.err().Code != "StaleGeneration" {
		t.Errorf("older generation = %d %s, want 409 StaleGeneration", a.status, a.body)
	}
	e.kernel.FailNext(1, errors.New("netlink: Error: Could not process rule: No such file or directory"))
	if a := e.put(request(4, policy(82), 0)); a.status != http.StatusInternalServerError || a.err().Code != "ApplyFailed" || !strings.Contains(a.err().Message, "Could not process rule") {
		t.Errorf("failing apply = %d %s, want 500 ApplyFailed with the kernel's message", a.status, a.body)
	}

	confirm := func(gen uint64) answer {
		return e.do(http.MethodPost, "/api/v1/confirm", testKey, strings.NewReader(fmt.Sprintf(`{"generation":%d}`, gen)))
	}
	if a := confirm(3); a.status != http.StatusNotFound || a.err().Code != "NotPending" {
		t.Errorf("confirm with nothing pending = %d %s, want 404 NotPending", a.status, a.body)
	}
	r := decode(e.put(request(5, policy(83), time.Minute)))
	if r.PendingConfirm == nil || r.PendingConfirm.Generation != 5 {
		t.Fatalf("apply with confirm = %+v, want generation 5 pending", r)
	}
	if a := confirm(4); a.status != http.StatusConflict || a.err().Code != "PendingMismatch" {
		t.Errorf("confirm of another generation = %d %s, want 409 PendingMismatch", a.status, a.body)
	}
	a := confirm(5)
	var st agentapi.State
	if a.status != http.StatusOK || json.Unmarshal(a.body, &st) != nil || st.PendingConfirm != nil || st.Generation != 5 {
		t.Errorf("confirm = %d %s, want 200 with generation 5 and nothing pending", a.status, a.body)
	}
	e.clock.Advance(time.Hour)
	if got := e.kernel.Current(); got == nil || got.Chains[0].Rules[len(got.Chains[0].Rules)-1].DPorts[0].Lo != 83 {
		t.Errorf("kernel after a confirmed apply and an hour does not hold generation 5")
	}

	// GET /state and /info answer what the backend and config say.
	a = e.do(http.MethodGet, "/api/v1/state", testKey, nil)
	if err := json.Unmarshal(a.body, &st); err != nil || st.Digest != policy(83).Digest() || st.EffectiveDigest == "" || st.EffectiveDigest == st.Digest {
		t.Errorf("GET /state = %s, want the controller's digest and a distinct effective digest", a.body)
	}
	a = e.do(http.MethodGet, "/api/v1/info", testKey, nil)
	var info agentapi.Info
	if err := json.Unmarshal(a.body, &info); err != nil || info.Table != "fwgit" || !cmp.Equal(info.IRVersions, []int{1}) {
		t.Errorf("GET /info = %s", a.body)
	}
}

func TestConcurrentAppliesConflict(t *testing.T) {
	e := start(t, opts{})
	e.kernel.block = make(chan struct{})
	e.kernel.entered = make(chan struct{}, 1)
	first := make(chan answer, 1)
	go func() {
		b, _ := json.Marshal(request(1, policy(80), 0))
		req, _ := http.NewRequest(http.MethodPut, e.base+"/api/v1/ruleset", bytes.NewReader(b))
		req.Header.Set(agentapi.HeaderAPIKey, testKey)
		resp, err := e.client.Do(req)
		if err != nil {
			first <- answer{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		first <- answer{status: resp.StatusCode, body: body}
	}()
	<-e.kernel.entered
	for i := range 4 {
		a := e.put(request(uint64(2+i), policy(uint16(90+i)), 0))
		if a.status != http.StatusConflict || a.err().Code != "ApplyInProgress" || a.header.Get("Retry-After") == "" {
			t.Errorf("concurrent PUT #%d = %d %s, want 409 ApplyInProgress with Retry-After", i, a.status, a.body)
		}
	}
	// Reads are not blocked by the apply.
	if a := e.do(http.MethodGet, "/api/v1/state", testKey, nil); a.status != http.StatusOK {
		t.Errorf("GET /state during an apply = %d, want 200", a.status)
	}
	close(e.kernel.block)
	if a := <-first; a.status != http.StatusOK {
		t.Errorf("first PUT = %d %s, want 200", a.status, a.body)
	}
	if e.kernel.maxInFlight != 1 || e.kernel.Applies() != 1 {
		t.Errorf("kernel saw %d applies, %d at once; want 1 and 1", e.kernel.Applies(), e.kernel.maxInFlight)
	}
}

func TestTLSVersions(t *testing.T) {
	e := start(t, opts{})
	for _, tc := range []struct {
		name    string
		max     uint16
		wantErr bool
	}{{"TLS 1.0", tls.VersionTLS10, true}, {"TLS 1.1", tls.VersionTLS11, true}, {"TLS 1.2", tls.VersionTLS12, false}, {"TLS 1.3", tls.VersionTLS13, false}} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", strings.TrimPrefix(e.base, "https://"), &tls.Config{RootCAs: e.pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tc.max})
			if conn != nil {
				conn.Close()
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("handshake with max %s: err = %v, want error %v", tc.name, err, tc.wantErr)
			}
		})
	}
}

// panicky is a Backend whose State panics.
type panicky struct{ Backend }

func (panicky) State(context.Context) agentapi.State { panic("boom") }

func TestPanicRecovered(t *testing.T) {
	e := start(t, opts{backend: panicky{}})
	for range 2 {
		a := e.do(http.MethodGet, "/api/v1/state", testKey, nil)
		if a.status != http.StatusInternalServerError || a.err().Code != "InternalError" {
			t.Errorf("GET /state with a panicking backend = %d %s, want 500 InternalError", a.status, a.body)
		}
	}
	if a := e.do(http.MethodGet, "/api/v1/ping", testKey, nil); a.status != http.StatusOK {
		t.Errorf("ping after panics = %d, want 200", a.status)
	}
}

func TestConfigRedactsAPIKey(t *testing.T) {
	c := Config{APIKey: "very-secret-agent-key-0123456789", Table: "fwgit"}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c)
	for _, s := range []string{buf.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, c.APIKey) {
			t.Errorf("API key printed: %s", s)
		}
	}
}
