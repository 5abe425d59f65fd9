// The tests of this file run the real controller side (controller/ca,
// controller/enroll, controller/pullserver) on loopback: test-only imports,
// which the layering rule (checked on the binaries' dependencies) allows.
package pull_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/pull"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/controller/enroll"
	"github.com/fwgit/fwgit/controller/pullserver"
	"github.com/fwgit/fwgit/controller/reconcile"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// policy is the controller's desired state, settable by tests.
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

func (p *policy) set(name string, port uint16) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fws == nil {
		p.fws = map[string]*reconcile.Desired{}
	}
	rs := ruleset(port)
	p.fws[name] = &reconcile.Desired{Name: name, Revision: "main@sha1:" + strconv.Itoa(int(port)), Ruleset: rs,
		Digest: rs.Digest(), Agent: &v1.Agent{Mode: v1.AgentPull}}
	return rs.Digest()
}

func (p *policy) desired(name string) (*reconcile.Desired, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.fws[name]; ok {
		return d, nil
	}
	return nil, reconcile.ErrGone
}

// controller is the controller side on loopback.
type controller struct {
	t      *testing.T
	dir    string
	ca     *ca.CA
	tokens *enroll.Store
	policy *policy
	o      pullserver.Options
	addr   string
	url    string

	srv    *pullserver.Server
	cancel context.CancelFunc
	done   chan error
}

func newController(t *testing.T, o pullserver.Options) *controller {
	t.Helper()
	c := &controller{t: t, dir: t.TempDir(), policy: &policy{}, o: o}
	var err error
	if c.ca, err = ca.LoadOrCreate(c.dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if c.tokens, err = enroll.Open(c.dir, enroll.Options{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	c.url = "https://" + c.addr
	c.run(ln)
	t.Cleanup(c.stop)
	return c
}

// run starts a fresh server (a controller process) on ln.
func (c *controller) run(ln net.Listener) {
	o := c.o
	o.CA, o.Desired, o.URL, o.Log = c.ca, c.policy.desired, c.url, testLog(c.t).With("side", "controller")
	o.Enroll = enroll.Handler(enroll.HandlerOptions{Store: c.tokens, CA: c.ca, URL: c.url, Log: o.Log})
	srv, err := pullserver.New(o)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.srv, c.cancel, c.done = srv, cancel, make(chan error, 1)
	go func() { c.done <- srv.Run(ctx, ln) }()
}

func (c *controller) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	if err := <-c.done; err != nil {
		c.t.Errorf("server Run = %v", err)
	}
	c.cancel = nil
}

// restart starts a new server on the same port.
func (c *controller) restart() {
	c.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port may linger briefly
		if ln, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.run(ln)
}

func (c *controller) token(fw string, ttl time.Duration, uses int) agentapi.EnrollToken {
	c.t.Helper()
	_, et, err := c.tokens.Create(enroll.NewTokenOptions{Firewall: fw, TTL: ttl, Uses: uses, URL: c.url, CAFingerprint: c.ca.Fingerprint()})
	if err != nil {
		c.t.Fatal(err)
	}
	return et
}

func TestEnroll(t *testing.T) {
	c := newController(t, pullserver.Options{})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "etc-fwgit")
	tok := c.token("db-1", time.Hour, 1)

	id, err := pull.Enroll(ctx, pull.EnrollOptions{Token: tok.Encode(), Dir: dir})
	if err != nil {
		t.Fatalf("Enroll = %v", err)
	}
	if id.Firewall != "db-1" || id.URL != c.url || ca.Fingerprint(id.CA.Raw) != c.ca.Fingerprint() {
		t.Errorf("identity %s with CA %s, want db-1 at %s with %s", id, ca.Fingerprint(id.CA.Raw), c.url, c.ca.Fingerprint())
	}
	for name, mode := range map[string]os.FileMode{pull.KeyPairFileName: 0o600, pull.CAFileName: 0o644, pull.ConfigFileName: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %04o, want %04o", name, fi.Mode().Perm(), mode)
		}
	}
	loaded, err := pull.Load(dir)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !loaded.Certificate().Leaf.Equal(id.Certificate().Leaf) {
		t.Error("Load returned another certificate than Enroll stored")
	}
	if _, err := pull.Enroll(ctx, pull.EnrollOptions{Token: c.token("db-1", time.Hour, 1).Encode(), Dir: dir}); !errors.Is(err, pull.ErrEnrolled) {
		t.Errorf("second Enroll without Force = %v, want ErrEnrolled", err)
	}
	if !pull.Enrolled(dir) || pull.Enrolled(t.TempDir()) {
		t.Error("Enrolled does not tell an enrolled directory from an empty one")
	}
}

func TestEnrollRefused(t *testing.T) {
	c := newController(t, pullserver.Options{})
	other, err := ca.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	used := c.token("db-1", time.Hour, 1)
	if _, err := pull.Enroll(context.Background(), pull.EnrollOptions{Token: used.Encode(), Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	revoked := c.token("db-1", time.Hour, 1)
	if _, err := c.tokens.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrongCA := c.token("db-1", time.Hour, 1)
	wrongCA.CAFingerprint = other.Fingerprint()
	short := c.token("db-1", time.Second, 1)
	expiredAt := time.Unix(short.Expires, 0)

	for _, tc := range []struct {
		name  string
		token string
		now   time.Time
		check func(error) bool
	}{
		{"reused past its count", used.Encode(), time.Time{}, isUnauthorized},
		{"revoked", revoked.Encode(), time.Time{}, isUnauthorized},
		{"wrong CA fingerprint", wrongCA.Encode(), time.Time{}, func(err error) bool {
			var fe *pull.FingerprintError
			return errors.As(err, &fe) && fe.Want == other.Fingerprint()
		}},
		{"expired, seen by the agent", short.Encode(), expiredAt, func(err error) bool { return errors.Is(err, pull.ErrTokenExpired) }},
		{"expired, seen by the controller", short.Encode(), expiredAt.Add(-time.Hour), isUnauthorized},
		{"not a token", "hello", time.Time{}, func(err error) bool { return errors.Is(err, agentapi.ErrBadToken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "expired, seen by the controller" {
				waitUntil(t, expiredAt)
			}
			dir := t.TempDir()
			now := time.Now
			if !tc.now.IsZero() {
				now = func() time.Time { return tc.now }
			}
			_, err := pull.Enroll(context.Background(), pull.EnrollOptions{Token: tc.token, Dir: dir, Now: now, Timeout: 5 * time.Second})
			if !tc.check(err) {
				t.Fatalf("Enroll = %v, not the refusal expected", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused enrollment left %d files", len(entries))
			}
		})
	}
	// The wrong-CA attempt never reached the handler: its use is intact.
	list, err := c.tokens.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		if tok.ID == wrongCA.ID && tok.Used != 0 {
			t.Errorf("the token sent to a controller with another CA was spent (%d uses)", tok.Used)
		}
	}
}

func isUnauthorized(err error) bool {
	var ce *pull.ControllerError
	return errors.As(err, &ce) && ce.Status == 401 && ce.Code == "InvalidToken"
}

// waitUntil sleeps until t has passed (a token's one-second expiry).
func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	time.Sleep(time.Until(at) + 10*time.Millisecond)
}

// agent is an enrolled agent with a real guard over the fake dataplane.
type agent struct {
	fake  *dataplane.FakeApplier
	guard *safety.Guard
	loop  *pull.Loop
	stop  func()
}

func startAgent(t *testing.T, c *controller, fw string, cfg pull.Config) *agent {
	t.Helper()
	dir := t.TempDir()
	if _, err := pull.Enroll(context.Background(), pull.EnrollOptions{Token: c.token(fw, time.Hour, 1).Encode(), Dir: dir}); err != nil {
		t.Fatal(err)
	}
	store, err := safety.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{fake: dataplane.NewFakeApplier(nft.DefaultTable)}
	a.guard = safety.NewGuard(safety.Options{Applier: a.fake, Store: store, Table: nft.DefaultTable})
	if err := a.guard.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Dir = dir
	cfg.Log = testLog(t).With("side", "agent")
	if a.loop, err = pull.New(cfg, a.guard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.loop.Run(ctx) }()
	a.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loop Run = %v", err)
		}
		a.guard.Close()
	}
	t.Cleanup(a.stop)
	return a
}

// eventually polls cond in a bounded loop.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in 10s", what)
}

func (a *agent) runs(digest string) bool {
	return a.guard.State(context.Background()).Digest == digest
}

func reported(c *controller, fw, digest string) bool {
	r, ok := c.srv.Report(fw)
	return ok && r.State.Digest == digest && r.State.PendingConfirm == nil
}

func TestLoop(t *testing.T) {
	c := newController(t, pullserver.Options{Wait: 5 * time.Second, ConfirmTimeout: 5 * time.Second})
	d1 := c.policy.set("db-1", 5432)
	a := startAgent(t, c, "db-1", pull.Config{Wait: 5 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})

	eventually(t, "agent applies the desired ruleset", func() bool { return a.runs(d1) })
	// Commit-confirm: confirmed only after a report reached the
	// controller, so the controller sees it without a pending window.
	eventually(t, "controller sees the agent in sync and confirmed", func() bool { return reported(c, "db-1", d1) })

	d2 := c.policy.set("db-1", 6432)
	c.srv.Publish("db-1")
	eventually(t, "agent applies the published ruleset", func() bool { return a.runs(d2) })
	eventually(t, "controller sees the new digest", func() bool { return reported(c, "db-1", d2) })
	st := a.guard.State(context.Background())
	if st.Generation != 2 || st.RolledBack != nil {
		t.Errorf("agent state generation %d, rolled back %v; want generation 2, no rollback", st.Generation, st.RolledBack)
	}
}

func TestLoopSurvivesControllerRestart(t *testing.T) {
	c := newController(t, pullserver.Options{Wait: 5 * time.Second})
	d1 := c.policy.set("db-1", 5432)
	a := startAgent(t, c, "db-1", pull.Config{Wait: 5 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	eventually(t, "agent applies the desired ruleset", func() bool { return a.runs(d1) })
	kernel := func() string {
		rs, err := a.fake.Read(context.Background())
		if err != nil || rs == nil {
			return ""
		}
		return rs.Digest()
	}
	before := kernel()
	if before == "" {
		t.Fatal("the fake kernel holds no table after the apply")
	}

	c.stop()
	// While the controller is away the agent backs off and retries; it
	// keeps its ruleset.
	time.Sleep(300 * time.Millisecond)
	if !a.runs(d1) || kernel() != before {
		t.Fatalf("the agent changed its ruleset while the controller was away")
	}

	d2 := c.policy.set("db-1", 6432)
	c.restart()
	eventually(t, "agent applies the ruleset of the restarted controller", func() bool { return a.runs(d2) })
	eventually(t, "restarted controller gets a report", func() bool { return reported(c, "db-1", d2) })
}

func TestLoopNotEnrolled(t *testing.T) {
	if _, err := pull.New(pull.Config{Dir: t.TempDir()}, nil); err == nil {
		t.Error("New without an applier = nil error")
	}
	store, _ := safety.OpenStore(t.TempDir())
	g := safety.NewGuard(safety.Options{Applier: dataplane.NewFakeApplier(nft.DefaultTable), Store: store, Table: nft.DefaultTable})
	defer g.Close()
	if _, err := pull.New(pull.Config{Dir: t.TempDir()}, g); !errors.Is(err, pull.ErrNotEnrolled) {
		t.Errorf("New in an empty directory = %v, want ErrNotEnrolled", err)
	}
}

func TestRenew(t *testing.T) {
	c := newController(t, pullserver.Options{ClientLifetime: 48 * time.Hour})
	c.policy.set("db-1", 5432)
	a := startAgent(t, c, "db-1", pull.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	old := a.loop.Identity().Certificate().Leaf
	if err := a.loop.Renew(context.Background()); err != nil {
		t.Fatalf("Renew = %v", err)
	}
	cur := a.loop.Identity().Certificate().Leaf
	if cur.Equal(old) || cur.Subject.CommonName != "db-1" {
		t.Fatalf("after Renew the certificate is %s (same as before: %v)", cur.Subject.CommonName, cur.Equal(old))
	}
	loaded, err := pull.Load(a.loop.Identity().Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Certificate().Leaf.Equal(cur) {
		t.Error("the renewed certificate was not stored")
	}
	// The renewed certificate works: a report goes through.
	c.policy.set("db-1", 7000)
	c.srv.Publish("db-1")
	eventually(t, "report with the renewed certificate", func() bool {
		r, ok := c.srv.Report("db-1")
		return ok && r.State.Digest == ruleset(7000).Digest()
	})
}

func TestNeedsRenewal(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, false},
		{59 * 24 * time.Hour, false},
		{60 * 24 * time.Hour, true},
		{100 * 24 * time.Hour, true},
	} {
		if got := pull.NeedsRenewal(nb, na, nb.Add(tc.at)); got != tc.want {
			t.Errorf("NeedsRenewal(+%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestEnrollFollowsNoRedirect checks that the token goes only to the
// controller's URL: a redirect, even to a host that passes the CA pin, is
// refused and the token never reaches the target.
func TestEnrollFollowsNoRedirect(t *testing.T) {
	c := newController(t, pullserver.Options{})
	cert, err := c.ca.ServerCertificate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serve := func(h http.HandlerFunc) *httptest.Server {
		s := httptest.NewUnstartedServer(h)
		s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	var leaked atomic.Bool
	target := serve(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			leaked.Store(true)
		}
		w.WriteHeader(http.StatusTeapot)
	})
	redirector := serve(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusPermanentRedirect)
	})
	tok := c.token("db-1", time.Hour, 1)
	_, err = pull.Enroll(context.Background(), pull.EnrollOptions{Token: tok.Encode(), Dir: t.TempDir(), URL: redirector.URL})
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("Enroll through a redirect = %v, want an error naming the redirect", err)
	}
	if leaked.Load() {
		t.Error("the redirect target received the enrollment body")
	}
}
