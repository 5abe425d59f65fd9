//go:build linux && netns

package nettest_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nettest"
	"github.com/fwgit/fwgit/internal/nft"
)

func TestNettestHelpersKernel(t *testing.T) {
	var name string
	t.Run("namespace removed at cleanup", func(t *testing.T) {
		ns := nettest.NewNS(t)
		name = ns.Name
		if _, err := os.Stat("/run/netns/" + name); err != nil {
			t.Fatalf("NewNS: %v", err)
		}
		if ns.Path() != "/run/netns/"+name {
			t.Errorf("Path = %q, want /run/netns/%s", ns.Path(), name)
		}
	})
	if _, err := os.Stat("/run/netns/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s outlived its test: %v", name, err)
	}

	p := nettest.NewPair(t)
	r := &nft.Ruleset{Version: nft.IRVersion, Table: "probe_t", Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Accept, Rules: []nft.Rule{{IIF: p.BIf, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 9, Hi: 9}}, Verdict: nft.Drop, Comment: "discard"}}},
	}}
	nettest.LoadNFT(t, p.B, r.Render())
	got := nettest.NFTList(t, p.B, "probe_t")
	for _, want := range []string{"table inet probe_t {", `iifname "veth-b" tcp dport 9 drop comment "discard"`} {
		if !strings.Contains(got, want) {
			t.Errorf("NFTList = %q, want it to contain %q", got, want)
		}
	}
	// The table exists only in B.
	if out, err := p.A.Run(t.Context(), nil, "nft", "list", "tables"); err != nil || strings.Contains(out, "probe_t") {
		t.Errorf("nft list tables in A = %q, %v; want no probe_t", out, err)
	}
	if out := nettest.NFT(t, p.B, "list", "tables"); !strings.Contains(out, "table inet probe_t") {
		t.Errorf("NFT list tables in B = %q, want table inet probe_t", out)
	}

	c := nettest.NFTConn(t, p.B)
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("ListTablesOfFamily: %v", err)
	}
	if len(tables) != 1 || tables[0].Name != "probe_t" {
		t.Errorf("tables seen through NFTConn = %v, want [probe_t]", tables)
	}

	// The pair's addresses answer from the other side.
	for _, dst := range []netip.Addr{p.B4, p.B6} {
		ok, err := netns.Probe{Client: p.A, Server: p.B}.Ping(context.Background(), dst)
		if err != nil || !ok {
			t.Errorf("ping %s from A = %v, %v; want true", dst, ok, err)
		}
	}
	for _, dst := range []netip.Addr{p.A4, p.A6} {
		ok, err := netns.Probe{Client: p.B, Server: p.A}.Ping(context.Background(), dst)
		if err != nil || !ok {
			t.Errorf("ping %s from B = %v, %v; want true", dst, ok, err)
		}
	}
}
