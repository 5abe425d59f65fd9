package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultTimeout bounds one probe when [Probe.Timeout] is zero: long
// enough for a handshake between two namespaces on one host (including
// neighbour resolution), short enough that a dropped packet costs little.
const DefaultTimeout = 300 * time.Millisecond

// Probe sends real packets from Client to Server to show what the
// rulesets loaded in them let through. Each method answers true when the
// traffic arrived, false when it was dropped (or refused) within the
// timeout, and an error only when the probe itself could not be set up
// (a missing namespace or address, no permission).
type Probe struct {
	Client, Server *NS
	// Timeout bounds each probe; zero means DefaultTimeout.
	Timeout time.Duration
}

func (p Probe) context(ctx context.Context) (context.Context, context.CancelFunc) {
	d := p.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// TCP reports whether a TCP handshake from Client to dst completes, with a
// listener on dst in Server.
func (p Probe) TCP(ctx context.Context, dst netip.AddrPort) (bool, error) {
	ctx, cancel := p.context(ctx)
	defer cancel()
	var ln net.Listener
	err := p.Server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", dst.String())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("tcp probe: listening on %s in %s: %w", dst, p.Server.Name, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var ok bool
	err = p.Client.Do(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", dst.String())
		if err != nil {
			if blocked(err) {
				return nil
			}
			return err
		}
		ok = true
		return c.Close()
	})
	if err != nil {
		return false, fmt.Errorf("tcp probe: connecting from %s to %s: %w", p.Client.Name, dst, err)
	}
	return ok, nil
}

// UDP reports whether a datagram from Client to dst reaches a socket bound
// to dst in Server. It sends a few datagrams within the timeout, so one
// lost to neighbour resolution does not count as a drop.
func (p Probe) UDP(ctx context.Context, dst netip.AddrPort) (bool, error) {
	ctx, cancel := p.context(ctx)
	defer cancel()
	token, err := newToken()
	if err != nil {
		return false, err
	}
	var srv *net.UDPConn
	err = p.Server.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("udp probe: listening on %s in %s: %w", dst, p.Server.Name, err)
	}
	defer srv.Close()
	var cli *net.UDPConn
	err = p.Client.Do(func() error {
		var err error
		cli, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("udp probe: socket in %s: %w", p.Client.Name, err)
	}
	defer cli.Close()
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				return
			}
			if bytes.Equal(buf[:n], token) {
				close(got)
				return
			}
		}
	}()
	return resend(ctx, got, func() error {
		_, err := cli.Write(token)
		return err
	})
}

// Ping reports whether an ICMP (or ICMPv6) echo request from Client to dst
// gets its echo reply (an IPv4-mapped dst counts as IPv4). It uses a raw socket, so it needs CAP_NET_RAW, but
// no ping_group_range setting.
func (p Probe) Ping(ctx context.Context, dst netip.Addr) (bool, error) {
	ctx, cancel := p.context(ctx)
	defer cancel()
	token, err := newToken()
	if err != nil {
		return false, err
	}
	dst = dst.Unmap()
	conn, err := openICMP(p.Client, dst.Is6())
	if err != nil {
		return false, fmt.Errorf("ping probe: %w", err)
	}
	defer conn.Close()
	id := int(binary.BigEndian.Uint16(token))
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() {
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	got := make(chan struct{})
	go readICMP(conn, func(typ, code uint8, body []byte) bool {
		// An echo body is id(2) seq(2) data.
		return typ == uint8(icmpTypeNumber(replyType)) && len(body) >= 4 &&
			int(binary.BigEndian.Uint16(body)) == id && bytes.Contains(body[4:], token)
	}, got)
	seq := 0
	return resend(ctx, got, func() error {
		seq++
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: token}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		_, err = conn.WriteTo(b, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
		return err
	})
}

// ICMP reports whether an ICMP (or ICMPv6, by dst's family; an
// IPv4-mapped address counts as IPv4) message of the
// given type and code sent from Client to dst arrives in Server, seen on a
// raw socket there. The receiving kernel sees the message after the input
// hook, so this shows one direction of the ruleset only. Note that
// conntrack classifies an ICMP error message (destination unreachable,
// time exceeded, parameter problem; ICMPv6 types 1–4) that quotes no known
// connection as invalid, so rulesets that drop invalid packets drop such a
// probe.
func (p Probe) ICMP(ctx context.Context, dst netip.Addr, typ, code uint8) (bool, error) {
	ctx, cancel := p.context(ctx)
	defer cancel()
	token, err := newToken()
	if err != nil {
		return false, err
	}
	dst = dst.Unmap()
	v6 := dst.Is6()
	srv, err := openICMP(p.Server, v6)
	if err != nil {
		return false, fmt.Errorf("icmp probe: %w", err)
	}
	defer srv.Close()
	cli, err := openICMP(p.Client, v6)
	if err != nil {
		return false, fmt.Errorf("icmp probe: %w", err)
	}
	defer cli.Close()
	got := make(chan struct{})
	go readICMP(srv, func(t, c uint8, body []byte) bool {
		return t == typ && c == code && bytes.Contains(body, token)
	}, got)
	// A body of 4 zero bytes (the id/seq or unused word) and the token.
	body := append(make([]byte, 4), token...)
	var mt icmp.Type = ipv4.ICMPType(typ)
	if v6 {
		mt = ipv6.ICMPType(typ)
	}
	return resend(ctx, got, func() error {
		msg := icmp.Message{Type: mt, Code: int(code), Body: &icmp.RawBody{Data: body}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		_, err = cli.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()})
		return err
	})
}

// resend calls send now and then every 50 ms until got is closed (true)
// or ctx ends (false). Errors that a dropping ruleset causes (EPERM from
// an output drop, ECONNREFUSED from an earlier datagram) count as "not
// yet"; others end the probe.
func resend(ctx context.Context, got <-chan struct{}, send func() error) (bool, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := send(); err != nil && !blocked(err) {
			return false, fmt.Errorf("sending probe: %w", err)
		}
		select {
		case <-got:
			return true, nil
		case <-ctx.Done():
			// The reader may have succeeded just as time ran out.
			select {
			case <-got:
				return true, nil
			default:
				return false, nil
			}
		case <-tick.C:
		}
	}
}

// blocked reports whether err is what a dropping or refusing ruleset
// causes, as opposed to a broken probe.
func blocked(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func openICMP(ns *NS, v6 bool) (*icmp.PacketConn, error) {
	var c *icmp.PacketConn
	err := ns.Do(func() error {
		var err error
		if v6 {
			c, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		} else {
			c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("raw icmp socket in %s: %w", ns.Name, err)
	}
	return c, nil
}

// readICMP reads messages from c until match accepts one (then it closes
// got) or c is closed.
func readICMP(c *icmp.PacketConn, match func(typ, code uint8, body []byte) bool, got chan<- struct{}) {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		if n >= 4 && match(buf[0], buf[1], buf[4:n]) {
			close(got)
			return
		}
	}
}

func icmpTypeNumber(t icmp.Type) int {
	switch t := t.(type) {
	case ipv4.ICMPType:
		return int(t)
	case ipv6.ICMPType:
		return int(t)
	}
	return -1
}

// newToken returns 16 random bytes that mark one probe's packets.
func newToken() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("probe token: %w", err)
	}
	return b, nil
}
