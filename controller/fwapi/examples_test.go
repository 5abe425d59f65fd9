package fwapi

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/load"
)

const (
	companyOwner = "f3a9a535-0975-423a-a9af-18c4ce0b6587"
	dataOwner    = "760f5596-41da-4a78-bcd7-e9c6a88f72d7"
)

// examplesServer serves examples/repo, the repository the README tours.
func examplesServer(t *testing.T) (http.Handler, *model.Inventory) {
	t.Helper()
	inv, diags := model.Build(load.Load(os.DirFS("../../examples/repo")))
	if diags.HasErrors() {
		t.Fatalf("examples/repo is invalid:\n%v", diags)
	}
	s := New(Config{Repository: "examples/repo"}, discardLog)
	s.Publish(NewSnapshot(inv, "", nil))
	return s.Handler(), inv
}

// ruleNames reads a JSON array of rule objects (or of VM objects, by
// alias) and returns the rules' manifest names, sorted.
func ruleNames(t *testing.T, inv *model.Inventory, body string) []string {
	t.Helper()
	var objs []struct {
		UUID  string `json:"uuid"`
		Alias string `json:"alias"`
	}
	if err := json.Unmarshal([]byte(body), &objs); err != nil {
		t.Fatalf("not a JSON array: %v: %s", err, body)
	}
	names := []string{}
	for _, o := range objs {
		switch r := inv.RuleByUUID(o.UUID); {
		case o.Alias != "":
			names = append(names, o.Alias)
		case r != nil:
			names = append(names, r.Name)
		default:
			t.Errorf("answer names unknown uuid %s", o.UUID)
		}
	}
	slices.Sort(names)
	return names
}

// TestExamplesRepo runs every endpoint and every GET /rules filter against
// examples/repo, with answers worked out by hand from its manifests.
func TestExamplesRepo(t *testing.T) {
	h, inv := examplesServer(t)
	uuidOf := func(name string) string {
		if f := inv.FirewallByName(name); f != nil {
			return f.UUID
		}
		for _, r := range inv.Rules {
			if r.Name == name {
				return r.UUID
			}
		}
		t.Fatalf("examples/repo has no %s", name)
		return ""
	}
	lists := []struct {
		path string
		want []string
	}{
		{"/rules?owner_uuid=" + dataOwner, []string{"analytics-events", "analytics-notebooks"}},
		{"/rules?global=true", []string{"global-node-exporter", "global-ping4", "global-ping6"}},
		{"/rules?ip=198.18.0.11", []string{"analytics-events"}},
		{"/rules?ip=FD00:77:0::10", []string{"partner-api"}},
		{"/rules?ip=198.19.10.7", []string{}}, // inside a subnet target: no containment
		{"/rules?subnet=198.19.10.0/24", []string{"analytics-notebooks", "office-ssh-bastion", "office-traceroute"}},
		{"/rules?subnet=fd00:66::/64&log=true", []string{"block-abusive-net"}},
		{"/rules?tag[role]=db", []string{"db-no-web-egress", "db-package-mirror", "postgres-exporter", "web-to-db"}},
		{"/rules?tag=metrics", []string{"app-metrics"}},
		{"/rules?tag[pci]=true&owner_uuid=" + companyOwner, []string{"pci-no-smtp"}},
		{"/rules?wildcard=vmall", []string{"analytics-events", "analytics-notebooks", "bastion-ssh", "global-node-exporter", "global-ping4", "global-ping6"}},
		{"/rules?wildcard=any&action=block", []string{"db-no-web-egress", "pci-no-smtp"}},
		{"/rules?protocol=UDP", []string{"office-traceroute"}},
		{"/rules?protocol=icmp6", []string{"global-ping6"}},
		{"/rules?action=block", []string{"block-abusive-net", "db-no-web-egress", "pci-no-smtp", "staging-isolation"}},
		{"/rules?enabled=false", []string{}},
		{"/rules?vm=" + uuidOf("db-1"), []string{}},
		{"/rules/" + uuidOf("web-to-db") + "/vms?owner_uuid=" + companyOwner, []string{"db-1", "staging-1", "web-1", "web-2"}},
		{"/rules/" + uuidOf("global-ping4") + "/vms?owner_uuid=" + dataOwner, []string{"analytics-1"}},
	}
	for _, tc := range lists {
		t.Run(tc.path, func(t *testing.T) {
			a := do(t, h, "GET", tc.path, "")
			if a.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, a.status, a.body)
			}
			if diff := cmp.Diff(tc.want, ruleNames(t, inv, a.body)); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tc.path, diff)
			}
		})
	}

	// Every rule, in canonical text, sorted by uuid.
	a := do(t, h, "GET", "/rules", "")
	var all []struct{ UUID, Rule string }
	if err := json.Unmarshal([]byte(a.body), &all); err != nil || len(all) != len(inv.Rules) {
		t.Fatalf("GET /rules = %d rules (%v), want %d", len(all), err, len(inv.Rules))
	}
	if !slices.IsSortedFunc(all, func(x, y struct{ UUID, Rule string }) int { return strings.Compare(x.UUID, y.UUID) }) {
		t.Errorf("GET /rules is not sorted by uuid")
	}
	canonical := map[string]string{
		"web-to-db":         `FROM tag "role" = "web" TO tag "role" = "db" ALLOW tcp PORT 5432`,
		"block-abusive-net": `FROM (subnet 198.19.66.0/24 OR subnet fd00:66::/64) TO tag "role" = "lb" BLOCK tcp (PORT 80 AND PORT 443) PRIORITY 10`,
		"web-to-cache":      `FROM tag "role" = "web" TO tag "role" = "cache" ALLOW tcp PORTS 6379 - 6380`,
		"partner-api":       `FROM (ip 198.19.77.10 OR ip fd00:77::10) TO tag "role" = "web" ALLOW tcp PORT 8443`,
	}
	for name, want := range canonical {
		var r struct{ Rule string }
		if b := do(t, h, "GET", "/rules/"+uuidOf(name), ""); json.Unmarshal([]byte(b.body), &r) != nil || r.Rule != want {
			t.Errorf("GET /rules/<%s> rule = %q, want %q", name, r.Rule, want)
		}
	}

	// Which rules name db-1: its owner's that select it, and global ones;
	// never the data team's, nor rules that only name it by address.
	a = do(t, h, "GET", "/firewalls/vms/"+uuidOf("db-1"), "")
	got := ruleNames(t, inv, a.body)
	for _, want := range []string{"web-to-db", "postgres-exporter", "db-no-web-egress", "pci-no-smtp", "staging-isolation", "bastion-ssh", "global-ping4"} {
		if !slices.Contains(got, want) {
			t.Errorf("/firewalls/vms/<db-1> lacks %s: %v", want, got)
		}
	}
	for _, not := range []string{"analytics-notebooks", "public-web", "lb-to-web", "web-to-cache"} {
		if slices.Contains(got, not) {
			t.Errorf("/firewalls/vms/<db-1> has %s: %v", not, got)
		}
	}

	// What db-1's agent would resolve: the other sides of its rules.
	a = do(t, h, "POST", "/resolve", `{"owner_uuid":"`+companyOwner+`","vms":["`+uuidOf("db-1")+`"],"tags":{"role":"db","env":"prod","pci":true}}`, "Content-Type", "application/json")
	var res struct {
		Tags   map[string]any `json:"tags"`
		AllVMs bool           `json:"allVMs"`
	}
	if err := json.Unmarshal([]byte(a.body), &res); err != nil || a.status != http.StatusOK {
		t.Fatalf("POST /resolve = %d %s", a.status, a.body)
	}
	roles, _ := res.Tags["role"].([]any)
	for _, want := range []string{"bastion", "monitoring", "web"} {
		if !slices.Contains(roles, any(want)) {
			t.Errorf("/resolve tags.role = %v, want it to include %s", roles, want)
		}
	}
	if res.AllVMs {
		t.Errorf("/resolve allVMs = true; no rule of db-1 has all vms on its other side")
	}
	if a := do(t, h, "GET", "/ping", ""); !strings.Contains(a.body, `"healthy":true`) {
		t.Errorf("GET /ping = %s", a.body)
	}
}
