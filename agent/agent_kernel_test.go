//go:build linux && netns

package agent

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nettest"
	"github.com/fwgit/fwgit/internal/nft"
)

// TestAgentKernel runs the real agent with the Netlink dataplane on
// namespace A of a veth pair and talks to it from namespace B, the
// controller, with real packets: the failsafe rules keep the API reachable
// under a ruleset that would cut it off, drift is repaired, commit-confirm
// rolls back, a restart restores the table, and foreign base chains show
// in /state.
func TestAgentKernel(t *testing.T) {
	p := nettest.NewPair(t)
	ctx := context.Background()
	cfg, res := setup(t, agentconfig.DriftRepair)
	cfg.AllowedIPs = []netip.Prefix{netip.PrefixFrom(p.B4, 32), netip.PrefixFrom(p.B6, 128)}
	api := netip.AddrPortFrom(p.A4, 33033)
	cfg.Listen = api.String()

	nsCmd := func(args ...string) (string, error) { return p.A.Run(ctx, nil, "nft", args...) }
	table := func() string {
		out, err := nsCmd("list", "table", "inet", cfg.Table)
		if err != nil {
			return ""
		}
		return out
	}
	dialB := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := p.B.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	start := func(clock *safety.FakeClock) *running {
		t.Helper()
		applier, err := dataplane.NewNetlink(dataplane.Options{Table: cfg.Table, NetNSPath: p.A.Path()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { applier.Close() })
		// The agent listens in A once it has restored its ruleset.
		listen := func(network, addr string) (net.Listener, error) {
			var ln net.Listener
			err := p.A.Do(func() error {
				var err error
				ln, err = net.Listen(network, addr)
				return err
			})
			return ln, err
		}
		r := runWith(t, cfg, res, Deps{Applier: applier, Clock: clock, Listen: listen}, api.String(), dialB)
		waitFor(t, "the agent to listen", func() bool {
			c, err := dialB(ctx, "tcp", api.String())
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return r
	}
	clock := safety.NewFakeClock(t0)
	r := start(clock)

	// Generation 1 is the usual shape (established accept, output accept).
	// Generation 2 drops everything but tcp/8080, in and out, with no rule
	// for the agent's port and no established rule: only the failsafe keeps
	// the controller in. (Generation 1 also starts connection tracking in
	// the namespace, as the agent's first ruleset does at boot; a
	// connection older than any ct rule is picked up mid-stream as new.)
	web := nft.Rule{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 8080, Hi: 8080}}, Verdict: nft.Accept, Comment: "rule:web"}
	usual := &nft.Ruleset{Version: nft.IRVersion, Table: cfg.Table, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
			{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"}, web,
		}},
		{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept},
	}}
	harsh := &nft.Ruleset{Version: nft.IRVersion, Table: cfg.Table, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{web}},
		{Name: "output", Hook: nft.HookOutput, Policy: nft.Drop},
	}}
	for gen, rs := range []*nft.Ruleset{usual, harsh} {
		if code, b := r.do(http.MethodPut, "/api/v1/ruleset", request(uint64(gen+1), rs)); code != http.StatusOK {
			t.Fatalf("PUT generation %d = %d %s", gen+1, code, b)
		}
	}
	r.client.CloseIdleConnections()
	st := r.state() // a new connection through the harsh ruleset
	if st.Generation != 2 {
		t.Errorf("state = %+v, want generation 2", st)
	}
	if out := table(); !strings.Contains(out, safety.CommentFailsafeAPI) || !strings.Contains(out, safety.CommentFailsafeReply) {
		t.Errorf("kernel table lacks the failsafe rules:\n%s", out)
	}
	probe := netns.Probe{Client: p.B, Server: p.A}
	for port, want := range map[uint16]bool{8080: true, 9090: false} {
		got, err := probe.TCP(ctx, netip.AddrPortFrom(p.A4, port))
		if err != nil || got != want {
			t.Errorf("tcp from B to A:%d passes = %v (%v), want %v", port, got, err, want)
		}
	}

	// Drift: a deleted table and an added rule are both repaired.
	waitFor(t, "the drift timer", func() bool { return clock.Pending() > 0 })
	for _, edit := range [][]string{
		{"delete", "table", "inet", cfg.Table},
		{"add", "rule", "inet", cfg.Table, "input", "tcp", "dport", "7777", "accept"},
	} {
		if _, err := nsCmd(edit...); err != nil {
			t.Fatalf("nft %v: %v", edit, err)
		}
		clock.Advance(cfg.DriftInterval)
		waitFor(t, "the repair of nft "+strings.Join(edit, " "), func() bool {
			out := table()
			return strings.Contains(out, "8080") && !strings.Contains(out, "7777")
		})
		waitFor(t, "the next drift timer", func() bool { return clock.Pending() > 0 })
	}
	if st := r.state(); st.Drift == nil || !st.Drift.Repaired {
		t.Errorf("state drift = %+v, want a repaired drift", st.Drift)
	}

	// Commit-confirm: generation 3 is rolled back without a confirm.
	gen3 := request(3, policy(8081))
	gen3.ConfirmTimeoutMS = 5000
	if code, b := r.do(http.MethodPut, "/api/v1/ruleset", gen3); code != http.StatusOK {
		t.Fatalf("PUT generation 3 = %d %s", code, b)
	}
	if !strings.Contains(table(), "8081") {
		t.Fatalf("generation 3 not in the kernel:\n%s", table())
	}
	clock.Advance(5 * time.Second)
	if out := table(); strings.Contains(out, "8081") || !strings.Contains(out, "8080") {
		t.Errorf("after the deadline the kernel holds:\n%s\nwant generation 2 back", out)
	}

	// Foreign base chains on our hooks show in /state.
	if _, err := p.A.Run(ctx, strings.NewReader("table inet other {\n chain in {\n type filter hook input priority -5; policy accept;\n }\n}\n"), "nft", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	st = r.state()
	found := false
	for _, fc := range st.ForeignChains {
		found = found || (fc.Table == "other" && fc.Hook == "input" && fc.Priority == -5)
	}
	if !found {
		t.Errorf("state foreignChains = %+v, want inet other's input chain", st.ForeignChains)
	}

	// Restart: the table is gone (a reboot) and comes back before the agent
	// answers.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := nsCmd("delete", "table", "inet", cfg.Table); err != nil {
		t.Fatal(err)
	}
	r2 := start(safety.NewFakeClock(t0.Add(time.Hour)))
	st = r2.state()
	if st.Generation != 2 || st.RolledBack == nil || st.RolledBack.Generation != 3 {
		t.Errorf("state after restart = %+v, want generation 2 with generation 3 rolled back", st)
	}
	if out := table(); !strings.Contains(out, "8080") || !strings.Contains(out, safety.CommentFailsafeAPI) {
		t.Errorf("table after restart:\n%s\nwant generation 2 with the failsafe rules", out)
	}
	var info agentapi.Info
	if code, b := r2.do(http.MethodGet, "/api/v1/info", nil); code != http.StatusOK || json.Unmarshal(b, &info) != nil {
		t.Errorf("GET /info = %d %s", code, b)
	}
}
