package genrepo_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/schema/fwrule"
	"github.com/fwgit/fwgit/schema/load"
)

func TestGenerateValidates(t *testing.T) {
	tests := []genrepo.Options{
		{Firewalls: 1, Seed: 1},
		{Firewalls: 1, Rules: 5, Tags: 0, Owners: 1, Seed: 2},
		{Firewalls: 3, Rules: 20, Tags: 2, Owners: 5, Seed: 3},
		{Firewalls: 50, Rules: 400, Tags: 6, Owners: 3, Seed: 4},
		{Firewalls: 200, Rules: 2000, Tags: 20, Owners: 7, Seed: 5},
	}
	if !testing.Short() {
		tests = append(tests, genrepo.Options{Firewalls: 1000, Rules: 10000, Tags: 50, Owners: 4, Seed: 1})
	}
	for _, o := range tests {
		t.Run(fmt.Sprintf("fw%d-rules%d-tags%d-owners%d", o.Firewalls, o.Rules, o.Tags, o.Owners), func(t *testing.T) {
			repo := load.Load(genrepo.Generate(o).FS())
			inv, diags := model.Build(repo)
			if len(diags) != 0 {
				capped, more := diags.Cap(20)
				t.Fatalf("generated repository has %d diagnostics (%d not shown):\n%s", len(diags), more, capped)
			}
			if len(inv.Firewalls) != max(o.Firewalls, 1) || len(inv.Rules) != o.Rules || len(inv.Tags) != o.Tags {
				t.Errorf("got %d firewalls, %d rules, %d tags; want %d, %d, %d",
					len(inv.Firewalls), len(inv.Rules), len(inv.Tags), o.Firewalls, o.Rules, o.Tags)
			}
		})
	}
}

func TestGenerateDeterministic(t *testing.T) {
	o := genrepo.Options{Firewalls: 40, Rules: 300, Tags: 10, Owners: 3, Seed: 42}
	a, b := genrepo.Generate(o), genrepo.Generate(o)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs with the same options differ:\n%s", diff)
	}
	o.Seed++
	c := genrepo.Generate(o)
	same := 0
	for p, data := range a {
		if bytes.Equal(data, c[p]) {
			same++
		}
	}
	if same == len(a) {
		t.Error("a different seed gave the same repository")
	}
}

// TestGenerateVariety checks that a repository of the benchmark's size uses
// the whole language and the manifest features the compiler must handle.
func TestGenerateVariety(t *testing.T) {
	o := genrepo.Options{Firewalls: 300, Rules: 3000, Tags: 20, Owners: 4, Seed: 9}
	repo := load.Load(genrepo.Generate(o).FS())
	inv, diags := model.Build(repo)
	if diags.HasErrors() {
		t.Fatalf("errors:\n%s", diags)
	}
	seen := map[string]bool{}
	mark := func(k string, ok bool) {
		if ok {
			seen[k] = true
		}
	}
	for _, r := range inv.Rules {
		p := r.Parsed
		mark("global", r.Global)
		mark("owned", !r.Global)
		mark("log", r.Log)
		mark("priority", p.Priority > 0)
		mark("block", p.Action == fwrule.Block)
		mark("lower-case keywords", strings.HasPrefix(r.Text, "from "))
		mark("port range", slices(p.Ports, func(x fwrule.Port) bool { return x.IsRange }))
		mark("port list", len(p.Ports) > 1)
		mark("port all", p.AllPorts)
		mark("icmp type and code", p.Protocol == fwrule.ICMP && slices(p.Types, func(x fwrule.ICMPType) bool { return x.HasCode }))
		mark("icmp6", p.Protocol == fwrule.ICMP6)
		mark("udp", p.Protocol == fwrule.UDP)
		mark("ah or esp", p.Protocol == fwrule.AH || p.Protocol == fwrule.ESP)
		for _, side := range [][]fwrule.Target{p.From, p.To} {
			mark("OR list", len(side) > 1)
			for _, tg := range side {
				switch tg.Kind {
				case fwrule.TargetAny:
					mark("any", true)
				case fwrule.TargetAllVMs:
					mark("all vms", true)
				case fwrule.TargetIP:
					mark("ip", true)
					mark("ipv6", strings.Contains(tg.Value, ":"))
				case fwrule.TargetSubnet:
					mark("subnet", true)
					mark("ipv6 subnet", strings.Contains(tg.Value, ":"))
				case fwrule.TargetVM:
					mark("vm", true)
				case fwrule.TargetTag:
					mark("bare tag", !tg.HasValue)
					mark("tag value", tg.HasValue)
					mark("number tag value", tg.Value == "zone" && tg.HasValue)
					mark("boolean tag value", tg.Value == "pci" && tg.HasValue)
				}
			}
		}
	}
	for _, f := range inv.Firewalls {
		mark("ownerless firewall", f.Owner == "")
		mark("disabled firewall", !f.Enabled)
		mark("pull agent", f.Agent != nil && f.Agent.Mode == "pull")
		mark("dual stack", len(f.Addresses) > 1)
		mark("own management", len(f.Management) > 1)
	}
	for _, obj := range repo.Objects {
		if obj.Rule != nil {
			mark("explicit rule uuid", obj.Rule.Metadata.UUID != "")
		}
		if obj.Firewall != nil {
			mark("explicit firewall uuid", obj.Firewall.Metadata.UUID != "")
		}
	}
	want := []string{"global", "owned", "log", "priority", "block", "lower-case keywords", "port range", "port list",
		"port all", "icmp type and code", "icmp6", "udp", "ah or esp", "OR list", "any", "all vms", "ip", "ipv6", "subnet",
		"ipv6 subnet", "vm", "bare tag", "tag value", "number tag value", "boolean tag value", "ownerless firewall",
		"disabled firewall", "pull agent", "dual stack", "own management", "explicit rule uuid", "explicit firewall uuid"}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("no %s in a generated repository of %d rules", k, o.Rules)
		}
	}
}

func slices[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if f(x) {
			return true
		}
	}
	return false
}

func TestWriteDir(t *testing.T) {
	files := genrepo.Generate(genrepo.Options{Firewalls: 5, Rules: 10, Tags: 4, Seed: 1})
	dir := t.TempDir()
	if err := files.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	got := genrepo.Files{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files, got); diff != "" {
		t.Errorf("files on disk (-want +got):\n%s", diff)
	}
}
