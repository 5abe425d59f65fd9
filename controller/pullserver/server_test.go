package pullserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/controller/reconcile"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// policy is an in-memory desired state, as the controller's DesiredFunc
// gives it.
type policy struct {
	mu  sync.Mutex
	fws map[string]*reconcile.Desired
}

func ruleset(port uint16) *nft.Ruleset {
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
			{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept},
		}},
	}}
}

func (p *policy) set(name, mode string, port uint16) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fws == nil {
		p.fws = map[string]*reconcile.Desired{}
	}
	rs := ruleset(port)
	d := &reconcile.Desired{Name: name, Revision: "main@sha1:" + strconv.Itoa(int(port)), Ruleset: rs, Digest: rs.Digest(),
		Agent: &v1.Agent{Mode: mode}}
	p.fws[name] = d
	return d.Digest
}

func (p *policy) desired(name string) (*reconcile.Desired, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.fws[name]
	if !ok {
		return nil, reconcile.ErrGone
	}
	return d, nil
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

type fixture struct {
	ca      *ca.CA
	srv     *Server
	url     string
	policy  *policy
	reports chan string
}

// start runs a server on a loopback port until the test ends.
func start(t testing.TB, o Options) *fixture {
	t.Helper()
	f := &fixture{policy: &policy{}, reports: make(chan string, 1000)}
	var err error
	if f.ca, err = ca.LoadOrCreate(t.TempDir(), time.Now()); err != nil {
		t.Fatal(err)
	}
	o.CA, o.Desired = f.ca, f.policy.desired
	o.OnReport = func(name string) { f.reports <- name }
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if f.srv, err = New(o); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return f
}

// clientCert signs a client certificate for name with authority.
func clientCert(t testing.TB, authority *ca.CA, name string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	csr, err := ca.CheckCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	cder, err := authority.SignClient(csr, name, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cder}, PrivateKey: key}
}

// client returns an HTTPS client that trusts f's CA and presents certs.
func (f *fixture) client(t testing.TB, certs ...tls.Certificate) *http.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: f.ca.Pool(), ServerName: agentapi.ControllerServerName}
	if len(certs) > 0 {
		// Present the certificate even when the server's list of
		// acceptable CAs does not hold its issuer (Go's client would
		// otherwise send none), so the server's own check is tested.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 4, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

type answer struct {
	code int
	etag string
	req  agentapi.RulesetRequest
	err  agentapi.Error
}

func get(t testing.TB, c *http.Client, url, etag string, gen uint64) (answer, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", strconv.Quote(etag))
	}
	req.Header.Set(agentapi.HeaderGeneration, strconv.FormatUint(gen, 10))
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, etag: resp.Header.Get("ETag")}
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusOK:
		err = json.Unmarshal(body, &a.req)
	case resp.StatusCode >= 400:
		err = json.Unmarshal(body, &a.err)
	}
	return a, err
}

func TestDesired(t *testing.T) {
	f := start(t, Options{Wait: 200 * time.Millisecond, ConfirmTimeout: 30 * time.Second})
	d1 := f.policy.set("db-1", v1.AgentPull, 5432)
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	url := f.url + agentapi.DesiredPath("db-1")

	t.Run("digest differs: at once", func(t *testing.T) {
		a, err := get(t, c, url, "sha256:old", 6)
		if err != nil {
			t.Fatal(err)
		}
		want := agentapi.RulesetRequest{Version: agentapi.Version, Generation: 7, Digest: d1, Revision: "main@sha1:5432",
			ConfirmTimeoutMS: 30000, Ruleset: ruleset(5432)}
		if a.code != http.StatusOK || a.etag != strconv.Quote(d1) {
			t.Fatalf("GET = %d ETag %s, want 200 ETag %q", a.code, a.etag, d1)
		}
		if diff := cmp.Diff(want, a.req); diff != "" {
			t.Errorf("desired (-want +got):\n%s", diff)
		}
	})
	t.Run("no digest yet", func(t *testing.T) {
		a, err := get(t, c, url, "", 0)
		if err != nil || a.code != http.StatusOK || a.req.Generation != 1 {
			t.Fatalf("GET = %d gen %d, %v; want 200 generation 1", a.code, a.req.Generation, err)
		}
	})
	t.Run("same digest: 304 after the wait", func(t *testing.T) {
		a, err := get(t, c, url, d1, 7)
		if err != nil || a.code != http.StatusNotModified || a.etag != strconv.Quote(d1) {
			t.Fatalf("GET = %d ETag %s, %v; want 304 ETag %q", a.code, a.etag, err, d1)
		}
	})
	t.Run("bad generation header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set(agentapi.HeaderGeneration, "-1")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET = %d, want 400", resp.StatusCode)
		}
	})
}

func TestDesiredWakesOnPublish(t *testing.T) {
	// A wait far longer than the test: only a publish can make the poll
	// answer 200.
	f := start(t, Options{Wait: time.Minute})
	d1 := f.policy.set("db-1", v1.AgentPull, 1)
	f.policy.set("web-1", v1.AgentPull, 2)
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	got := make(chan answer, 1)
	go func() {
		a, err := get(t, c, f.url+agentapi.DesiredPath("db-1"), d1, 1)
		if err != nil {
			t.Error(err)
		}
		got <- a
	}()
	waitFor(t, func() bool { return f.srv.notify.waiting("db-1") })
	// Another firewall's publish, and a publish without a change, do
	// not answer the poll.
	f.srv.Publish("web-1")
	f.srv.Publish("db-1")
	waitFor(t, func() bool { return f.srv.notify.waiting("db-1") })
	select {
	case a := <-got:
		t.Fatalf("poll answered %d without a change", a.code)
	default:
	}
	d2 := f.policy.set("db-1", v1.AgentPull, 3)
	f.srv.Publish("db-1")
	a := <-got
	if a.code != http.StatusOK || a.req.Digest != d2 || a.req.Generation != 2 {
		t.Fatalf("woken poll = %d %s gen %d, want 200 %s gen 2", a.code, a.req.Digest, a.req.Generation, d2)
	}
}

func TestDesiredWakesOnPolicyChange(t *testing.T) {
	var mu sync.Mutex
	changed := make(chan struct{})
	f := start(t, Options{Wait: time.Minute, Changed: func() <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		return changed
	}})
	d1 := f.policy.set("db-1", v1.AgentPull, 1)
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	got := make(chan answer, 1)
	go func() {
		a, _ := get(t, c, f.url+agentapi.DesiredPath("db-1"), d1, 1)
		got <- a
	}()
	waitFor(t, func() bool { return f.srv.notify.waiting("db-1") })
	d2 := f.policy.set("db-1", v1.AgentPull, 2)
	mu.Lock()
	close(changed)
	changed = make(chan struct{})
	mu.Unlock()
	if a := <-got; a.code != http.StatusOK || a.req.Digest != d2 {
		t.Fatalf("poll after a policy change = %d %s, want 200 %s", a.code, a.req.Digest, d2)
	}
}

// waitFor polls cond in a bounded loop.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 10s")
}

func TestAccess(t *testing.T) {
	f := start(t, Options{Wait: 50 * time.Millisecond})
	f.policy.set("db-1", v1.AgentPull, 1)
	f.policy.set("push-1", v1.AgentPush, 1)
	foreign, err := ca.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		certs  []tls.Certificate
		fw     string
		code   int // 0: the TLS handshake must fail
		errCde string
	}{
		{name: "no client certificate", fw: "db-1", code: http.StatusUnauthorized, errCde: "ClientCertificateRequired"},
		{name: "certificate for another firewall", certs: []tls.Certificate{clientCert(t, f.ca, "web-1")}, fw: "db-1", code: http.StatusForbidden, errCde: "WrongFirewall"},
		{name: "certificate from another CA", certs: []tls.Certificate{clientCert(t, foreign, "db-1")}, fw: "db-1"},
		{name: "push-mode firewall", certs: []tls.Certificate{clientCert(t, f.ca, "push-1")}, fw: "push-1", code: http.StatusForbidden, errCde: "NotPullMode"},
		{name: "firewall not in the policy", certs: []tls.Certificate{clientCert(t, f.ca, "gone-1")}, fw: "gone-1", code: http.StatusNotFound, errCde: "UnknownFirewall"},
		{name: "own certificate", certs: []tls.Certificate{clientCert(t, f.ca, "db-1")}, fw: "db-1", code: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.client(t, tc.certs...)
			for _, path := range []string{agentapi.DesiredPath(tc.fw), agentapi.StatePath(tc.fw), agentapi.CertificatePath(tc.fw)} {
				a, err := get(t, c, f.url+path, "", 0)
				method := http.MethodGet
				if path != agentapi.DesiredPath(tc.fw) {
					method = http.MethodPost
					req, _ := http.NewRequest(method, f.url+path, bytes.NewReader([]byte(`{}`)))
					var resp *http.Response
					if resp, err = c.Do(req); err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						a = answer{code: resp.StatusCode}
						json.Unmarshal(body, &a.err)
					}
				}
				if tc.code == 0 {
					if err == nil {
						t.Errorf("%s %s = %d, want the TLS handshake refused", method, path, a.code)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				if tc.code == http.StatusOK {
					if a.code >= 300 && a.code != http.StatusBadRequest {
						t.Errorf("%s %s = %d %+v, want access", method, path, a.code, a.err)
					}
					continue
				}
				if a.code != tc.code || a.err.Code != tc.errCde {
					t.Errorf("%s %s = %d %s, want %d %s", method, path, a.code, a.err.Code, tc.code, tc.errCde)
				}
			}
		})
	}
}

func TestState(t *testing.T) {
	f := start(t, Options{})
	d := f.policy.set("db-1", v1.AgentPull, 1)
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	st := agentapi.State{Generation: 3, Digest: d, Revision: "main@sha1:1", AppliedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := json.Marshal(st)
	resp, err := c.Post(f.url+agentapi.StatePath("db-1"), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST state = %d, want 204", resp.StatusCode)
	}
	if name := <-f.reports; name != "db-1" {
		t.Errorf("OnReport(%q), want db-1", name)
	}
	rep, ok := f.srv.Report("db-1")
	if !ok {
		t.Fatal("no report stored")
	}
	if diff := cmp.Diff(st, rep.State); diff != "" {
		t.Errorf("stored state (-want +got):\n%s", diff)
	}
	if _, ok := f.srv.Report("web-1"); ok {
		t.Error("a report for a firewall that never reported")
	}
	f.srv.Forget("db-1")
	if _, ok := f.srv.Report("db-1"); ok {
		t.Error("report kept after Forget")
	}

	big := bytes.Repeat([]byte(" "), MaxStateBody+1)
	resp, err = c.Post(f.url+agentapi.StatePath("db-1"), "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized POST state = %d, want 413", resp.StatusCode)
	}
}

func TestRenew(t *testing.T) {
	f := start(t, Options{URL: "https://198.18.0.1:8443", ClientLifetime: 48 * time.Hour})
	f.policy.set("db-1", v1.AgentPull, 1)
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "other"}}, key)
	b, _ := json.Marshal(agentapi.RenewRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	resp, err := c.Post(f.url+agentapi.CertificatePath("db-1"), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res agentapi.EnrollResponse
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("renew = %d, %v", resp.StatusCode, err)
	}
	blk, _ := pem.Decode([]byte(res.Certificate))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "db-1" || !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("renewed certificate for %q: want db-1 with the new key", cert.Subject.CommonName)
	}
	if l := cert.NotAfter.Sub(cert.NotBefore); l < 48*time.Hour || l > 49*time.Hour {
		t.Errorf("renewed certificate lifetime %v, want about 48h", l)
	}
	if res.DesiredURL != "https://198.18.0.1:8443/api/v1/agents/db-1/desired" {
		t.Errorf("DesiredURL = %s", res.DesiredURL)
	}
}

// TestShutdownEndsLongPolls checks that Run returns promptly with polls in
// flight (goleak in TestMain checks that nothing stays behind).
func TestShutdownEndsLongPolls(t *testing.T) {
	f := &fixture{policy: &policy{}}
	var err error
	if f.ca, err = ca.LoadOrCreate(t.TempDir(), time.Now()); err != nil {
		t.Fatal(err)
	}
	d := f.policy.set("db-1", v1.AgentPull, 1)
	srv, err := New(Options{CA: f.ca, Desired: f.policy.desired, Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	c := f.client(t, clientCert(t, f.ca, "db-1"))
	var wg sync.WaitGroup
	codes := make(chan int, 5)
	for range 5 {
		wg.Go(func() {
			a, err := get(t, c, f.url+agentapi.DesiredPath("db-1"), d, 1)
			if err != nil {
				codes <- -1
				return
			}
			codes <- a.code
		})
	}
	waitFor(t, func() bool { return srv.notify.waiting("db-1") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusNotModified && code != -1 {
			t.Errorf("poll ended by shutdown answered %d, want 304 or a closed connection", code)
		}
	}
	if _, err := c.Get(f.url + agentapi.DesiredPath("db-1")); err == nil || !isConnErr(err) {
		t.Errorf("GET after shutdown: %v, want a connection error", err)
	}
}

func isConnErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
