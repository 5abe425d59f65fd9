package netns

import (
	"context"
	"errors"
	"testing"
)

// These tests need no privileges: they check what is refused before any
// command runs.
func TestNamesRefused(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"", "a b", "a/b", "../x", "x;y", string(make([]byte, 65))} {
		t.Run(name, func(t *testing.T) {
			if ns, err := New(ctx, name); !errors.Is(err, ErrName) {
				t.Errorf("New(%q) = %v, %v; want ErrName", name, ns, err)
			}
		})
	}
	for _, prefix := range []string{"", "x-", "fwgit"} {
		if _, err := List(prefix); !errors.Is(err, ErrName) {
			t.Errorf("List(%q) = %v, want ErrName", prefix, err)
		}
	}
	ns := &NS{Name: Prefix + "never-created"}
	for _, ifname := range []string{"", "sixteen-chars-xx", "a b", "a/b"} {
		err := Veth(ctx, End{NS: ns, Name: ifname}, End{NS: ns, Name: "ok"})
		if !errors.Is(err, ErrName) {
			t.Errorf("Veth with interface %q = %v, want ErrName", ifname, err)
		}
	}
	if err := Veth(ctx, End{Name: "a"}, End{NS: ns, Name: "b"}); !errors.Is(err, ErrName) {
		t.Errorf("Veth without a namespace = %v, want ErrName", err)
	}
}

func TestValidNames(t *testing.T) {
	tests := []struct {
		s        string
		ns, link bool
	}{
		{"t-0a1b2c3d", true, true},
		{"lab_web-1", true, true},
		{"veth.10", false, true},
		{"fifteen-chars-x", true, true},
		{"sixteen-chars-xx", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			if got := validNSName(tc.s); got != tc.ns {
				t.Errorf("validNSName(%q) = %v, want %v", tc.s, got, tc.ns)
			}
			if got := validIfName(tc.s); got != tc.link {
				t.Errorf("validIfName(%q) = %v, want %v", tc.s, got, tc.link)
			}
		})
	}
}
