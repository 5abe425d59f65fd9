package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/internal/netns"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// ProbeTimeout is how long a probe waits before it calls the traffic
// dropped. A probe that expected to pass and did not is repeated once
// with [SlowProbeTimeout], so a loaded machine cannot turn "accept" into
// "drop"; a real drop costs only the short wait.
const (
	ProbeTimeout     = 500 * time.Millisecond
	SlowProbeTimeout = 3 * time.Second
)

// TCP reports whether a TCP connection from client to dst completes, with
// a listener on dst in server for the probe's length. When a service of
// the lab already listens on dst (the agent's port), the probe connects
// to it instead.
func TCP(ctx context.Context, client, server *netns.NS, dst netip.AddrPort, timeout time.Duration) (bool, error) {
	ok, err := netns.Probe{Client: client, Server: server, Timeout: timeout}.TCP(ctx, dst)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return ok, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = client.Do(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", dst.String())
		if err != nil {
			return err
		}
		ok = true
		return c.Close()
	})
	if err != nil {
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() ||
			errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EHOSTUNREACH) {
			return false, nil
		}
		return false, err
	}
	return ok, nil
}

// Packet is one kind of traffic to send.
type Packet struct {
	// Proto is tcp, udp, icmp or icmp6.
	Proto string
	// Port is the TCP or UDP port; Type and Code the ICMP message (echo
	// request when both are zero, the ping probe then waiting for the
	// reply).
	Port       uint16
	Type, Code uint8
}

func (p Packet) String() string {
	switch p.Proto {
	case "tcp", "udp":
		return fmt.Sprintf("%s/%d", p.Proto, p.Port)
	}
	return fmt.Sprintf("%s type %d code %d", p.Proto, p.Type, p.Code)
}

// Send sends pkt from client to dst, listening in server, and reports
// whether it arrived.
func Send(ctx context.Context, client, server *netns.NS, dst netip.Addr, pkt Packet, timeout time.Duration) (bool, error) {
	pr := netns.Probe{Client: client, Server: server, Timeout: timeout}
	switch pkt.Proto {
	case "tcp":
		return TCP(ctx, client, server, netip.AddrPortFrom(dst, pkt.Port), timeout)
	case "udp":
		return pr.UDP(ctx, netip.AddrPortFrom(dst, pkt.Port))
	case "icmp", "icmp6":
		if pkt.Type == 0 && pkt.Code == 0 || pkt.Proto == "icmp" && pkt.Type == 8 || pkt.Proto == "icmp6" && pkt.Type == 128 {
			return pr.Ping(ctx, dst)
		}
		return pr.ICMP(ctx, dst, pkt.Type, pkt.Code)
	}
	return false, fmt.Errorf("no probe for %q", pkt.Proto)
}

// Reaches sends pkt from client to dst in server; when it does not arrive
// within [ProbeTimeout] it tries once more with [SlowProbeTimeout] before
// answering false.
func Reaches(ctx context.Context, client, server *netns.NS, dst netip.Addr, pkt Packet) (bool, error) {
	ok, err := Send(ctx, client, server, dst, pkt, ProbeTimeout)
	if err != nil || ok {
		return ok, err
	}
	return Send(ctx, client, server, dst, pkt, SlowProbeTimeout)
}

// CaseOutcome is one Test case sent as real packets.
type CaseOutcome struct {
	compile.CaseResult
	// Got is accept or drop, what the packets did; empty when skipped.
	Got string
	// Skipped says why the case was not sent.
	Skipped string
	// Err is a probe that could not be set up.
	Err error
}

// Passed reports whether the packets did what the case expects.
func (o CaseOutcome) Passed() bool { return o.Err == nil && o.Skipped == "" && o.Got == o.Case.Expect }

// Name names the case for people.
func (o CaseOutcome) Name() string {
	if o.Case.Name != "" {
		return o.Test + "/" + o.Case.Name
	}
	return fmt.Sprintf("%s[%d]", o.Test, o.Index)
}

// CheckTests sends every case of the Test manifests as real packets
// through the rulesets the agents applied. Each case is about one
// firewall's verdict, so its peer (the source of inbound, the destination
// of outbound traffic) must not filter: the controller's addresses are
// played by the controller's namespace, which has no firewall, and every
// other peer by a throwaway namespace joined to the firewall by a veth of
// its own, with host routes in the firewall's namespace sending the
// peers' addresses there while its cases run. Firewalls are checked
// concurrently, each case once (again with a longer wait when an accept
// was expected and did not come).
func (l *Lab) CheckTests(ctx context.Context, results []compile.CaseResult) []CaseOutcome {
	out := make([]CaseOutcome, len(results))
	byFW := map[string][]int{}
	for i, r := range results {
		out[i].CaseResult = r
		if r.Err != "" {
			out[i].Err = errors.New(r.Err)
			continue
		}
		byFW[r.Case.Firewall] = append(byFW[r.Case.Firewall], i)
	}
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for name, idx := range byFW {
		fw := l.Firewall(name)
		if fw == nil {
			for _, i := range idx {
				out[i].Skipped = "the firewall has no agent in the lab"
			}
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cases := make([]*CaseOutcome, len(idx))
			for j, i := range idx {
				cases[j] = &out[i]
			}
			if err := l.checkFirewall(ctx, fw, cases); err != nil {
				for _, c := range cases {
					if c.Got == "" && c.Skipped == "" && c.Err == nil {
						c.Err = err
					}
				}
			}
		})
	}
	wg.Wait()
	return out
}

// peerOf returns the address that plays the peer of a case, or why the
// case cannot be sent.
func (l *Lab) peerOf(fw *Firewall, tc v1.TestCase) (netip.Addr, string) {
	s, why := compile.Peer(tc)
	if why != "" {
		return netip.Addr{}, why
	}
	a, err := netip.ParseAddr(s)
	switch {
	case s == "" || err != nil:
		return netip.Addr{}, "the case names no peer address"
	case !inLab(a):
		return netip.Addr{}, "the peer address is outside the lab's ranges"
	case slices.Contains(fw.Addrs, a):
		return netip.Addr{}, "the peer address is the firewall's own"
	case a.Is4() && !fw.V4.IsValid() || a.Is6() && !fw.V6.IsValid():
		return netip.Addr{}, "the firewall has no address of the peer's family"
	}
	return a, ""
}

// checkFirewall runs the cases of fw.
func (l *Lab) checkFirewall(ctx context.Context, fw *Firewall, cases []*CaseOutcome) (err error) {
	peers := map[netip.Addr]bool{}
	for _, c := range cases {
		a, why := l.peerOf(fw, c.Case.TestCase)
		if why != "" {
			c.Skipped = why
			continue
		}
		if !slices.Contains(l.CtlAddrs, a) {
			peers[a] = true
		}
	}
	var peerNS *netns.NS
	if len(peers) > 0 {
		if peerNS, err = l.newNS(ctx, "pr-"+fw.Name); err != nil {
			return err
		}
		defer func() {
			// The probe link goes with the namespace, and with it the
			// firewall's routes through it.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if derr := deleteNS(cctx, peerNS.Name); derr != nil && err == nil {
				err = derr
			}
			l.mu.Lock()
			l.nss = slices.DeleteFunc(l.nss, func(n *netns.NS) bool { return n == peerNS })
			l.mu.Unlock()
		}()
		if err := l.probeLink(ctx, fw, peerNS, peers); err != nil {
			return err
		}
	}
	srcRoute := map[netip.Addr]netip.Addr{} // fw address → peer it is routed from
	for _, c := range cases {
		if c.Skipped != "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		tc := c.Case.TestCase
		peer, _ := l.peerOf(fw, tc)
		own := fw.V4
		if peer.Is6() {
			own = fw.V6
		}
		peerSide := l.Ctl
		if peers[peer] {
			peerSide = peerNS
			if srcRoute[own] != peer {
				// Packets from the peer namespace leave from the case's
				// address.
				if _, err := peerNS.Run(ctx, nil, "ip", "route", "replace", hostPrefix(own).String(), "dev", "eth0", "src", peer.String()); err != nil {
					c.Err = err
					continue
				}
				srcRoute[own] = peer
			}
		}
		client, server, dst := peerSide, fw.NS, own
		if tc.Direction == v1.DirectionOut {
			client, server, dst = fw.NS, peerSide, peer
		}
		pkt := Packet{Proto: tc.Proto, Port: uint16(tc.Port)}
		if tc.Type != nil {
			pkt.Type = uint8(*tc.Type)
		}
		if tc.Code != nil {
			pkt.Code = uint8(*tc.Code)
		}
		send := Send
		if tc.Expect == v1.ExpectAccept {
			send = func(ctx context.Context, client, server *netns.NS, dst netip.Addr, pkt Packet, _ time.Duration) (bool, error) {
				return Reaches(ctx, client, server, dst, pkt)
			}
		}
		ok, err := send(ctx, client, server, dst, pkt, ProbeTimeout)
		switch {
		case err != nil:
			c.Err = err
		case ok:
			c.Got = v1.ExpectAccept
		default:
			c.Got = v1.ExpectDrop
		}
	}
	return nil
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// probeLink joins fw's namespace to peerNS with a veth ("probe0" in fw,
// "eth0" in peerNS), gives peerNS the peer addresses, and routes them from
// fw through the link. Static neighbour entries stand in for neighbour
// discovery, which answers only for addresses of the receiving interface.
func (l *Lab) probeLink(ctx context.Context, fw *Firewall, peerNS *netns.NS, peers map[netip.Addr]bool) error {
	var addrs []netip.Prefix
	for a := range peers {
		addrs = append(addrs, hostPrefix(a))
	}
	if err := netns.Veth(ctx, netns.End{NS: fw.NS, Name: "probe0"}, netns.End{NS: peerNS, Name: "eth0", Addrs: addrs}); err != nil {
		return err
	}
	fwMAC, err := linkAddr(ctx, fw.NS, "probe0")
	if err != nil {
		return err
	}
	peerMAC, err := linkAddr(ctx, peerNS, "eth0")
	if err != nil {
		return err
	}
	for a := range peers {
		src := fw.V4
		if a.Is6() {
			src = fw.V6
		}
		if _, err := fw.NS.Run(ctx, nil, "ip", "route", "replace", hostPrefix(a).String(), "dev", "probe0", "src", src.String()); err != nil {
			return err
		}
		if _, err := fw.NS.Run(ctx, nil, "ip", "neigh", "replace", a.String(), "lladdr", peerMAC, "dev", "probe0", "nud", "permanent"); err != nil {
			return err
		}
	}
	for _, own := range []netip.Addr{fw.V4, fw.V6} {
		if !own.IsValid() {
			continue
		}
		if _, err := peerNS.Run(ctx, nil, "ip", "route", "replace", hostPrefix(own).String(), "dev", "eth0"); err != nil {
			return err
		}
		if _, err := peerNS.Run(ctx, nil, "ip", "neigh", "replace", own.String(), "lladdr", fwMAC, "dev", "eth0", "nud", "permanent"); err != nil {
			return err
		}
	}
	return nil
}

// linkAddr returns the MAC address of dev in ns.
func linkAddr(ctx context.Context, ns *netns.NS, dev string) (string, error) {
	out, err := ns.Run(ctx, nil, "ip", "-br", "link", "show", "dev", dev)
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) < 3 {
		return "", fmt.Errorf("ip link show %s: unexpected output %q", dev, out)
	}
	return f[2], nil
}
