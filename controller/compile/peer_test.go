package compile_test

import (
	"testing"

	"github.com/fwgit/fwgit/controller/compile"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

func TestPeer(t *testing.T) {
	typ := func(n int) *int { return &n }
	tests := []struct {
		name     string
		tc       v1.TestCase
		addr     string
		sendable bool
	}{
		{"in takes From", v1.TestCase{From: "198.18.0.1", To: "198.18.0.2", Proto: "tcp"}, "198.18.0.1", true},
		{"out takes To", v1.TestCase{From: "198.18.0.1", To: "198.18.0.2", Proto: "udp", Direction: v1.DirectionOut}, "198.18.0.2", true},
		{"no peer named", v1.TestCase{To: "198.18.0.2", Proto: "tcp"}, "", true},
		{"echo request", v1.TestCase{From: "fd00::1", Proto: "icmp6", Type: typ(128)}, "fd00::1", true},
		{"icmp without a type", v1.TestCase{From: "198.18.0.1", Proto: "icmp"}, "198.18.0.1", true},
		{"ah", v1.TestCase{From: "198.18.0.1", Proto: "ah"}, "", false},
		{"esp", v1.TestCase{From: "198.18.0.1", Proto: "esp"}, "", false},
		{"icmp unreachable", v1.TestCase{From: "198.18.0.1", Proto: "icmp", Type: typ(3)}, "", false},
		{"icmp time exceeded", v1.TestCase{From: "198.18.0.1", Proto: "icmp", Type: typ(11)}, "", false},
		{"icmp6 packet too big", v1.TestCase{From: "fd00::1", Proto: "icmp6", Type: typ(2)}, "", false},
		{"icmp6 type 5 is no error", v1.TestCase{From: "fd00::1", Proto: "icmp6", Type: typ(5)}, "fd00::1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, why := compile.Peer(tc.tc)
			if addr != tc.addr || (why == "") != tc.sendable {
				t.Errorf("Peer() = %q, %q; want %q, sendable %v", addr, why, tc.addr, tc.sendable)
			}
		})
	}
}
