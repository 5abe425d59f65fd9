package model_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/load"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

const (
	ownerA = "aaaaaaaa-0000-4000-8000-000000000001"
	ownerB = "bbbbbbbb-0000-4000-8000-000000000002"
	uuidX  = "cccccccc-0000-4000-8000-000000000003"
)

// baseFiles is a small valid repository: tags role (web, db) and env (any
// value), web-1 and db-1 of owner A, web-2 of owner B, and lone without an
// owner.
func baseFiles() map[string]string {
	return map[string]string{
		"tags.yaml": `apiVersion: fwgit/v1
kind: Tag
metadata:
  name: role
spec:
  values: [web, db]
---
apiVersion: fwgit/v1
kind: Tag
metadata:
  name: env
`,
		"firewalls/a.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: web-1
spec:
  owner: ` + ownerA + `
  addresses: [198.18.0.11]
  tags: {role: web}
  agent: {url: "https://198.18.0.11:33033"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: db-1
spec:
  owner: ` + ownerA + `
  addresses: [198.18.0.21]
  tags: {role: db}
  agent: {url: "https://198.18.0.21:33033"}
`,
		"firewalls/b.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: web-2
spec:
  owner: ` + ownerB + `
  addresses: [198.18.1.11]
  tags: {role: web}
  agent: {mode: pull}
---
apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: lone
spec:
  addresses: [198.18.2.1]
  agent: {mode: pull}
`,
	}
}

// ruleDoc returns a Rule document of owner (or global when owner is "")
// whose spec.rule is the last line, written as given (so it may be quoted).
func ruleDoc(name, owner, ruleLine string) string {
	scope := "  global: true\n"
	if owner != "" {
		scope = "  owner: " + owner + "\n"
	}
	return "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: " + name + "\nspec:\n" + scope + "  rule: " + ruleLine + "\n"
}

func build(t *testing.T, files map[string]string) (*model.Inventory, diag.List) {
	t.Helper()
	return model.Build(loadOnly(files))
}

func loadOnly(files map[string]string) *load.Repo {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return load.Load(fsys)
}

// at returns "file:line:col" of the first occurrence of needle in file,
// counting the column in bytes from 1.
func at(t *testing.T, files map[string]string, file, needle string) string {
	t.Helper()
	i := strings.Index(files[file], needle)
	if i < 0 {
		t.Fatalf("%q not in %s", needle, file)
	}
	before := files[file][:i]
	line := strings.Count(before, "\n") + 1
	col := i - strings.LastIndex(before, "\n")
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

func short(l diag.List) []string {
	var out []string
	for _, d := range l {
		out = append(out, fmt.Sprintf("%s %s [%s]", d.Pos, d.Severity, d.Code))
	}
	return out
}

func TestBuildChecks(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the base files.
		edit func(f map[string]string)
		// want lists "file:line:col severity [code]"; it may use at() through
		// the files after the edit.
		want func(t *testing.T, f map[string]string) []string
	}{
		{
			name: "clean",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("web-to-db", ownerA, "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432")
			},
			want: func(*testing.T, map[string]string) []string { return nil },
		},
		{
			name: "duplicate firewall name across files",
			edit: func(f map[string]string) {
				f["firewalls/c.yaml"] = strings.Replace(f["firewalls/b.yaml"], "name: web-2", "name: web-1", 1)
			},
			want: func(t *testing.T, f map[string]string) []string {
				// The later file has the duplicate; its web-1 is web-2's
				// twin. lone is a duplicate too.
				return []string{
					at(t, f, "firewalls/c.yaml", "web-1") + " error [duplicate-name]",
					at(t, f, "firewalls/c.yaml", "lone") + " error [duplicate-name]",
				}
			},
		},
		{
			name: "duplicate rule name in one file",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 80") + "---\n" +
					ruleDoc("r", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 81")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{"rules.yaml:12:9 error [duplicate-name]"}
			},
		},
		{
			name: "same name in different kinds is fine",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("web-1", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 80")
			},
			want: func(*testing.T, map[string]string) []string { return nil },
		},
		{
			name: "duplicate explicit UUID across kinds",
			edit: func(f map[string]string) {
				f["firewalls/a.yaml"] = strings.Replace(f["firewalls/a.yaml"], "  name: web-1\n", "  name: web-1\n  uuid: "+uuidX+"\n", 1)
				f["rules.yaml"] = strings.Replace(ruleDoc("r", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 80"),
					"  name: r\n", "  name: r\n  uuid: "+uuidX+"\n", 1)
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "rules.yaml", uuidX) + " error [duplicate-uuid]"}
			},
		},
		{
			name: "explicit UUID equal to a derived one",
			edit: func(f map[string]string) {
				f["firewalls/c.yaml"] = strings.Replace(strings.Replace(f["firewalls/b.yaml"], "name: web-2", "name: web-3\n  uuid: "+
					v1.DeriveUUID(v1.KindFirewall, "web-1"), 1), "name: lone", "name: lone-2", 1)
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "firewalls/c.yaml", v1.DeriveUUID(v1.KindFirewall, "web-1")) + " error [duplicate-uuid]"}
			},
		},
		{
			name: "two settings",
			edit: func(f map[string]string) {
				f["settings.yaml"] = "apiVersion: fwgit/v1\nkind: Settings\nmetadata:\n  name: one\n---\napiVersion: fwgit/v1\nkind: Settings\nmetadata:\n  name: two\n"
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{"settings.yaml:7:1 error [duplicate-settings]"}
			},
		},
		{
			name: "unknown tag in a plain rule",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, "FROM tag role = web TO tag nope ALLOW tcp PORT 80")
			},
			want: func(t *testing.T, f map[string]string) []string {
				// "  rule: " is 8 bytes and "FROM tag role = web TO " 23.
				return []string{"rules.yaml:7:32 error [unknown-tag]"}
			},
		},
		{
			name: "unknown tag in a double-quoted rule with escapes",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, `"FROM tag \"role\" = \"web\" TO tag \"nope\" ALLOW tcp PORT 80"`)
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "rules.yaml", `tag \"nope\"`) + " error [unknown-tag]"}
			},
		},
		{
			name: "unknown tag in a folded rule",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, ">-\n    FROM tag role = web\n    TO (tag role = db OR tag nope)\n    ALLOW tcp PORT 80")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "rules.yaml", "tag nope") + " error [unknown-tag]"}
			},
		},
		{
			name: "rule tag value outside the declared values",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, "FROM any TO tag role = cache ALLOW tcp PORT 6379")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "rules.yaml", "tag role = cache") + " error [unknown-tag-value]"}
			},
		},
		{
			name: "firewall tag undeclared and value undeclared",
			edit: func(f map[string]string) {
				f["firewalls/a.yaml"] = strings.Replace(f["firewalls/a.yaml"], "tags: {role: db}", "tags: {role: cache, zone: 3}", 1)
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{
					at(t, f, "firewalls/a.yaml", "cache") + " error [unknown-tag-value]",
					at(t, f, "firewalls/a.yaml", "3}") + " error [unknown-tag]",
				}
			},
		},
		{
			name: "vm naming no firewall",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, "FROM vm "+uuidX+" TO tag role = db ALLOW tcp PORT 5432")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "rules.yaml", "vm "+uuidX) + " error [unknown-vm]"}
			},
		},
		{
			name: "owned rule naming another owner's firewall and an ownerless one",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", ownerA, "FROM (vm "+v1.DeriveUUID(v1.KindFirewall, "web-2")+" OR vm "+
					v1.DeriveUUID(v1.KindFirewall, "lone")+") TO tag role = db ALLOW tcp PORT 5432")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{
					at(t, f, "rules.yaml", "vm "+v1.DeriveUUID(v1.KindFirewall, "web-2")) + " error [vm-other-owner]",
					at(t, f, "rules.yaml", "vm "+v1.DeriveUUID(v1.KindFirewall, "lone")) + " error [vm-other-owner]",
				}
			},
		},
		{
			name: "global rule may name any firewall",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("r", "", "FROM vm "+v1.DeriveUUID(v1.KindFirewall, "web-2")+" TO vm "+
					v1.DeriveUUID(v1.KindFirewall, "lone")+" ALLOW tcp PORT 22")
			},
			want: func(*testing.T, map[string]string) []string { return nil },
		},
		{
			name: "test case naming an unknown firewall",
			edit: func(f map[string]string) {
				f["tests.yaml"] = "apiVersion: fwgit/v1\nkind: Test\nmetadata:\n  name: t\nspec:\n  cases:\n" +
					"    - {firewall: web-1, from: 198.18.9.9, proto: tcp, port: 22, expect: drop}\n" +
					"    - {firewall: web-9, from: 198.18.9.9, proto: tcp, port: 22, expect: drop}\n"
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{at(t, f, "tests.yaml", "web-9") + " error [unknown-firewall]"}
			},
		},
		{
			name: "selectors that match nothing in scope",
			edit: func(f map[string]string) {
				f["rules.yaml"] = ruleDoc("env", ownerA, "FROM tag env TO tag role = web ALLOW tcp PORT 80") + "---\n" +
					ruleDoc("other-owner", uuidX, "FROM any TO all vms ALLOW tcp PORT 80") + "---\n" +
					ruleDoc("b-has-no-db", ownerB, "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{
					at(t, f, "rules.yaml", "tag env") + " warning [selector-matches-nothing]",
					at(t, f, "rules.yaml", "all vms") + " warning [selector-matches-nothing]",
					at(t, f, "rules.yaml", "tag role = db ALLOW tcp PORT 5432") + " warning [selector-matches-nothing]",
				}
			},
		},
		{
			name: "rule without scope: only the loader's error",
			edit: func(f map[string]string) {
				f["rules.yaml"] = strings.Replace(ruleDoc("r", ownerA, "FROM all vms TO vm "+v1.DeriveUUID(v1.KindFirewall, "web-1")+" ALLOW tcp PORT 80"),
					"  owner: "+ownerA+"\n", "", 1)
			},
			want: func(t *testing.T, f map[string]string) []string {
				// The loader's diagnostic, and nothing from Build.
				got := short(loadOnly(f).Diags)
				if len(got) != 1 || !strings.HasSuffix(got[0], "error [rule-scope]") {
					t.Fatalf("loader diagnostics = %v, want one rule-scope error", got)
				}
				return got
			},
		},
		{
			name: "firewall without an agent",
			edit: func(f map[string]string) {
				f["firewalls/b.yaml"] = strings.ReplaceAll(f["firewalls/b.yaml"], "  agent: {mode: pull}\n", "")
			},
			want: func(t *testing.T, f map[string]string) []string {
				return []string{
					at(t, f, "firewalls/b.yaml", "web-2") + " warning [firewall-no-agent]",
					at(t, f, "firewalls/b.yaml", "lone") + " warning [firewall-no-agent]",
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := baseFiles()
			tc.edit(files)
			_, diags := build(t, files)
			if diff := cmp.Diff(tc.want(t, files), short(diags)); diff != "" {
				t.Errorf("Build diagnostics (-want +got):\n%s\nfull:\n%s", diff, diags)
			}
		})
	}
}

func TestBuildMessages(t *testing.T) {
	files := baseFiles()
	files["firewalls/c.yaml"] = strings.Replace(strings.Replace(files["firewalls/b.yaml"], "name: web-2", "name: web-1", 1), "name: lone", "name: lone-2", 1)
	files["rules.yaml"] = ruleDoc("r", ownerA, "FROM any TO tag role = cache ALLOW tcp PORT 80")
	_, diags := build(t, files)
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		`firewalls/c.yaml:4:9: error: duplicate Firewall name "web-1": first defined at firewalls/a.yaml:4:9 [duplicate-name]`,
		`rules.yaml:7:21: error: rule "r" uses tag "role" = "cache", but the Tag allows only "web", "db" [unknown-tag-value]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestBuildInventory(t *testing.T) {
	files := baseFiles()
	files["settings.yaml"] = "apiVersion: fwgit/v1\nkind: Settings\nmetadata:\n  name: s\nspec:\n  agentPort: 4443\n" +
		"  controllerAddresses: [198.19.0.0/24]\n  management: [198.19.1.0/24, 198.19.1.128/25, \"fd00::/64\"]\n"
	files["firewalls/a.yaml"] = strings.Replace(files["firewalls/a.yaml"], "  tags: {role: db}\n",
		"  tags: {role: db}\n  enabled: false\n  management: [198.19.1.0/25, 10.0.0.0/8]\n", 1)
	files["rules.yaml"] = ruleDoc("z-last", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 80") + "---\n" +
		strings.Replace(ruleDoc("a-first", "", "FROM any TO all vms ALLOW icmp TYPE 8"), "spec:\n", "spec:\n  enabled: false\n  log: true\n  description: ping\n", 1)
	inv, diags := build(t, files)
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", diags)
	}
	type fw struct {
		Name, UUID, Owner string
		Enabled           bool
		Addrs, Mgmt       []string
	}
	var gotFW []fw
	for _, f := range inv.Firewalls {
		g := fw{Name: f.Name, UUID: f.UUID, Owner: f.Owner, Enabled: f.Enabled}
		for _, a := range f.Addresses {
			g.Addrs = append(g.Addrs, a.String())
		}
		for _, p := range f.Management {
			g.Mgmt = append(g.Mgmt, p.String())
		}
		gotFW = append(gotFW, g)
	}
	mgmt := []string{"198.19.1.0/24", "fd00::/64"}
	wantFW := []fw{
		{"db-1", v1.DeriveUUID(v1.KindFirewall, "db-1"), ownerA, false, []string{"198.18.0.21"}, []string{"10.0.0.0/8", "198.19.1.0/24", "fd00::/64"}},
		{"lone", v1.DeriveUUID(v1.KindFirewall, "lone"), "", true, []string{"198.18.2.1"}, mgmt},
		{"web-1", v1.DeriveUUID(v1.KindFirewall, "web-1"), ownerA, true, []string{"198.18.0.11"}, mgmt},
		{"web-2", v1.DeriveUUID(v1.KindFirewall, "web-2"), ownerB, true, []string{"198.18.1.11"}, mgmt},
	}
	if diff := cmp.Diff(wantFW, gotFW); diff != "" {
		t.Errorf("firewalls (-want +got):\n%s", diff)
	}
	type rule struct {
		Name, UUID, Owner         string
		Global, Enabled, Log      bool
		Description, Text, TextAt string
	}
	var gotR []rule
	for _, r := range inv.Rules {
		gotR = append(gotR, rule{r.Name, r.UUID, r.Owner, r.Global, r.Enabled, r.Log, r.Description, r.Text, r.TextPos.String()})
		if r.Parsed == nil {
			t.Errorf("rule %s: Parsed is nil", r.Name)
		}
	}
	wantR := []rule{
		{"a-first", v1.DeriveUUID(v1.KindRule, "a-first"), "", true, false, true, "ping", "FROM any TO all vms ALLOW icmp TYPE 8", "rules.yaml:18:9"},
		{"z-last", v1.DeriveUUID(v1.KindRule, "z-last"), ownerA, false, true, false, "", "FROM any TO tag role = web ALLOW tcp PORT 80", "rules.yaml:7:9"},
	}
	if diff := cmp.Diff(wantR, gotR); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	s := inv.Settings
	got := fmt.Sprintf("%d %v %v %s", s.AgentPort, s.ControllerAddresses, s.Management, s.Pos)
	if want := "4443 [198.19.0.0/24] [198.19.1.0/24 fd00::/64] settings.yaml:2:1"; got != want {
		t.Errorf("Settings = %s, want %s", got, want)
	}
	if got := strings.Join(inv.Tags["role"].Values, ","); got != "web,db" {
		t.Errorf("Tags[role].Values = %s, want web,db", got)
	}
	if inv.Tags["env"].Values != nil {
		t.Errorf("Tags[env].Values = %v, want nil (any value)", inv.Tags["env"].Values)
	}
}

func TestBuildDefaults(t *testing.T) {
	inv, diags := build(t, baseFiles())
	if len(diags) != 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diags)
	}
	if inv.Settings.AgentPort != v1.DefaultAgentPort || inv.Settings.Management != nil {
		t.Errorf("Settings = %+v, want the defaults", inv.Settings)
	}
	for _, f := range inv.Firewalls {
		if !f.Enabled || f.Management != nil {
			t.Errorf("firewall %s: Enabled %v, Management %v; want true, none", f.Name, f.Enabled, f.Management)
		}
	}
}

func TestBuildKeepsFirstOfDuplicates(t *testing.T) {
	files := baseFiles()
	files["z.yaml"] = ruleDoc("r", ownerA, "FROM any TO tag role = db ALLOW tcp PORT 2")
	files["rules.yaml"] = ruleDoc("r", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 1")
	inv, _ := build(t, files)
	if len(inv.Rules) != 1 || inv.Rules[0].Text != "FROM any TO tag role = web ALLOW tcp PORT 1" {
		t.Errorf("Rules = %v, want only the rule of rules.yaml", inv.Rules)
	}
}

func TestNormalizePrefixes(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"10.0.0.0/8 10.1.0.0/16 10.1.2.3/32", "10.0.0.0/8"},
		{"fd00::1/64 198.18.0.7/24 198.18.0.0/24", "198.18.0.0/24 fd00::/64"},
		{"198.18.1.0/24 198.18.0.0/24", "198.18.0.0/24 198.18.1.0/24"},
		{"0.0.0.0/0 ::/0 198.18.0.0/15", "0.0.0.0/0 ::/0"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var in []string
			if tc.in != "" {
				in = strings.Fields(tc.in)
			}
			ps := model.NormalizePrefixes(parseAll(t, in))
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("NormalizePrefixes(%s) = %s, want %s", tc.in, g, tc.want)
			}
		})
	}
}

func parseAll(t *testing.T, ss []string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
