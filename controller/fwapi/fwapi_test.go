package fwapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/load"
)

const (
	ownerO = "0a0a0a0a-0000-4000-8000-00000000000a"
	ownerP = "0b0b0b0b-0000-4000-8000-00000000000b"
	apiFW  = "6f1c2a9e-0000-4000-8000-000000000001"
	jumpFW = "1a2b3c4d-0000-4000-8000-000000000002"
	otherF = "7c7c7c7c-0000-4000-8000-000000000003"
)

// exampleC is the repository of spec/fwapi.md §9.7, with a firewall of
// owner P and an ownerless one added.
var exampleC = fstest.MapFS{
	"tags.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Tag
metadata: {name: tier}
spec: {values: [web, db]}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: scanner}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: dmz}
`)},
	"firewalls.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: api, uuid: ` + apiFW + `}
spec:
  owner: ` + ownerO + `
  addresses: [198.18.1.1, "fd00::1:1"]
  tags: {tier: web}
  agent: {url: "https://198.18.1.1:33033"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: jump, uuid: ` + jumpFW + `}
spec:
  owner: ` + ownerO + `
  addresses: [198.18.1.2]
  agent: {url: "https://198.18.1.2:33033"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: other, uuid: ` + otherF + `}
spec:
  owner: ` + ownerP + `
  addresses: [198.18.2.1]
  tags: {tier: web, dmz: true}
  agent: {url: "https://198.18.2.1:33033"}
`)},
	"rules.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r1, uuid: 11111111-1111-4111-8111-111111111111}
spec: {owner: ` + ownerO + `, rule: "FROM all vms TO all vms ALLOW tcp PORT 22"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r2, uuid: 22222222-2222-4222-8222-222222222222}
spec: {owner: ` + ownerO + `, rule: "FROM vm ` + jumpFW + ` TO tag tier ALLOW tcp PORT 22"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r3, uuid: 33333333-3333-4333-8333-333333333333}
spec: {owner: ` + ownerO + `, rule: "FROM tag tier = web TO tag tier = db BLOCK tcp PORT 11211"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r4, uuid: 44444444-4444-4444-8444-444444444444}
spec: {global: true, description: "no scanners", rule: "FROM tag scanner TO all vms BLOCK tcp PORT all"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r5, uuid: 55555555-5555-4555-8555-555555555555}
spec: {owner: ` + ownerP + `, rule: "FROM any TO tag tier = web ALLOW tcp (PORT 80 AND PORT 443)"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r6, uuid: 66666666-6666-4666-8666-666666666666}
spec: {owner: ` + ownerO + `, enabled: false, rule: "from ip 198.18.99.1 to tag tier = web allow tcp port 8080"}
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: r7, uuid: 77777777-7777-4777-8777-777777777777}
spec: {owner: ` + ownerP + `, log: true, rule: "FROM subnet 198.18.64.0/18 TO tag dmz = false ALLOW tcp PORTS 1-65535"}
`)},
}

// discardLog is the logger of the servers under test.
var discardLog = slog.New(slog.DiscardHandler)

// inventory builds the inventory of the repository fsys, which must be
// valid.
func inventory(t *testing.T, fsys fstest.MapFS) *model.Inventory {
	t.Helper()
	inv, diags := model.Build(load.Load(fsys))
	if diags.HasErrors() {
		t.Fatalf("repository invalid:\n%v", diags)
	}
	return inv
}

// ruleEntry is a Rule document, with its leading ---, called name with
// uuid, owned by owner (global when owner is empty), plus extra spec lines.
func ruleEntry(name, uuid, owner, text, extra string) string {
	scope := "owner: " + owner
	if owner == "" {
		scope = "global: true"
	}
	return "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: " + name + ", uuid: " + uuid + "}\nspec:\n  " + scope + "\n  rule: '" + text + "'\n" + extra
}

func newTestServer(t *testing.T, cfg Config) (*Server, *Snapshot) {
	t.Helper()
	snap := NewSnapshot(inventory(t, exampleC), "0123456789abcdef0123456789abcdef01234567", nil)
	s := New(cfg, discardLog)
	s.Publish(snap)
	return s, snap
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, h http.Handler, method, target, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// uuids extracts the "uuid" of every object of a JSON array.
func uuids(t *testing.T, body string) []string {
	t.Helper()
	var objs []map[string]any
	if err := json.Unmarshal([]byte(body), &objs); err != nil {
		t.Fatalf("not a JSON array: %v: %s", err, body)
	}
	out := []string{}
	for _, o := range objs {
		out = append(out, o["uuid"].(string)[:2])
	}
	return out
}

// getCase is a GET request and its expected answer.
type getCase struct {
	path   string
	status int
	want   string   // exact body, or ""
	uuids  []string // when set, the answer's uuid prefixes
}

// checkGETs sends each case's request to h in a subtest named by its path.
func checkGETs(t *testing.T, h http.Handler, tests []getCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := do(t, h, "GET", tc.path, "")
			if a.status != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, a.status, a.body, tc.status)
			}
			if tc.want != "" && strings.TrimSpace(a.body) != tc.want {
				t.Errorf("GET %s = %s, want %s", tc.path, a.body, tc.want)
			}
			if tc.uuids != nil {
				if diff := cmp.Diff(tc.uuids, uuids(t, a.body)); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", tc.path, diff)
				}
			}
		})
	}
}

func TestListRulesFilters(t *testing.T) {
	s, _ := newTestServer(t, Config{Repository: "https://git.example/policy.git", Branch: "main"})
	h := s.Handler()
	tests := []struct {
		query string
		want  []string // first two characters of each uuid
	}{
		{"", []string{"11", "22", "33", "44", "55", "66", "77"}},
		{"owner_uuid=" + ownerO, []string{"11", "22", "33", "66"}},
		{"owner_uuid=" + ownerO + "&global=true", []string{}},
		{"global=true", []string{"44"}},
		{"global=false", []string{"11", "22", "33", "55", "66", "77"}},
		{"owner_uuid=" + ownerO + "," + ownerP, []string{"11", "22", "33", "55", "66", "77"}},
		{"owner_uuid=" + ownerO + "&owner_uuid=" + ownerP + "&enabled=false", []string{"66"}},
		{"owner_uuid=", []string{}},
		{"vm=" + jumpFW, []string{"22"}},
		{"ip=198.18.99.1", []string{"66"}},
		{"ip=198.18.64.9", []string{}},
		{"subnet=198.18.64.0/18", []string{"77"}},
		{"subnet=198.18.0.0/15", []string{}},
		{"tag=tier", []string{"22", "33", "55", "66"}},
		{"tag[tier]=db", []string{"22", "33"}},
		{"tag[tier]=web&tag=scanner", []string{"22", "33", "44", "55", "66"}},
		{"tag[dmz]=true", []string{}},
		{"wildcard=vmall", []string{"11", "44"}},
		{"wildcard=any", []string{"55"}},
		{"protocol=TCP&action=block", []string{"33", "44"}},
		{"log=true", []string{"77"}},
		{"ip=198.18.99.1&tag=tier", []string{"66"}},
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
			if got := a.header.Get(HeaderRevision); got != "0123456789abcdef0123456789abcdef01234567" {
				t.Errorf("%s = %q", HeaderRevision, got)
			}
		})
	}
}

// invalid is the 422 body holding items, in the given order.
func invalid(items ...string) string {
	return `{"code":"InvalidParameters","message":"Invalid parameters","errors":[` + strings.Join(items, ",") + `]}`
}

const protocol409 = `{"code":"InvalidArgument","message":"Invalid value for protocol: must be one of: tcp, udp, icmp, icmp6, ah, esp"}`

func TestListRulesErrors(t *testing.T) {
	s, _ := newTestServer(t, Config{Repository: "dir"})
	h := s.Handler()
	tests := []struct {
		query  string
		status int
		want   string
	}{
		{"ip=not-an-ip", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["not-an-ip"]}]}`},
		{"ip=b,a", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"ip","code":"InvalidParameter","message":"invalid IPs","invalid":["a","b"]}]}`},
		{"ip=", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["Empty string"]}]}`},
		{"owner_uuid=not-a-uuid", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID","invalid":["not-a-uuid"]}]}`},
		{"subnet=not-a-subnet", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"subnet","code":"InvalidParameter","message":"Subnet must be in CIDR form","invalid":["not-a-subnet"]}]}`},
		{"subnet=10.0.0.1/8", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"subnet","code":"InvalidParameter","message":"Subnet must be in CIDR form","invalid":["10.0.0.1/8"]}]}`},
		{"enabled=foobar", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"enabled","code":"InvalidParameter","message":"must be a boolean value"}]}`},
		{"vm=nope&ip=nope", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["nope"]},{"field":"vm","code":"InvalidParameter","message":"invalid UUID","invalid":["nope"]}]}`},
		{"action=deny", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"action","code":"InvalidParameter","message":"action must be \"block\" or \"allow\""}]}`},
		{"zzz=1&aaa=2", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":["aaa","zzz"],"code":"UnknownParameters","message":"Unknown parameters: aaa, zzz"}]}`},
		{"fields=parsed.nope", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"fields","code":"InvalidParameter","message":"unknown field specified"}]}`},
		{"protocol=gre", 409, `{"code":"InvalidArgument","message":"Invalid value for protocol: must be one of: tcp, udp, icmp, icmp6, ah, esp"}`},
		{"protocol=%20", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"protocol","code":"InvalidParameter","message":"must not be empty"}]}`},

		// ip and subnet: trimmed items; bad ones sorted, not de-duplicated;
		// "Empty string" only for an empty value; list items are not split.
		{"ip=1.2.3.4,,x", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IPs","invalid":["","x"]}`)},
		{"ip=x&ip=x", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IPs","invalid":["x","x"]}`)},
		{"ip=b&ip=1.2.3.4,1.2.3.5", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IPs","invalid":["1.2.3.4,1.2.3.5","b"]}`)},
		{"ip[]=", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":[""]}`)},
		{"ip=%20x%20,01.2.3.4", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IPs","invalid":["01.2.3.4","x"]}`)},
		{"ip=fe80::1%25eth0", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["fe80::1%eth0"]}`)},
		{"ip=10.0.0.0/8", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["10.0.0.0/8"]}`)},
		{"ip[k]=1.2.3.4", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"must be a string"}`)},
		{"subnet=", 422, invalid(`{"field":"subnet","code":"InvalidParameter","message":"Subnet must be in CIDR form","invalid":["Empty string"]}`)},
		{"subnet=10.0.0.0/7,fd00::/129,10.0.0.0/33,10.0.0.0/x,10.0.0.0/8/8,10.0.0.0", 422, invalid(`{"field":"subnet","code":"InvalidParameter","message":"Subnet must be in CIDR form","invalid":["10.0.0.0","10.0.0.0/33","10.0.0.0/7","10.0.0.0/8/8","10.0.0.0/x","fd00::/129"]}`)},
		{"subnet[k]=10.0.0.0/8", 422, invalid(`{"field":"subnet","code":"InvalidParameter","message":"must be a string"}`)},
		// owner_uuid and vm: distinct bad items; an empty item is bad.
		{"owner_uuid=a,,a", 422, invalid(`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID","invalid":["","a"]}`)},
		{"owner_uuid=" + ownerO + ",", 422, invalid(`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID","invalid":[""]}`)},
		{"vm=" + strings.ToUpper(jumpFW), 422, invalid(`{"field":"vm","code":"InvalidParameter","message":"invalid UUID","invalid":["` + strings.ToUpper(jumpFW) + `"]}`)},
		{"vm=" + jumpFW + "," + apiFW + "&vm=" + jumpFW, 422, invalid(`{"field":"vm","code":"InvalidParameter","message":"invalid UUID","invalid":["` + jumpFW + "," + apiFW + `"]}`)},
		{"vm[k]=" + jumpFW, 422, invalid(`{"field":"vm","code":"InvalidParameter","message":"must be an array of strings"}`)},
		// Booleans and action.
		{"enabled=TRUE", 422, invalid(`{"field":"enabled","code":"InvalidParameter","message":"must be a boolean value"}`)},
		{"global=true&global=true", 422, invalid(`{"field":"global","code":"InvalidParameter","message":"must be a boolean value"}`)},
		{"log=", 422, invalid(`{"field":"log","code":"InvalidParameter","message":"must be a boolean value"}`)},
		{"action=ALLOW", 422, invalid(`{"field":"action","code":"InvalidParameter","message":"action must be \"block\" or \"allow\""}`)},
		// protocol: string, length in UTF-16 units, JavaScript whitespace;
		// 409 only when nothing else is wrong.
		{"protocol=a&protocol=b", 422, invalid(`{"field":"protocol","code":"InvalidParameter","message":"must be a string"}`)},
		{"protocol=" + strings.Repeat("x", 65), 422, invalid(`{"field":"protocol","code":"InvalidParameter","message":"must not be longer than 64 characters"}`)},
		{"protocol=" + strings.Repeat("%F0%9F%98%80", 33), 422, invalid(`{"field":"protocol","code":"InvalidParameter","message":"must not be longer than 64 characters"}`)},
		{"protocol=" + strings.Repeat("%E2%82%AC", 64), 409, protocol409},
		{"protocol=%E2%80%83%EF%BB%BF+", 422, invalid(`{"field":"protocol","code":"InvalidParameter","message":"must not be empty"}`)},
		{"protocol=%C2%85", 409, protocol409},
		{"protocol=gre&ip=x", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["x"]}`)},
		{"protocol=gre&bogus=1", 422, invalid(`{"field":["bogus"],"code":"UnknownParameters","message":"Unknown parameters: bogus"}`)},
		{"protocol=tcp%20", 409, protocol409},
		// fields.
		{"fields[k]=parsed.action", 422, invalid(`{"field":"fields","code":"InvalidParameter","message":"must be an array of strings"}`)},
		{"fields=parsed.action,parsed.ports", 422, invalid(`{"field":"fields","code":"InvalidParameter","message":"unknown field specified"}`)},
		{"fields=", 422, invalid(`{"field":"fields","code":"InvalidParameter","message":"unknown field specified"}`)},
		{"fields=parsed.action&fields=parsed.ports&fields=parsed.tags&fields=parsed.protocol&fields=nope", 422, invalid(`{"field":"fields","code":"InvalidParameter","message":"can only specify a maximum of 4 fields"}`)},
		// Unknown names: the part before "[", sorted by UTF-16 code units;
		// items sorted by field, an array field compared joined with ",".
		{"z=1&a[k]=1&action=x", 422, invalid(`{"field":["a","z"],"code":"UnknownParameters","message":"Unknown parameters: a, z"}`,
			`{"field":"action","code":"InvalidParameter","message":"action must be \"block\" or \"allow\""}`)},
		{"%EF%BC%A1=1&%F0%9F%98%80=1&uuid=x", 422, invalid(`{"field":["uuid","` + "\U0001F600" + `","` + "\uff21" + `"],"code":"UnknownParameters","message":"Unknown parameters: uuid, ` + "\U0001F600" + `, ` + "\uff21" + `"}`)},
		{"subnet=x&owner_uuid=y&enabled=z&action=q&tag[x]=1&wildcard[y]=2", 422, invalid(
			`{"field":"action","code":"InvalidParameter","message":"action must be \"block\" or \"allow\""}`,
			`{"field":"enabled","code":"InvalidParameter","message":"must be a boolean value"}`,
			`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID","invalid":["y"]}`,
			`{"field":"subnet","code":"InvalidParameter","message":"Subnet must be in CIDR form","invalid":["x"]}`)},
		// Query-string decoding: "+" is a space, bad escapes stay as written.
		{"ip=a+b", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["a b"]}`)},
		{"ip=%zz", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["%zz"]}`)},
		{"ip=%C3", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["%C3"]}`)},
		{"i%70=%E2%82%AC", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["` + "\u20ac" + `"]}`)},
		{"ip", 422, invalid(`{"field":"ip","code":"InvalidParameter","message":"invalid IP","invalid":["Empty string"]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := do(t, h, "GET", "/rules?"+tc.query, "")
			if a.status != tc.status || strings.TrimSpace(a.body) != tc.want {
				t.Errorf("GET /rules?%s = %d %s, want %d %s", tc.query, a.status, a.body, tc.status, tc.want)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestRuleObjectAndParsed(t *testing.T) {
	s, _ := newTestServer(t, Config{Repository: "dir"})
	h := s.Handler()
	a := do(t, h, "GET", "/rules?fields=parsed.action&fields=parsed.ports&fields=parsed.tags&fields=parsed.protocol&vm="+jumpFW, "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || len(got) != 1 {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	want := map[string]any{
		"enabled": true, "log": false, "owner_uuid": ownerO,
		"rule": `FROM vm ` + jumpFW + ` TO tag "tier" ALLOW tcp PORT 22`,
		"uuid": "22222222-2222-4222-8222-222222222222", "version": got[0]["version"],
		"parsed": map[string]any{"action": "allow", "ports": []any{22.0}, "protocol": "tcp",
			"fromtags": map[string]any{}, "totags": map[string]any{"tier": map[string]any{"all": true, "values": []any{}}}},
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("rule object (-want +got):\n%s", diff)
	}

	// A respelled rule reads back canonical; the port list folds to all.
	a = do(t, h, "GET", "/rules/77777777-7777-4777-8777-777777777777", "")
	if !strings.Contains(a.body, `"rule":"FROM subnet 198.18.64.0/18 TO tag \"dmz\" = \"false\" ALLOW tcp PORT all"`) {
		t.Errorf("GET /rules/7777… = %s, want the FWAPI-folded canonical text", a.body)
	}
	a = do(t, h, "GET", "/rules/44444444-4444-4444-8444-444444444444", "")
	wantGlobal := `{"description":"no scanners","enabled":true,"global":true,"log":false,"rule":"FROM tag \"scanner\" TO all vms BLOCK tcp PORT all","uuid":"44444444-4444-4444-8444-444444444444","version":`
	if !strings.HasPrefix(a.body, wantGlobal) {
		t.Errorf("global rule = %s, want prefix %s", a.body, wantGlobal)
	}
}

func TestGetRuleAndVMs(t *testing.T) {
	s, _ := newTestServer(t, Config{Repository: "dir"})
	h := s.Handler()
	const forbiddenBody = `{"code":"Forbidden","message":"owner does not match","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"owner_uuid does not match"}]}`
	tests := []getCase{
		{"/rules/nope", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"uuid","code":"InvalidParameter","message":"Invalid UUID"}]}`, nil},
		{"/rules/99999999-9999-4999-8999-999999999999", 404, `{"code":"ResourceNotFound","message":"Rule not found"}`, nil},
		{"/rules/22222222-2222-4222-8222-222222222222?owner_uuid=" + ownerP, 403, forbiddenBody, nil},
		{"/rules/44444444-4444-4444-8444-444444444444?owner_uuid=" + ownerO, 403, forbiddenBody, nil},
		{"/rules/44444444-4444-4444-8444-444444444444?owner_uuid=", 403, forbiddenBody, nil},
		{"/rules/22222222-2222-4222-8222-222222222222/vms", 409, `{"code":"MissingParameter","message":"\"owner_uuid\" parameter required"}`, nil},
		{"/rules/22222222-2222-4222-8222-222222222222/vms?owner_uuid=" + ownerP, 403, forbiddenBody, nil},
		{"/rules/22222222-2222-4222-8222-222222222222/vms?owner_uuid=" + ownerO, 200, "", []string{"1a", "6f"}},
		{"/rules/11111111-1111-4111-8111-111111111111/vms?owner_uuid=" + ownerO, 200, "", []string{"1a", "6f"}},
		{"/rules/44444444-4444-4444-8444-444444444444/vms?owner_uuid=" + ownerP, 200, "", []string{"7c"}},
		{"/rules/44444444-4444-4444-8444-444444444444/vms?owner_uuid=garbage", 200, "", []string{}},
		{"/rules/77777777-7777-4777-8777-777777777777/vms?owner_uuid=" + ownerP, 200, "", []string{}},
		{"/firewalls/vms/" + apiFW, 200, "", []string{"11", "22", "33", "44", "66"}},
		{"/firewalls/vms/" + otherF, 200, "", []string{"44", "55"}},
		{"/firewalls/vms/" + apiFW + "?owner_uuid=" + ownerP, 404, `{"code":"ResourceNotFound","message":"VM not found"}`, nil},
		{"/firewalls/vms/99999999-9999-4999-8999-999999999999", 404, `{"code":"ResourceNotFound","message":"VM not found"}`, nil},
		{"/firewalls/vms/NOPE?x=1", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"uuid","code":"InvalidParameter","message":"invalid UUID"},{"field":["x"],"code":"UnknownParameters","message":"Unknown parameters: x"}]}`, nil},
	}
	checkGETs(t, h, tests)
	a := do(t, h, "GET", "/rules/22222222-2222-4222-8222-222222222222/vms?owner_uuid="+ownerO, "")
	var vms []map[string]any
	json.Unmarshal([]byte(a.body), &vms)
	wantVM := map[string]any{"alias": "jump", "firewall_enabled": true, "ips": []any{"198.18.1.2"},
		"owner_uuid": ownerO, "state": "running", "tags": map[string]any{}, "uuid": jumpFW}
	if len(vms) != 2 || !cmp.Equal(wantVM, vms[0]) {
		t.Errorf("VM object = %v, want %v", vms, wantVM)
	}
}

func TestResolve(t *testing.T) {
	s, _ := newTestServer(t, Config{Repository: "dir"})
	h := s.Handler()
	type result struct {
		Rules []struct {
			UUID string `json:"uuid"`
		} `json:"rules"`
		Tags   map[string]any `json:"tags"`
		VMs    []string       `json:"vms"`
		AllVMs bool           `json:"allVMs"`
		Owner  string         `json:"owner_uuid"`
	}
	a := do(t, h, "POST", "/resolve", `{"owner_uuid":"`+ownerO+`","vms":["`+apiFW+`"],"tags":{"tier":"web"}}`, "Content-Type", "application/json")
	var got result
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != 200 {
		t.Fatalf("POST /resolve = %d %s", a.status, a.body)
	}
	var ids []string
	for _, r := range got.Rules {
		ids = append(ids, r.UUID[:2])
	}
	if diff := cmp.Diff([]string{"11", "22", "33", "44", "66"}, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"tier": []any{"db"}}, got.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{jumpFW}, got.VMs); diff != "" || !got.AllVMs || got.Owner != ownerO {
		t.Errorf("vms %v allVMs %v owner %s", got.VMs, got.AllVMs, got.Owner)
	}

	errTests := []struct {
		name, body, ctype string
		status            int
		want              string
	}{
		{"missing owner", `{}`, "application/json", 422, `{"code":"InvalidParameters","message":"Missing parameters","errors":[{"field":"owner_uuid","code":"MissingParameter","message":"Missing parameter"}]}`},
		{"bad owner and vms", `{"owner_uuid":"x","vms":["b","a","b"]}`, "application/json", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"},{"field":"vms","code":"InvalidParameter","message":"invalid UUID","invalid":["a","b"]}]}`},
		{"tags not object", `{"owner_uuid":"` + ownerO + `","tags":["a"]}`, "application/json", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"tags","code":"InvalidParameter","message":"must be an object"}]}`},
		{"array body", `[]`, "application/json", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"parameters","code":"InvalidParameter","message":"Parameters must be objects"}]}`},
		{"bad json", `{"owner_uuid":`, "application/json", 400, ""},
		{"form body", `owner_uuid=x`, "application/x-www-form-urlencoded", 415, ""},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, h, "POST", "/resolve", tc.body, "Content-Type", tc.ctype)
			if a.status != tc.status || (tc.want != "" && strings.TrimSpace(a.body) != tc.want) {
				t.Errorf("POST /resolve %s = %d %s, want %d %s", tc.body, a.status, a.body, tc.status, tc.want)
			}
		})
	}
	// The query string fills in what the body lacks.
	a = do(t, h, "POST", "/resolve?owner_uuid="+ownerP, `{"tags":{"tier":["web"]}}`, "Content-Type", "application/json")
	if a.status != 200 || !strings.Contains(a.body, `"owner_uuid":"`+ownerP+`"`) {
		t.Errorf("POST /resolve?owner_uuid = %d %s", a.status, a.body)
	}
}

func TestMethodsAuthAndGate(t *testing.T) {
	s := New(Config{Repository: "https://user:secret@git.example/policy.git", Branch: "main", Token: "tok"}, discardLog)
	h := s.Handler()
	auth := []string{"Authorization", "Bearer tok"}
	if a := do(t, h, "GET", "/ping", ""); a.status != 200 || !strings.Contains(a.body, `"status":"initializing"`) {
		t.Errorf("GET /ping before load = %d %s", a.status, a.body)
	}
	if a := do(t, h, "GET", "/rules", ""); a.status != 401 || a.header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("GET /rules without token = %d %v", a.status, a.header)
	}
	if a := do(t, h, "GET", "/rules", "", "Authorization", "Bearer nope"); a.status != 401 {
		t.Errorf("GET /rules with a wrong token = %d", a.status)
	}
	if a := do(t, h, "GET", "/rules", "", auth...); a.status != 503 || !strings.Contains(a.body, "ServiceUnavailable") {
		t.Errorf("GET /rules before load = %d %s", a.status, a.body)
	}
	a := do(t, h, "POST", "/rules", `{"rule":"x"}`, auth...)
	if a.status != 405 || a.header.Get("Allow") != "GET, HEAD" || strings.Contains(a.body, "secret") ||
		!strings.Contains(a.body, `"repository":"https://git.example/policy.git"`) || !strings.Contains(a.body, `"branch":"main"`) {
		t.Errorf("POST /rules = %d %v %s", a.status, a.header, a.body)
	}
	if a := do(t, h, "DELETE", "/rules/11111111-1111-4111-8111-111111111111", "", auth...); a.status != 405 {
		t.Errorf("DELETE /rules/… = %d", a.status)
	}
	if a := do(t, h, "GET", "/resolve", "", auth...); a.status != 405 || a.header.Get("Allow") != "POST" ||
		strings.TrimSpace(a.body) != `{"code":"MethodNotAllowed","message":"GET is not allowed"}` {
		t.Errorf("GET /resolve = %d %v %s", a.status, a.header, a.body)
	}
	if a := do(t, h, "GET", "/rules/x/y/z", "", auth...); a.status != 404 || !strings.Contains(a.body, `"/rules/x/y/z does not exist"`) {
		t.Errorf("GET unknown path = %d %s", a.status, a.body)
	}
	s.Publish(NewSnapshot(inventory(t, exampleC), "", nil))
	if a := do(t, h, "GET", "/ping", ""); !strings.Contains(a.body, `"healthy":true`) || strings.Contains(a.body, "revision") {
		t.Errorf("GET /ping after a directory load = %s", a.body)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("HEAD", srv.URL+"/rules", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD /rules = %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
