package fwapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
)

// Firewalls of exampleD.
const (
	shop1 = "5a000000-0000-4000-8000-000000000001" // owner O, tags role=shop env=live rack=7 dmz=true
	shop2 = "5a000000-0000-4000-8000-000000000002" // owner O, disabled, tags role=shop env=test
	lone  = "5a000000-0000-4000-8000-000000000003" // no owner, tags role=shop
)

// exampleD exercises tag values of every JSON type, ownerless and disabled
// firewalls, IPv6 and IPv4-mapped addresses, port ranges and tag sides.
var exampleD = fstest.MapFS{
	"tags.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Tag
metadata: {name: role}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: env}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: rack}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: dmz}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: foo}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: side}
`)},
	"firewalls.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: shop-1, uuid: ` + shop1 + `}
spec:
  owner: ` + ownerO + `
  addresses: ["fd00:0::5", 198.18.5.5]
  tags: {role: shop, env: live, rack: 7, dmz: true}
  agent: {mode: pull}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: shop-2, uuid: ` + shop2 + `}
spec:
  owner: ` + ownerO + `
  enabled: false
  addresses: [198.18.5.6]
  tags: {role: shop, env: test}
  agent: {mode: pull}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: lone, uuid: ` + lone + `}
spec:
  addresses: [198.18.5.7]
  tags: {role: shop}
  agent: {mode: pull}
`)},
	"rules.yaml": {Data: []byte(
		ruleD("d1", ownerO, `FROM tag rack = 7 TO tag role = queue ALLOW udp PORT 5672`, "") +
			ruleD("d2", ownerO, `FROM any TO tag dmz = false ALLOW tcp PORT 1`, "") +
			ruleD("d3", ownerO, `FROM any TO tag dmz = true ALLOW tcp PORT 2`, "  enabled: false\n") +
			ruleD("d4", "", `FROM any TO tag role = shop ALLOW tcp PORT 3`, "") +
			ruleD("d5", ownerO, `FROM ip fd00:0::1 TO tag env = test ALLOW tcp PORTS 30 - 30, 10-20, 5`, "") +
			ruleD("d6", ownerO, `FROM subnet fd00::/64 TO vm `+shop1+` ALLOW tcp PORT 9`, "  description: to shop-1\n  log: true\n") +
			ruleD("d7", ownerP, `FROM any TO all vms ALLOW icmp TYPE 8 CODE 0`, "") +
			ruleD("d8", ownerO, `FROM (tag foo = baz OR tag foo = bar) TO tag side = two ALLOW tcp (PORT 5004 AND PORT 5003)`, "") +
			ruleD("d9", ownerO, `FROM ip 10.0.0.1 TO all vms ALLOW tcp PORT 4`, "") +
			ruleD("da", ownerO, `FROM ip ::ffff:a00:1 TO all vms ALLOW tcp PORT 5`, "") +
			ruleD("db", ownerO, `FROM (tag foo OR tag foo = bar) TO any BLOCK udp PORT 53`, "")),
	},
}

// ruleD is a Rule document whose uuid starts with id (two characters).
func ruleD(id, owner, text, extra string) string {
	return ruleEntry("rule-"+id, dUUID(id), owner, text, extra)
}

var versionDirRE = regexp.MustCompile(`^0\.[0-9]{6}$`)

func dUUID(id string) string { return id + "000000-0000-4000-8000-0000000000" + id }

func newServerFor(t *testing.T, fsys fstest.MapFS, commit string) http.Handler {
	t.Helper()
	s := New(Config{Repository: "dir"}, discardLog)
	s.Publish(NewSnapshot(inventory(t, fsys), commit, nil))
	return s.Handler()
}

// TestListRulesMatching covers §5.2 and checklist items 8–11 on exampleD.
func TestListRulesMatching(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	tests := []struct {
		query string
		want  []string // first two characters of each uuid
	}{
		// ip: equality of parsed addresses, IPv6 spellings, IPv4-mapped kept apart.
		{"ip=fd00::1", []string{"d5"}},
		{"ip=FD00:0:0::1", []string{"d5"}},
		{"ip=10.0.0.1", []string{"d9"}},
		{"ip=::ffff:10.0.0.1", []string{"da"}},
		{"ip=::ffff:a00:1", []string{"da"}},
		{"ip=10.0.0.1,::ffff:10.0.0.1", []string{"d9", "da"}},
		{"ip=10.0.0.1&ip=fd00::1", []string{"d5", "d9"}},
		{"ip[]=%2010.0.0.1%20", []string{"d9"}},
		{"ip=fd00::2", []string{}},
		// subnet: equal subnets only.
		{"subnet=fd00::/64", []string{"d6"}},
		{"subnet=FD00:0::/64", []string{"d6"}},
		{"subnet=fd00::/48", []string{}},
		{"subnet=fd00::/64,10.0.0.0/8", []string{"d6"}},
		// vm, owner_uuid: comma lists and repetitions are alternatives.
		{"vm=" + shop1, []string{"d6"}},
		{"vm=" + shop1 + "," + shop2, []string{"d6"}},
		{"vm=", []string{}},
		{"owner_uuid=" + ownerP, []string{"d7"}},
		{"owner_uuid=" + ownerP + "&owner_uuid=" + ownerO + "&protocol=icmp", []string{"d7"}},
		// tag: bare name, name with values, values as strings.
		{"tag=rack", []string{"d1"}},
		{"tag[rack]=7", []string{"d1"}},
		{"tag[rack]=8", []string{}},
		{"tag[dmz]=true", []string{"d3"}},
		{"tag[dmz]=false&tag[dmz]=true", []string{"d2", "d3"}},
		{"tag[dmz][]=false", []string{"d2"}},
		{"tag[foo]=bar", []string{"d8", "db"}},
		{"tag[foo]=qux", []string{"db"}},
		{"tag=foo&tag=side", []string{"d8", "db"}},
		{"tag[role]=shop&tag[env]=test", []string{"d4", "d5"}},
		{"tag=", []string{}},
		{"tag=nope", []string{}},
		// wildcard, enabled, log, global, action, protocol; AND across parameters.
		{"wildcard=any&owner_uuid=" + ownerO, []string{"d2", "d3", "db"}},
		{"wildcard=vmall", []string{"d7", "d9", "da"}},
		{"wildcard=nope", []string{}},
		{"wildcard=", []string{}},
		{"enabled=false", []string{"d3"}},
		{"log=true", []string{"d6"}},
		{"global=true", []string{"d4"}},
		{"global=true&tag=role", []string{"d4"}},
		{"owner_uuid=" + ownerO + "&tag=role", []string{"d1"}},
		{"owner_uuid=" + ownerO + "&tag[role]=shop", []string{}},
		{"action=block", []string{"db"}},
		{"protocol=UDP", []string{"d1", "db"}},
		{"protocol=Icmp&wildcard=vmall", []string{"d7"}},
		{"ip=fd00::1&tag[env]=test&protocol=tcp&enabled=true", []string{"d5"}},
		{"ip=fd00::1&enabled=false", []string{}},
		// Parameters that are not filters, and query-string spellings.
		{"fields=parsed.action&owner_uuid=" + ownerP, []string{"d7"}},
		{"%74ag%5Brack%5D=7", []string{"d1"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := do(t, h, "GET", "/rules?"+tc.query, "")
			if a.status != 200 {
				t.Fatalf("GET /rules?%s = %d %s", tc.query, a.status, a.body)
			}
			if diff := cmp.Diff(tc.want, uuids(t, a.body)); diff != "" {
				t.Errorf("GET /rules?%s uuids (-want +got):\n%s", tc.query, diff)
			}
			if a.header.Get(HeaderRevision) != "" {
				t.Errorf("%s set for a plain-directory source", HeaderRevision)
			}
		})
	}
}

// TestParsedField covers §2.4: which fields apply, ports, and tag sides.
func TestParsedField(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	tests := []struct {
		query string
		want  map[string]string // rule id → parsed JSON, "" for no parsed key
	}{
		{"fields=parsed.action&fields=parsed.ports&fields=parsed.protocol&fields=parsed.tags&owner_uuid=" + ownerO + "&tag=foo", map[string]string{
			// list.test.js's example (respelled here) comes back in canonical order.
			"d8": `{"action":"allow","fromtags":{"foo":{"all":false,"values":["bar","baz"]}},"ports":[5003,5004],"protocol":"tcp","totags":{"side":{"all":false,"values":["two"]}}}`,
			// A bare tag swallows the values of its name; a side without tags is {}.
			"db": `{"action":"block","fromtags":{"foo":{"all":true,"values":[]}},"ports":[53],"protocol":"udp","totags":{}}`,
		}},
		// A single value is a one-item list; ranges are {start,end}, n - n is n.
		{"fields=parsed.ports&ip=fd00::1", map[string]string{"d5": `{"ports":[5,{"start":10,"end":20},30]}`}},
		{"fields[]=parsed.ports&owner_uuid=" + ownerP, map[string]string{"d7": ""}},
		{"fields=parsed.protocol&fields=parsed.ports&owner_uuid=" + ownerP, map[string]string{"d7": `{"protocol":"icmp"}`}},
		{"fields=parsed.tags&vm=" + shop1, map[string]string{"d6": `{"fromtags":{},"totags":{}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := do(t, h, "GET", "/rules?"+tc.query, "")
			var objs []map[string]json.RawMessage
			if err := json.Unmarshal([]byte(a.body), &objs); err != nil || a.status != 200 {
				t.Fatalf("GET /rules?%s = %d %s", tc.query, a.status, a.body)
			}
			got := map[string]string{}
			for _, o := range objs {
				var id string
				json.Unmarshal(o["uuid"], &id)
				got[id[:2]] = string(o["parsed"])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
		})
	}
	// Without fields there is no parsed, and other endpoints ignore fields.
	for _, path := range []string{"/rules?vm=" + shop1, "/rules/" + dUUID("d6") + "?fields=parsed.action", "/firewalls/vms/" + shop1} {
		if a := do(t, h, "GET", path, ""); a.status != 200 || strings.Contains(a.body, "parsed") {
			t.Errorf("GET %s = %d %s, want no parsed", path, a.status, a.body)
		}
	}
}

// TestRuleObjectShape covers §2.3 and checklist items 4 and 5: exact key
// order and presence, and the canonical FWAPI text.
func TestRuleObjectShape(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	tests := []struct{ id, want string }{
		{"d6", `{"description":"to shop-1","enabled":true,"log":true,"owner_uuid":"` + ownerO + `","rule":"FROM subnet fd00::/64 TO vm ` + shop1 + ` ALLOW tcp PORT 9","uuid":"` + dUUID("d6") + `","version":"V"}`},
		{"d4", `{"enabled":true,"global":true,"log":false,"rule":"FROM any TO tag \"role\" = \"shop\" ALLOW tcp PORT 3","uuid":"` + dUUID("d4") + `","version":"V"}`},
		{"d3", `{"enabled":false,"log":false,"owner_uuid":"` + ownerO + `","rule":"FROM any TO tag \"dmz\" = \"true\" ALLOW tcp PORT 2","uuid":"` + dUUID("d3") + `","version":"V"}`},
		{"d5", `{"enabled":true,"log":false,"owner_uuid":"` + ownerO + `","rule":"FROM ip fd00:0::1 TO tag \"env\" = \"test\" ALLOW tcp PORTS 5, 10 - 20, 30","uuid":"` + dUUID("d5") + `","version":"V"}`},
	}
	for _, tc := range tests {
		a := do(t, h, "GET", "/rules/"+dUUID(tc.id), "")
		var obj struct{ Version string }
		json.Unmarshal([]byte(a.body), &obj)
		got := strings.Replace(strings.TrimSpace(a.body), `"version":"`+obj.Version+`"`, `"version":"V"`, 1)
		if a.status != 200 || got != tc.want {
			t.Errorf("GET /rules/%s = %d\n%s\nwant\n%s", tc.id, a.status, got, tc.want)
		}
		if !versionDirRE.MatchString(obj.Version) {
			t.Errorf("version %q of a plain-directory rule", obj.Version)
		}
	}
}

// TestRuleEndpointsChecks covers the order of checks of §6, §7 and §8.
func TestRuleEndpointsChecks(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	const (
		forbiddenBody = `{"code":"Forbidden","message":"owner does not match","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"owner_uuid does not match"}]}`
		missingOwner  = `{"code":"MissingParameter","message":"\"owner_uuid\" parameter required"}`
		badPathUUID   = `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"uuid","code":"InvalidParameter","message":"Invalid UUID"}]}`
		ruleNotFound  = `{"code":"ResourceNotFound","message":"Rule not found"}`
		vmNotFound    = `{"code":"ResourceNotFound","message":"VM not found"}`
		unknownRule   = "/rules/99999999-9999-4999-8999-999999999999"
	)
	owned, global := "/rules/"+dUUID("d2"), "/rules/"+dUUID("d4")
	tests := []getCase{
		// §6 GET /rules/:uuid.
		{"/rules/" + strings.ToUpper(dUUID("d2")), 422, badPathUUID, nil},
		{"/rules/", 422, badPathUUID, nil},
		{"/rules/a%2Fb", 422, badPathUUID, nil},
		{unknownRule + "?owner_uuid=" + ownerO, 404, ruleNotFound, nil},
		{owned, 200, "", nil},
		{owned + "?owner_uuid=" + ownerO, 200, "", nil},
		{owned + "?owner_uuid=" + ownerO + "&bogus=1&uuid=x", 200, "", nil},
		{owned + "?owner_uuid=" + ownerP, 403, forbiddenBody, nil},
		{owned + "?owner_uuid=", 403, forbiddenBody, nil},
		{owned + "?owner_uuid=not-a-uuid", 403, forbiddenBody, nil},
		{owned + "?owner_uuid=" + ownerO + "&owner_uuid=" + ownerO, 403, forbiddenBody, nil},
		{global, 200, "", nil},
		{global + "?owner_uuid=" + ownerO, 403, forbiddenBody, nil},
		{global + "?owner_uuid", 403, forbiddenBody, nil},
		// §7 GET /rules/:uuid/vms: 422, 404, 403, then 409.
		{"/rules/nope/vms", 422, badPathUUID, nil},
		{unknownRule + "/vms", 404, ruleNotFound, nil},
		{owned + "/vms?owner_uuid=" + ownerP, 403, forbiddenBody, nil},
		{owned + "/vms?owner_uuid=", 403, forbiddenBody, nil},
		{owned + "/vms", 409, missingOwner, nil},
		{global + "/vms", 409, missingOwner, nil},
		{global + "/vms?owner_uuid=", 409, missingOwner, nil},
		{global + "/vms?owner_uuid=" + ownerO, 200, "", []string{"5a", "5a"}},
		{global + "/vms?owner_uuid=" + ownerP, 200, "", []string{}},
		{global + "/vms?owner_uuid=not-a-uuid", 200, "", []string{}},
		{owned + "/vms?owner_uuid=" + ownerO + "&bogus=1", 200, "", []string{}},
		{"/rules/" + dUUID("d1") + "/vms?owner_uuid=" + ownerO, 200, "", []string{"5a"}},
		{"/rules/" + dUUID("d7") + "/vms?owner_uuid=" + ownerP, 200, "", []string{}},
		// §8 GET /firewalls/vms/:uuid.
		{"/firewalls/vms/" + shop1, 200, "", []string{"d1", "d3", "d4", "d6", "d9", "da"}},
		{"/firewalls/vms/" + shop2, 200, "", []string{"d4", "d5", "d9", "da"}},
		{"/firewalls/vms/" + lone, 200, "", []string{"d4"}},
		{"/firewalls/vms/" + lone + "?owner_uuid=" + ownerO, 404, vmNotFound, nil},
		{"/firewalls/vms/" + shop1 + "?owner_uuid=" + ownerO, 200, "", []string{"d1", "d3", "d4", "d6", "d9", "da"}},
		{"/firewalls/vms/" + shop1 + "?owner_uuid=" + ownerP, 404, vmNotFound, nil},
		{"/firewalls/vms/" + shop1 + "?uuid=nope", 200, "", []string{"d1", "d3", "d4", "d6", "d9", "da"}},
		{"/firewalls/vms/99999999-9999-4999-8999-999999999999", 404, vmNotFound, nil},
		{"/firewalls/vms/99999999-9999-4999-8999-999999999999?x=1", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":["x"],"code":"UnknownParameters","message":"Unknown parameters: x"}]}`, nil},
		{"/firewalls/vms/" + shop1 + "?owner_uuid=", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"}]}`, nil},
		{"/firewalls/vms/" + shop1 + "?owner_uuid=" + ownerO + "&owner_uuid=" + ownerO, 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"}]}`, nil},
		{"/firewalls/vms/?owner_uuid=x&b=1&a=1", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":["a","b"],"code":"UnknownParameters","message":"Unknown parameters: a, b"},{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"},{"field":"uuid","code":"InvalidParameter","message":"invalid UUID"}]}`, nil},
	}
	checkGETs(t, h, tests)
}

// TestVMObjects covers §2.2: keys, tags with their JSON types and sorted
// keys, {} without tags, owner omitted, ips as written.
func TestVMObjects(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	a := do(t, h, "GET", "/rules/"+dUUID("d4")+"/vms?owner_uuid="+ownerO, "")
	want := `[{"alias":"shop-1","firewall_enabled":true,"ips":["fd00:0::5","198.18.5.5"],"owner_uuid":"` + ownerO + `","state":"running","tags":{"dmz":true,"env":"live","rack":7,"role":"shop"},"uuid":"` + shop1 + `"},` +
		`{"alias":"shop-2","firewall_enabled":false,"ips":["198.18.5.6"],"owner_uuid":"` + ownerO + `","state":"running","tags":{"env":"test","role":"shop"},"uuid":"` + shop2 + `"}]`
	if a.status != 200 || strings.TrimSpace(a.body) != want {
		t.Errorf("VM objects = %d\n%s\nwant\n%s", a.status, a.body, want)
	}
	// Tags sort by UTF-16 code units: U+1F600 (a surrogate pair) before U+FF21.
	b, _ := json.Marshal(newVMObject(&model.Firewall{Name: "x", UUID: "u", Tags: nil}))
	if want := `{"alias":"x","firewall_enabled":false,"ips":[],"state":"running","tags":{},"uuid":"u"}`; string(b) != want {
		t.Errorf("VM object without owner, tags or addresses = %s, want %s", b, want)
	}
	m, _ := json.Marshal(orderedMap{{"\uff21", 1}, {"\U0001F600", 2}, {"b", 3}, {"B", 4}})
	if want := `{"B":4,"b":3,"` + "\U0001F600" + `":2,"` + "\uff21" + `":1}`; string(m) != want {
		t.Errorf("orderedMap = %s, want %s", m, want)
	}
}

// TestMethodsAndPaths covers §1.6 and §11.1: 404 for unknown paths, 405
// with Allow and the read-only or generic body, HEAD.
func TestMethodsAndPaths(t *testing.T) {
	s := New(Config{Repository: "https://u:p@git.example/p.git", Branch: "main", Path: "policy"}, discardLog)
	h := s.Handler() // no revision loaded: 405 and 404 do not wait for one
	const readOnly = `{"code":"MethodNotAllowed","message":"rules are read-only here: change them in the Git repository https://git.example/p.git","repository":"https://git.example/p.git","branch":"main","path":"policy"}`
	generic := func(m string) string { return `{"code":"MethodNotAllowed","message":"` + m + ` is not allowed"}` }
	tests := []struct {
		method, path string
		status       int
		allow        []string // nil: no Allow header
		want         string
	}{
		{"POST", "/rules", 405, []string{"GET, HEAD"}, readOnly},
		{"PUT", "/rules/" + dUUID("d1"), 405, []string{"GET, HEAD"}, readOnly},
		{"DELETE", "/rules/not-a-uuid", 405, []string{"GET, HEAD"}, readOnly},
		{"PATCH", "/rules/" + dUUID("d1"), 405, []string{"GET, HEAD"}, readOnly},
		{"OPTIONS", "/rules", 405, []string{"GET, HEAD"}, readOnly},
		{"POST", "/rules/" + dUUID("d1") + "/vms", 405, []string{"GET, HEAD"}, readOnly},
		{"POST", "/updates", 405, []string{""}, readOnly},
		{"DELETE", "/updates", 405, []string{""}, readOnly},
		{"GET", "/updates", 405, []string{""}, generic("GET")},
		{"GET", "/resolve", 405, []string{"POST"}, generic("GET")},
		{"PUT", "/resolve", 405, []string{"POST"}, generic("PUT")},
		{"POST", "/ping", 405, []string{"GET, HEAD"}, generic("POST")},
		{"DELETE", "/firewalls/vms/" + shop1, 405, []string{"GET, HEAD"}, generic("DELETE")},
		{"OPTIONS", "/firewalls/vms/" + shop1, 405, []string{"GET, HEAD"}, generic("OPTIONS")},
		{"GET", "/nope", 404, nil, `{"code":"ResourceNotFound","message":"/nope does not exist"}`},
		{"POST", "/nope%20x", 404, nil, `{"code":"ResourceNotFound","message":"/nope%20x does not exist"}`},
		{"GET", "/firewalls", 404, nil, `{"code":"ResourceNotFound","message":"/firewalls does not exist"}`},
		{"GET", "/firewalls/vms", 404, nil, `{"code":"ResourceNotFound","message":"/firewalls/vms does not exist"}`},
		{"GET", "/firewalls/x/" + shop1, 404, nil, `{"code":"ResourceNotFound","message":"/firewalls/x/` + shop1 + ` does not exist"}`},
		{"GET", "/rules/a/b?x=1", 404, nil, `{"code":"ResourceNotFound","message":"/rules/a/b does not exist"}`},
		{"GET", "/rules/a/vms/", 404, nil, `{"code":"ResourceNotFound","message":"/rules/a/vms/ does not exist"}`},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := do(t, h, tc.method, tc.path, `{"rule":`)
			if a.status != tc.status || strings.TrimSpace(a.body) != tc.want {
				t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, a.status, a.body, tc.status, tc.want)
			}
			if got := a.header.Values("Allow"); !cmp.Equal(got, tc.allow, cmpEmpty) {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	// A plain directory names the directory.
	s = New(Config{Repository: "/srv/policy"}, discardLog)
	a := do(t, s.Handler(), "POST", "/rules", "")
	if want := `{"code":"MethodNotAllowed","message":"rules are read-only here: change them in /srv/policy","repository":"/srv/policy"}`; strings.TrimSpace(a.body) != want {
		t.Errorf("POST /rules (directory) = %s, want %s", a.body, want)
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
})

// TestGateAndPing covers §1.1, §4 and checklist items 1, 2 and 29.
func TestGateAndPing(t *testing.T) {
	s := New(Config{Repository: "dir"}, discardLog)
	h := s.Handler()
	const gate = `{"code":"ServiceUnavailable","message":"no valid revision of the repository has been loaded yet"}`
	requests := []struct{ method, path, body string }{
		{"GET", "/rules", ""},
		{"GET", "/rules?ip=bad", ""},
		{"GET", "/rules/nope", ""},
		{"GET", "/rules/" + dUUID("d1") + "/vms", ""},
		{"GET", "/firewalls/vms/" + shop1, ""},
		{"HEAD", "/rules", ""},
		{"POST", "/resolve", `[`},
	}
	check := func(when string) {
		for _, r := range requests {
			a := do(t, h, r.method, r.path, r.body, "Content-Type", "application/json")
			if a.status != 503 || (r.method != "HEAD" && strings.TrimSpace(a.body) != gate) {
				t.Errorf("%s: %s %s = %d %s, want 503", when, r.method, r.path, a.status, a.body)
			}
		}
	}
	ping := func(want string) {
		t.Helper()
		a := do(t, h, "GET", "/ping?agents=true", "")
		if a.status != 200 || strings.TrimSpace(a.body) != want {
			t.Errorf("GET /ping = %d %s, want %s", a.status, a.body, want)
		}
	}
	check("initializing")
	ping(`{"healthy":false,"services":{"repository":"initializing"},"status":"initializing"}`)
	s.LoadFailed()
	check("offline")
	ping(`{"healthy":false,"services":{"repository":"offline"},"status":"offline"}`)

	const commit = "5e2f0c1a00000000000000000000000000000000"
	s.Publish(NewSnapshot(inventory(t, exampleD), commit, nil))
	s.LoadFailed() // a later failure keeps the good revision online
	ping(`{"healthy":true,"services":{"repository":"online"},"status":"OK","revision":"` + commit + `"}`)
	for _, r := range requests[:5] {
		a := do(t, h, r.method, r.path, "")
		if a.status == 503 || a.header.Get(HeaderRevision) != commit || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s after load = %d, headers %v", r.method, r.path, a.status, a.header)
		}
	}
	if a := do(t, h, "GET", "/firewalls/vms/"+shop1, ""); a.status != 200 {
		t.Errorf("GET /firewalls/vms after load = %d %s", a.status, a.body)
	}

	// HEAD: same status and headers, no body.
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/ping", 200}, {"/rules?ip=bad", 422}, {"/rules/" + dUUID("d4"), 200}, {"/nope", 404}, {"/resolve", 405}} {
		req, _ := http.NewRequest("HEAD", srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || len(body) != 0 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s = %d %q %v, want %d and no body", tc.path, resp.StatusCode, body, resp.Header, tc.status)
		}
	}
}

// TestAuth covers §1.7: 401 before any other check, /ping exempt, constant
// message and header.
func TestAuth(t *testing.T) {
	s := New(Config{Repository: "dir", Token: "tok"}, discardLog)
	h := s.Handler()
	const denied = `{"code":"InvalidCredentials","message":"missing or invalid bearer token"}`
	for _, tc := range []struct{ method, path, auth string }{
		{"GET", "/rules", ""},
		{"GET", "/rules", "Bearer nope"},
		{"GET", "/rules", "tok"},
		{"GET", "/rules", "Basic tok"},
		{"POST", "/rules", ""},
		{"GET", "/nope", ""},
		{"POST", "/resolve", "Bearer "},
	} {
		a := do(t, h, tc.method, tc.path, "", "Authorization", tc.auth)
		if a.status != 401 || strings.TrimSpace(a.body) != denied || a.header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s %s with %q = %d %s %v", tc.method, tc.path, tc.auth, a.status, a.body, a.header)
		}
	}
	if a := do(t, h, "GET", "/ping", ""); a.status != 200 {
		t.Errorf("GET /ping without a token = %d", a.status)
	}
	if a := do(t, h, "POST", "/rules", "", "Authorization", "Bearer tok"); a.status != 405 {
		t.Errorf("POST /rules with the token = %d", a.status)
	}
	if a := do(t, h, "GET", "/rules", "", "Authorization", "Bearer tok"); a.status != 503 {
		t.Errorf("GET /rules with the token before a load = %d", a.status)
	}
}

// TestQueryForms covers §1.4: what each query-string form gives, as
// restify would put it in req.params.
func TestQueryForms(t *testing.T) {
	tests := []struct {
		raw  string
		want map[string]any
	}{
		{"", map[string]any{}},
		{"ip=a", map[string]any{"ip": "a"}},
		{"ip=a&ip=b", map[string]any{"ip": []any{"a", "b"}}},
		{"ip[]=a", map[string]any{"ip": []any{"a"}}},
		{"ip=a&ip[]=b", map[string]any{"ip": []any{"a", "b"}}},
		{"ip=a,b", map[string]any{"ip": "a,b"}},
		{"tag[role]=db", map[string]any{"tag": map[string]any{"role": "db"}}},
		{"tag[role]=db&tag[role]=www&tag[env]=", map[string]any{"tag": map[string]any{"role": []any{"db", "www"}, "env": ""}}},
		{"tag[role][]=db", map[string]any{"tag": map[string]any{"role": []any{"db"}}}},
		{"tag[a=b]=c", map[string]any{"tag": map[string]any{"a=b": "c"}}},
		{"tag[a+b]=c+d&x+y=%2B", map[string]any{"tag": map[string]any{"a b": "c d"}, "x y": "+"}},
		{"a=%zz&b=%C3%A9&c=%C3&d=%E2%82", map[string]any{"a": "%zz", "b": "\u00e9", "c": "%C3", "d": "%E2%82"}},
		{"a&b=&&=x&=", map[string]any{"a": "", "b": ""}},
		{"a=1=2", map[string]any{"a": "1=2"}},
	}
	for _, tc := range tests {
		got := map[string]any{}
		for name, p := range parseQuery(tc.raw) {
			got[name] = queryValue(p)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseQuery(%q) (-want +got):\n%s", tc.raw, diff)
		}
	}
	// Parts after the first 1000 are ignored, as qs's parameterLimit does.
	raw := strings.Repeat("a=1&", maxQueryParts) + "b=2"
	if q := parseQuery(raw); q["b"] != nil || len(q["a"].values) != maxQueryParts {
		t.Errorf("parseQuery of %d parts kept b or lost a", maxQueryParts+1)
	}
}
