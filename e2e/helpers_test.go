//go:build linux && netns

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/netns"
)

// The change most scenarios push: the web tier's database port moves from
// 5432 to 5433. Only db-1's ruleset changes: on the web hosts the rule is
// a priority-0 outbound allow, which restates the default and compiles to
// nothing.
const (
	dataRules   = "rules/data.yaml"
	webToDB     = "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432"
	webToDBNext = "FROM tag role = web TO tag role = db ALLOW tcp PORT 5433"
)

// snapshot is what the controller and the agents say at one moment.
type snapshot struct {
	status  *api.StatusResponse
	history map[string][]status.HistoryEntry
	agents  map[string]*agentapi.State
	tables  map[string]string
}

// take records status, every firewall's apply history, every agent's state
// and every kernel table.
func take(t *testing.T, ctx context.Context, l *lab.Lab) *snapshot {
	t.Helper()
	st, err := l.API.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshot{status: st, history: map[string][]status.HistoryEntry{}, agents: map[string]*agentapi.State{}, tables: map[string]string{}}
	for _, fw := range l.Firewalls {
		f, err := l.API.Firewall(ctx, fw.Name)
		if err != nil {
			t.Fatal(err)
		}
		s.history[fw.Name] = f.History
		if s.agents[fw.Name], err = l.AgentState(ctx, fw); err != nil {
			t.Fatalf("%s: %v", fw.Name, err)
		}
		s.tables[fw.Name] = table(t, ctx, fw)
	}
	return s
}

// table returns fw's kernel table; it fails the test when there is none.
func table(t *testing.T, ctx context.Context, fw *lab.Firewall) string {
	t.Helper()
	out, ok, err := fw.NFTList(ctx)
	if err != nil || !ok {
		t.Fatalf("%s: table inet fwgit: present %v, %v", fw.Name, ok, err)
	}
	return out
}

// unchanged reports, for firewall name, every difference between two
// snapshots that an unaffected firewall must not show.
func unchanged(t *testing.T, name string, before, after *snapshot) {
	t.Helper()
	b, a := byName(before.status)[name], byName(after.status)[name]
	if a.AppliedDigest != b.AppliedDigest || a.AppliedGeneration != b.AppliedGeneration {
		t.Errorf("%s: applied %s gen %d, was %s gen %d", name, a.AppliedDigest, a.AppliedGeneration, b.AppliedDigest, b.AppliedGeneration)
	}
	if d := cmp.Diff(before.history[name], after.history[name]); d != "" {
		t.Errorf("%s: apply history changed (-before +after):\n%s", name, d)
	}
	ba, aa := before.agents[name], after.agents[name]
	if aa.Generation != ba.Generation || aa.Digest != ba.Digest || !aa.AppliedAt.Equal(ba.AppliedAt) {
		t.Errorf("%s: agent at generation %d %s applied %s, was %d %s applied %s", name,
			aa.Generation, aa.Digest, aa.AppliedAt, ba.Generation, ba.Digest, ba.AppliedAt)
	}
	if d := cmp.Diff(before.tables[name], after.tables[name]); d != "" {
		t.Errorf("%s: kernel table changed (-before +after):\n%s", name, d)
	}
}

// waitStatus polls /v1/status until cond holds and returns that status.
func waitStatus(t *testing.T, ctx context.Context, l *lab.Lab, what string, cond func(*api.StatusResponse) bool) *api.StatusResponse {
	t.Helper()
	var last *api.StatusResponse
	err := lab.Poll(ctx, 100*time.Millisecond, func() (bool, error) {
		st, err := l.API.Status(ctx)
		if err != nil {
			return false, nil
		}
		last = st
		return cond(st), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, statusTable(last))
	}
	return last
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	if err := lab.Poll(ctx, 50*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// push commits an edit and calls the webhook.
func push(t *testing.T, ctx context.Context, l *lab.Lab, msg string, edit func(string) error) string {
	t.Helper()
	h, err := l.Push(ctx, msg, edit)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// desiredDigests compiles the lab repository's last commit.
func desiredDigests(t *testing.T, l *lab.Lab) map[string]string {
	t.Helper()
	inv, rs, err := lab.Desired(l.Repo.FS())
	if err != nil {
		t.Fatal(err)
	}
	return lab.Digests(inv, rs)
}

// expectTCP sends a TCP connection from client to dst:port in server and
// checks that it is accepted (want) or dropped.
func expectTCP(t *testing.T, ctx context.Context, what string, client, server *netns.NS, dst netip.Addr, port uint16, want bool) {
	t.Helper()
	pkt := lab.Packet{Proto: "tcp", Port: port}
	var got bool
	var err error
	if want {
		got, err = lab.Reaches(ctx, client, server, dst, pkt)
	} else {
		got, err = lab.Send(ctx, client, server, dst, pkt, lab.ProbeTimeout)
	}
	if err != nil {
		t.Fatalf("%s: probe: %v", what, err)
	}
	if got != want {
		t.Errorf("%s: %s to %s: %s, want %s", what, pkt, dst, verdict(got), verdict(want))
	}
}

func verdict(ok bool) string {
	if ok {
		return "accepted"
	}
	return "dropped"
}

// runCLI runs the fwgit binary inside the controller's namespace.
func runCLI(t *testing.T, ctx context.Context, l *lab.Lab, args ...string) string {
	t.Helper()
	out, err := l.Ctl.Run(ctx, nil, l.Options().Fwgit, args...)
	if err != nil {
		t.Fatalf("fwgit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func count[T any](xs []T, f func(T) bool) int {
	n := 0
	for _, x := range xs {
		if f(x) {
			n++
		}
	}
	return n
}

func must[T any](t *testing.T, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// reconciles sums fwgit_reconcile_total over its results.
func reconciles(t *testing.T, ctx context.Context, l *lab.Lab) float64 {
	t.Helper()
	code, body, err := l.API.Get(ctx, "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	var sum float64
	for _, ln := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(ln, "fwgit_reconcile_total{") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(ln[strings.LastIndexByte(ln, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// waitResyncs waits until the controller has run n more reconciles per
// firewall than now (resyncs every ResyncInterval): long enough for it
// to have acted on whatever it sees.
func waitResyncs(t *testing.T, ctx context.Context, l *lab.Lab, n int) {
	t.Helper()
	start := reconciles(t, ctx, l)
	want := start + float64(n*len(l.Firewalls))
	waitFor(t, ctx, fmt.Sprintf("%d reconciles", n*len(l.Firewalls)), func() (bool, error) {
		return reconciles(t, ctx, l) >= want, nil
	})
}
