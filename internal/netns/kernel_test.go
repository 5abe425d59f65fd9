//go:build linux && netns

package netns_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nettest"
	"github.com/fwgit/fwgit/internal/nft"
)

// inode returns the inode of the network namespace the calling thread is
// in, as seen through /proc/thread-self.
func inode(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestNetnsLifecycleKernel(t *testing.T) {
	nettest.Require(t)
	ctx := t.Context()
	ns, err := netns.NewUnique(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Delete(context.Background()) })
	if !strings.HasPrefix(ns.Name, netns.Prefix+"life-") {
		t.Errorf("name = %q, want prefix %q", ns.Name, netns.Prefix+"life-")
	}
	if _, err := netns.New(ctx, strings.TrimPrefix(ns.Name, netns.Prefix)); err == nil {
		t.Errorf("New with an existing name = nil error, want one")
	}
	names, err := netns.List(netns.Prefix + "life-")
	if err != nil || !slices.Contains(names, ns.Name) {
		t.Errorf("List = %v, %v; want it to hold %s", names, err, ns.Name)
	}

	// Do runs in the namespace: another inode, only lo, and lo is up.
	var inside uint64
	var ifaces []string
	err = ns.Do(func() error {
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return err
		}
		inside = st.Ino
		is, err := net.Interfaces()
		for _, i := range is {
			if i.Flags&net.FlagUp != 0 {
				ifaces = append(ifaces, i.Name+":up")
			} else {
				ifaces = append(ifaces, i.Name)
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("Do = %v", err)
	}
	if inside == inode(t) {
		t.Errorf("Do ran in the test's own namespace")
	}
	if !slices.Equal(ifaces, []string{"lo:up"}) {
		t.Errorf("interfaces in a new namespace = %v, want [lo:up]", ifaces)
	}

	sentinel := errors.New("from fn")
	if err := ns.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returning an error = %v, want %v", err, sentinel)
	}
	if err := ns.Do(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Do with a panic = %v, want an error naming it", err)
	}

	out, err := ns.Run(ctx, strings.NewReader("hello"), "cat")
	if err != nil || out != "hello" {
		t.Errorf("Run(cat) = %q, %v; want hello", out, err)
	}
	if _, err := ns.Run(ctx, nil, "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Run of a failing command = %v, want an error with its stderr", err)
	}
	if err := ns.LoadNFT(ctx, "table inet broken {"); err == nil {
		t.Errorf("LoadNFT of a broken script = nil, want an error")
	}

	if err := ns.Delete(ctx); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := os.Stat("/run/netns/" + ns.Name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace still exists after Delete: %v", err)
	}
	if err := ns.Delete(ctx); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
	if err := ns.Do(func() error { return nil }); err == nil {
		t.Errorf("Do in a deleted namespace = nil, want an error")
	}
}

func TestNetnsDeleteAllKernel(t *testing.T) {
	nettest.Require(t)
	ctx := t.Context()
	var made []*netns.NS
	base, err := netns.NewUnique(ctx, "del")
	if err != nil {
		t.Fatal(err)
	}
	made = append(made, base)
	for _, suffix := range []string{"-x", "-y"} {
		ns, err := netns.New(ctx, strings.TrimPrefix(base.Name, netns.Prefix)+suffix)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, ns)
	}
	t.Cleanup(func() {
		for _, ns := range made {
			_ = ns.Delete(context.Background())
		}
	})
	if err := netns.DeleteAll(ctx, base.Name+"-"); err != nil {
		t.Fatal(err)
	}
	left, err := netns.List(base.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{base.Name}) {
		t.Errorf("after DeleteAll(%s-): left %v, want only %s", base.Name, left, base.Name)
	}
}

// firewall builds the ruleset loaded into B: it accepts tcp/80 and udp/53
// from A's addresses, IPv4 echo requests, and what IPv6 needs to find its
// neighbours; everything else on input is dropped. On output it drops
// tcp/8443 to A.
func firewall(p *nettest.Pair) *nft.Ruleset {
	a4 := []netip.Prefix{netip.PrefixFrom(p.A4, 32)}
	a6 := []netip.Prefix{netip.PrefixFrom(p.A6, 128)}
	set4 := nft.SetName(nft.SetIPv4, a4)
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable,
		Sets: []nft.Set{{Name: set4, Type: nft.SetIPv4, Elements: a4}},
		Chains: []nft.Chain{
			{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
				{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "established"},
				{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: "invalid"},
				{IIF: "lo", Verdict: nft.Accept, Comment: "loopback"},
				{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}, Verdict: nft.Accept, Comment: "nd"},
				{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: set4}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 80, Hi: 80}}, Verdict: nft.Accept, Comment: "web4"},
				{Family: nft.FamilyIPv6, Src: &nft.AddrMatch{Prefixes: a6}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 80, Hi: 80}}, Verdict: nft.Accept, Comment: "web6"},
				{Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: 53, Hi: 53}}, Verdict: nft.Accept, Comment: "dns"},
				{Family: nft.FamilyIPv4, Proto: nft.ProtoICMP, ICMP: []nft.ICMPMatch{{Type: 8}}, Verdict: nft.Accept, Comment: "ping4"},
			}},
			{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept, Rules: []nft.Rule{
				{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 8443, Hi: 8443}}, Verdict: nft.Drop, Comment: "no-8443"},
			}},
		}}
}

// TestNetnsProbesKernel loads a ruleset into one end of a veth pair and
// checks that real packets get the verdict the reference evaluator gives.
func TestNetnsProbesKernel(t *testing.T) {
	p := nettest.NewPair(t)
	ctx := t.Context()
	toB := netns.Probe{Client: p.A, Server: p.B}
	fromB := netns.Probe{Client: p.B, Server: p.A}

	// Without a ruleset everything passes.
	open := []struct {
		name string
		fn   func() (bool, error)
	}{
		{"tcp4", func() (bool, error) { return toB.TCP(ctx, netip.AddrPortFrom(p.B4, 81)) }},
		{"tcp6", func() (bool, error) { return toB.TCP(ctx, netip.AddrPortFrom(p.B6, 81)) }},
		{"udp4", func() (bool, error) { return toB.UDP(ctx, netip.AddrPortFrom(p.B4, 54)) }},
		{"ping6", func() (bool, error) { return toB.Ping(ctx, p.B6) }},
		{"icmp6 type 128", func() (bool, error) { return toB.ICMP(ctx, p.B6, 128, 0) }},
	}
	for _, tc := range open {
		t.Run("open/"+tc.name, func(t *testing.T) {
			ok, err := tc.fn()
			if err != nil || !ok {
				t.Errorf("%s without a ruleset = %v, %v; want true", tc.name, ok, err)
			}
		})
	}

	rs := firewall(p)
	if err := rs.Validate(); err != nil {
		t.Fatal(err)
	}
	nettest.LoadNFT(t, p.B, rs.RenderReplace())
	if got := nettest.NFTList(t, p.B, nft.DefaultTable); !strings.Contains(got, `comment "web4"`) {
		t.Fatalf("nft list table after load:\n%s", got)
	}

	type probe struct {
		name string
		pkt  nft.Packet // what the reference evaluator is asked
		fn   func() (bool, error)
	}
	in := func(src netip.Addr, proto nft.Proto, port uint16) nft.Packet {
		return nft.Packet{Hook: nft.HookInput, Src: src, Proto: proto, DPort: port, IIF: p.BIf}
	}
	probes := []probe{
		{"tcp4 80 allowed", in(p.A4, nft.ProtoTCP, 80), func() (bool, error) { return toB.TCP(ctx, netip.AddrPortFrom(p.B4, 80)) }},
		{"tcp4 81 dropped", in(p.A4, nft.ProtoTCP, 81), func() (bool, error) { return toB.TCP(ctx, netip.AddrPortFrom(p.B4, 81)) }},
		{"tcp6 80 allowed", in(p.A6, nft.ProtoTCP, 80), func() (bool, error) { return toB.TCP(ctx, netip.AddrPortFrom(p.B6, 80)) }},
		{"udp4 53 allowed", in(p.A4, nft.ProtoUDP, 53), func() (bool, error) { return toB.UDP(ctx, netip.AddrPortFrom(p.B4, 53)) }},
		{"udp6 53 allowed", in(p.A6, nft.ProtoUDP, 53), func() (bool, error) { return toB.UDP(ctx, netip.AddrPortFrom(p.B6, 53)) }},
		{"udp4 54 dropped", in(p.A4, nft.ProtoUDP, 54), func() (bool, error) { return toB.UDP(ctx, netip.AddrPortFrom(p.B4, 54)) }},
		{"ping4 allowed", nft.Packet{Hook: nft.HookInput, Src: p.A4, Proto: nft.ProtoICMP, ICMPType: 8}, func() (bool, error) { return toB.Ping(ctx, p.B4) }},
		{"ping6 dropped", nft.Packet{Hook: nft.HookInput, Src: p.A6, Proto: nft.ProtoICMPv6, ICMPType: 128}, func() (bool, error) { return toB.Ping(ctx, p.B6) }},
		{"icmp4 timestamp dropped", nft.Packet{Hook: nft.HookInput, Src: p.A4, Proto: nft.ProtoICMP, ICMPType: 13}, func() (bool, error) { return toB.ICMP(ctx, p.B4, 13, 0) }},
		{"icmp4 echo one way allowed", nft.Packet{Hook: nft.HookInput, Src: p.A4, Proto: nft.ProtoICMP, ICMPType: 8}, func() (bool, error) { return toB.ICMP(ctx, p.B4, 8, 0) }},
		// From B: its output chain drops tcp/8443; the replies to B's
		// own connections come back as established.
		{"out tcp4 8443 dropped", nft.Packet{Hook: nft.HookOutput, Dst: p.A4, Proto: nft.ProtoTCP, DPort: 8443}, func() (bool, error) { return fromB.TCP(ctx, netip.AddrPortFrom(p.A4, 8443)) }},
		{"out tcp6 8444 allowed", nft.Packet{Hook: nft.HookOutput, Dst: p.A6, Proto: nft.ProtoTCP, DPort: 8444}, func() (bool, error) { return fromB.TCP(ctx, netip.AddrPortFrom(p.A6, 8444)) }},
	}
	for _, tc := range probes {
		t.Run(tc.name, func(t *testing.T) {
			want := rs.Eval(tc.pkt).Verdict == nft.Accept
			if strings.HasSuffix(tc.name, "allowed") != want {
				t.Fatalf("test table disagrees with Eval(%+v) = %v", tc.pkt, rs.Eval(tc.pkt))
			}
			got, err := tc.fn()
			if err != nil {
				t.Fatalf("probe error: %v", err)
			}
			if got != want {
				t.Errorf("probe = %v, want %v (Eval: %+v)", got, want, rs.Eval(tc.pkt))
			}
		})
	}

	// Replacing the ruleset with an empty one removes the table: all open.
	empty := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}
	nettest.LoadNFT(t, p.B, empty.RenderReplace())
	if ok, err := toB.TCP(ctx, netip.AddrPortFrom(p.B4, 81)); err != nil || !ok {
		t.Errorf("tcp4 81 after removing the table = %v, %v; want true", ok, err)
	}
}

func TestNetnsProbeErrorsKernel(t *testing.T) {
	p := nettest.NewPair(t)
	ctx := t.Context()
	pr := netns.Probe{Client: p.A, Server: p.B}
	// An address B does not have cannot be listened on: a setup error,
	// not a drop.
	if ok, err := pr.TCP(ctx, netip.MustParseAddrPort("198.18.0.99:80")); err == nil {
		t.Errorf("TCP to an address nobody has = %v, nil; want an error", ok)
	}
	if ok, err := pr.UDP(ctx, netip.MustParseAddrPort("[fd00:18::99]:53")); err == nil {
		t.Errorf("UDP to an address nobody has = %v, nil; want an error", ok)
	}
	gone := netns.Probe{Client: &netns.NS{Name: netns.Prefix + "missing"}, Server: p.B}
	if ok, err := gone.Ping(ctx, p.B4); err == nil {
		t.Errorf("Ping from a missing namespace = %v, nil; want an error", ok)
	}
}
