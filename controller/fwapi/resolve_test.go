package fwapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
)

const seedOwner = "98c2d1f4-66f4-468c-97ff-4b19c5d9ab22"

// seedRule is a Rule document named after the first 8 characters of uuid.
func seedRule(uuid, owner, text, extra string) string {
	return ruleEntry("r"+uuid[:8], uuid, owner, text, extra)
}

// examplesAB is spec/fwapi.md §9.5 (the seed page) plus R5 and R6 of §9.6.
func examplesAB(r6 string) fstest.MapFS {
	rules := examplesA() + seedRule("a5a5a5a5-0000-4000-8000-000000000005", seedOwner, `FROM (tag "foo" = "bar" OR tag "foo" = "blah") TO tag "db" = "x" BLOCK tcp PORT 1`, "") +
		seedRule("a6a6a6a6-0000-4000-8000-000000000006", seedOwner, r6, "")
	return seedRepo(rules)
}

// examplesA is the rules of spec/fwapi.md §9.5, the seed page's example.
func examplesA() string {
	return seedRule("fe1a83d9-0000-4000-8000-000000000001", seedOwner, `FROM (tag "foo" = "bar" OR tag "foo" = "baz") TO tag "other" ALLOW tcp PORT 53`, "  enabled: false\n") +
		seedRule("e0f3de04-0000-4000-8000-000000000002", seedOwner, `FROM (tag "role" = "db" OR tag "role" = "www") TO tag "foo" = "blah" ALLOW tcp PORT 54`, "  enabled: false\n") +
		seedRule("34db1b5a-0000-4000-8000-000000000003", "", `FROM any TO all vms ALLOW icmp TYPE 8 CODE 0`, "") +
		seedRule("7cf05767-0000-4000-8000-000000000004", seedOwner, `FROM tag "something" TO vm b3073275-3c07-44ed-9e20-4c4fe3bb1e7f ALLOW tcp PORT 8080`, "")
}

func seedRepo(rules string) fstest.MapFS {
	return fstest.MapFS{
		"tags.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Tag
metadata: {name: foo}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: other}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: role}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: something}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: db}
`)},
		"fw.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: vm1, uuid: b3073275-3c07-44ed-9e20-4c4fe3bb1e7f}
spec: {owner: ` + seedOwner + `, addresses: [198.18.5.1], tags: {foo: blah, other: x, role: db, something: y, db: x}, agent: {mode: pull}}
`)},
		"rules.yaml": {Data: []byte(rules)},
	}
}

func TestResolveWorkedExamples(t *testing.T) {
	query := model.TagQuery{"foo": {Values: []string{"bar", "blah"}}}
	vms := []string{"b3073275-3c07-44ed-9e20-4c4fe3bb1e7f"}
	tests := []struct {
		name   string
		r6     string
		rules  []string
		tags   map[string][]string
		allVMs bool
	}{
		{
			name:  "B: duplicates and a no-op on TO",
			r6:    `FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2`,
			rules: []string{"34db1b5a", "7cf05767", "a5a5a5a5", "a6a6a6a6", "e0f3de04", "fe1a83d9"},
			tags:  map[string][]string{"role": {"db", "www"}, "something": nil, "db": {"x"}},
		},
		{
			name:  "B with priority: the TO side is no longer a no-op",
			r6:    `FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2 PRIORITY 1`,
			rules: []string{"34db1b5a", "7cf05767", "a5a5a5a5", "a6a6a6a6", "e0f3de04", "fe1a83d9"},
			tags:  map[string][]string{"role": {"db", "www"}, "something": nil, "db": {"x", "y"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := inventory(t, examplesAB(tc.r6))
			res := inv.Resolve(seedOwner, vms, query)
			var got []string
			for _, r := range res.Rules {
				got = append(got, r.UUID[:8])
			}
			if diff := cmp.Diff(tc.rules, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.tags, res.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if len(res.VMs) != 0 || res.AllVMs != tc.allVMs {
				t.Errorf("vms %v allVMs %v", res.VMs, res.AllVMs)
			}
		})
	}
}

// TestResolveMatchesFirewallRules checks the property of spec/fwapi.md §12:
// for firewalls of one owner, the /resolve candidates for their uuids and
// tags (values as strings) equal the union of their /firewalls/vms answers.
func TestResolveMatchesFirewallRules(t *testing.T) {
	for _, fsys := range []fstest.MapFS{exampleC, examplesAB(`FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2`)} {
		inv := inventory(t, fsys)
		owners := map[string][]*model.Firewall{}
		for _, f := range inv.Firewalls {
			owners[f.Owner] = append(owners[f.Owner], f)
		}
		for owner, fws := range owners {
			if owner == "" {
				continue
			}
			// Every subset of the owner's firewalls (they are few).
			for mask := 1; mask < 1<<len(fws); mask++ {
				var vms []string
				q := model.TagQuery{}
				union := map[string]bool{}
				for i, f := range fws {
					if mask&(1<<i) == 0 {
						continue
					}
					vms = append(vms, f.UUID)
					for name, v := range f.Tags {
						w := q[name]
						w.Values = append(w.Values, v.String())
						q[name] = w
					}
					for _, r := range inv.FirewallRules(f) {
						union[r.UUID] = true
					}
				}
				var want, got []string
				for id := range union {
					want = append(want, id)
				}
				slices.Sort(want)
				for _, r := range inv.Resolve(owner, vms, q).Rules {
					got = append(got, r.UUID)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("owner %s, firewalls %s: resolve candidates differ from /firewalls/vms (-want +got):\n%s",
						owner[:8], strings.Join(vms, ","), diff)
				}
			}
		}
	}
}

var versionField = regexp.MustCompile(`"version":"[^"]*"`)

// TestResolveExampleA checks worked example A (§9.5) byte for byte: the
// candidates sorted by uuid, tags sorted with true for bare tags, and the
// key order of §9.4.
func TestResolveExampleA(t *testing.T) {
	h := newServerFor(t, seedRepo(examplesA()), "")
	a := do(t, h, "POST", "/resolve", `{"owner_uuid": "`+seedOwner+`", "tags": {"foo": ["bar", "blah"]}, "vms": ["b3073275-3c07-44ed-9e20-4c4fe3bb1e7f"]}`,
		"Content-Type", "application/json")
	want := `{"rules":[` +
		`{"enabled":true,"global":true,"log":false,"rule":"FROM any TO all vms ALLOW icmp TYPE 8 CODE 0","uuid":"34db1b5a-0000-4000-8000-000000000003","version":"V"},` +
		`{"enabled":true,"log":false,"owner_uuid":"` + seedOwner + `","rule":"FROM tag \"something\" TO vm b3073275-3c07-44ed-9e20-4c4fe3bb1e7f ALLOW tcp PORT 8080","uuid":"7cf05767-0000-4000-8000-000000000004","version":"V"},` +
		`{"enabled":false,"log":false,"owner_uuid":"` + seedOwner + `","rule":"FROM (tag \"role\" = \"db\" OR tag \"role\" = \"www\") TO tag \"foo\" = \"blah\" ALLOW tcp PORT 54","uuid":"e0f3de04-0000-4000-8000-000000000002","version":"V"},` +
		`{"enabled":false,"log":false,"owner_uuid":"` + seedOwner + `","rule":"FROM (tag \"foo\" = \"bar\" OR tag \"foo\" = \"baz\") TO tag \"other\" ALLOW tcp PORT 53","uuid":"fe1a83d9-0000-4000-8000-000000000001","version":"V"}],` +
		`"tags":{"role":["db","www"],"something":true},"vms":[],"allVMs":false,"owner_uuid":"` + seedOwner + `"}`
	if got := versionField.ReplaceAllString(strings.TrimSpace(a.body), `"version":"V"`); a.status != 200 || got != want {
		t.Errorf("POST /resolve (example A) = %d\n%s\nwant\n%s", a.status, got, want)
	}
}

// TestResolveQueries covers §9.1–§9.3 on exampleD: tag values compared as
// strings, true as any value, empty lists, no-op sides, and what the
// query string adds.
func TestResolveQueries(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	type answer struct {
		Rules []struct {
			UUID string `json:"uuid"`
		} `json:"rules"`
		Tags   map[string]any `json:"tags"`
		VMs    []string       `json:"vms"`
		AllVMs bool           `json:"allVMs"`
		Owner  string         `json:"owner_uuid"`
	}
	o := `"owner_uuid":"` + ownerO + `"`
	tests := []struct {
		target, body string
		rules        []string
		tags         map[string]any
		vms          []string
	}{
		{"/resolve", `{` + o + `}`, []string{"d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"rack":7}}`, []string{"d1", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"rack":"7"}}`, []string{"d1", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"rack":7.0}}`, []string{"d1", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"dmz":false}}`, []string{"d2", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"dmz":true}}`, []string{"d2", "d3", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"dmz":"true"}}`, []string{"d3", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"dmz":[true,"x",1]}}`, []string{"d3", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"tags":{"foo":[]}}`, []string{"d9", "da", "db"}, map[string]any{}, []string{}},
		// TO matches the wanted side=two: ALLOW on TO is not a no-op.
		{"/resolve", `{` + o + `,"tags":{"side":"two"}}`, []string{"d8", "d9", "da"}, map[string]any{"foo": []any{"bar", "baz"}}, []string{}},
		// A global rule is a candidate for any owner; ownerless firewalls' tags.
		{"/resolve", `{"owner_uuid":"` + ownerP + `","tags":{"role":"shop"}}`, []string{"d4", "d7"}, map[string]any{}, []string{}},
		// vm on TO; FROM is a subnet: nothing to fetch.
		{"/resolve", `{` + o + `,"vms":"` + shop1 + `,` + shop1 + `"}`, []string{"d6", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve", `{` + o + `,"vms":""}`, []string{"d9", "da"}, map[string]any{}, []string{}},
		// The query string fills in what the body lacks; the body wins.
		{"/resolve?owner_uuid=bad&tags[rack]=7", `{` + o + `}`, []string{"d1", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve?owner_uuid=" + ownerO + "&tags[dmz][]=false&vms=" + shop1, "", []string{"d2", "d6", "d9", "da"}, map[string]any{}, []string{}},
		{"/resolve?tags[rack]=8", `{` + o + `,"tags":{"rack":7},"bogus":[1]}`, []string{"d1", "d9", "da"}, map[string]any{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.target+" "+tc.body, func(t *testing.T) {
			a := do(t, h, "POST", tc.target, tc.body, "Content-Type", "application/json")
			var got answer
			if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != 200 {
				t.Fatalf("POST %s = %d %s", tc.target, a.status, a.body)
			}
			ids := []string{}
			for _, r := range got.Rules {
				ids = append(ids, r.UUID[:2])
			}
			if diff := cmp.Diff(tc.rules, ids); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.tags, got.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.vms, got.VMs); diff != "" || got.Owner != ownerO && got.Owner != ownerP {
				t.Errorf("vms (-want +got):\n%s; owner %q", diff, got.Owner)
			}
		})
	}
}

// TestResolveValidation covers §9.1's 422 items, 400, 413 and 415.
func TestResolveValidation(t *testing.T) {
	h := newServerFor(t, exampleD, "")
	o := `"owner_uuid":"` + ownerO + `"`
	missing := `{"code":"InvalidParameters","message":"Missing parameters","errors":[{"field":"owner_uuid","code":"MissingParameter","message":"Missing parameter"}]}`
	notObjects := invalid(`{"field":"parameters","code":"InvalidParameter","message":"Parameters must be objects"}`)
	tagValues := invalid(`{"field":"tags","code":"InvalidParameter","message":"tag values must be true, strings, numbers, booleans or lists of them"}`)
	tests := []struct {
		name, body, ctype string
		status            int
		want              string // exact body; "" checks the code only
		code              string
	}{
		{"empty body", "", "", 422, missing, ""},
		{"null body", "null", "application/json", 422, missing, ""},
		{"unknown only", `{"bogus":1}`, "application/json", 422, missing, ""},
		{"string body", `"x"`, "application/json", 422, notObjects, ""},
		{"number body", `1`, "application/json", 422, notObjects, ""},
		{"boolean body", `false`, "application/json", 422, notObjects, ""},
		{"whitespace body", " \n", "application/json", 400, "", "InvalidContent"},
		{"trailing data", `{} x`, "application/json", 400, "", "InvalidContent"},
		{"trailing bracket", `{}]`, "application/json", 400, "", "InvalidContent"},
		{"two values", `{}{}`, "application/json", 400, "", "InvalidContent"},
		{"text/plain", `{` + o + `}`, "text/plain", 415, "", "UnsupportedMediaType"},
		{"no content type", `{` + o + `}`, "", 415, "", "UnsupportedMediaType"},
		{"charset parameter", `{` + o + `}`, "application/json; charset=utf-8", 200, "", ""},
		{"upper-case media type", `{` + o + `}`, "Application/JSON", 200, "", ""},
		{"owner null", `{"owner_uuid":null}`, "application/json", 422, invalid(`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"}`), ""},
		{"owner list", `{"owner_uuid":["` + ownerO + `"]}`, "application/json", 422, invalid(`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"}`), ""},
		{"missing and bad vms", `{"vms":["x"]}`, "application/json", 422, `{"code":"InvalidParameters","message":"Invalid parameters","errors":[{"field":"owner_uuid","code":"MissingParameter","message":"Missing parameter"},{"field":"vms","code":"InvalidParameter","message":"invalid UUID","invalid":["x"]}]}`, ""},
		{"vms string", `{` + o + `,"vms":"b,a,b,` + shop1 + `"}`, "application/json", 422, invalid(`{"field":"vms","code":"InvalidParameter","message":"invalid UUID","invalid":["a","b"]}`), ""},
		{"vms non-strings", `{` + o + `,"vms":[1,null,"x",1.50,["a","b"]]}`, "application/json", 422, invalid(`{"field":"vms","code":"InvalidParameter","message":"invalid UUID","invalid":["1","1.5","a,b","null","x"]}`), ""},
		{"vms object", `{` + o + `,"vms":{}}`, "application/json", 422, invalid(`{"field":"vms","code":"InvalidParameter","message":"must be an array of strings"}`), ""},
		{"vms number", `{` + o + `,"vms":5}`, "application/json", 422, invalid(`{"field":"vms","code":"InvalidParameter","message":"must be an array of strings"}`), ""},
		{"vms empty list", `{` + o + `,"vms":[]}`, "application/json", 200, "", ""},
		{"tags array", `{` + o + `,"tags":["a"]}`, "application/json", 422, invalid(`{"field":"tags","code":"InvalidParameter","message":"must be an object"}`), ""},
		{"tags null", `{` + o + `,"tags":null}`, "application/json", 422, invalid(`{"field":"tags","code":"InvalidParameter","message":"must be an object"}`), ""},
		{"tags string", `{` + o + `,"tags":"role"}`, "application/json", 422, invalid(`{"field":"tags","code":"InvalidParameter","message":"must be an object"}`), ""},
		{"tag value null", `{` + o + `,"tags":{"a":null}}`, "application/json", 422, tagValues, ""},
		{"tag value object", `{` + o + `,"tags":{"a":{"b":1}}}`, "application/json", 422, tagValues, ""},
		{"tag list with null", `{` + o + `,"tags":{"a":["x",null]}}`, "application/json", 422, tagValues, ""},
		{"nested tag list", `{` + o + `,"tags":{"a":[["x"]]}}`, "application/json", 422, tagValues, ""},
		{"tag empty", `{` + o + `,"tag":""}`, "application/json", 422, invalid(`{"field":"tag","code":"InvalidParameter","message":"must not be empty"}`), ""},
		{"tag number", `{` + o + `,"tag":5}`, "application/json", 422, invalid(`{"field":"tag","code":"InvalidParameter","message":"must be a string"}`), ""},
		{"tag long", `{` + o + `,"tag":"` + strings.Repeat("t", 65) + `"}`, "application/json", 422, invalid(`{"field":"tag","code":"InvalidParameter","message":"must not be longer than 64 characters"}`), ""},
		{"tag valid", `{` + o + `,"tag":"role"}`, "application/json", 200, "", ""},
		{"ips empty", `{` + o + `,"ips":""}`, "application/json", 422, invalid(`{"field":"ips","code":"InvalidParameter","message":"invalid IP","invalid":["Empty string"]}`), ""},
		{"ips empty list", `{` + o + `,"ips":[]}`, "application/json", 422, invalid(`{"field":"ips","code":"InvalidParameter","message":"invalid IP","invalid":["Empty string"]}`), ""},
		{"ips bad", `{` + o + `,"ips":["x","1.2.3.4","y"]}`, "application/json", 422, invalid(`{"field":"ips","code":"InvalidParameter","message":"invalid IPs","invalid":["x","y"]}`), ""},
		{"ips object", `{` + o + `,"ips":{}}`, "application/json", 422, invalid(`{"field":"ips","code":"InvalidParameter","message":"must be a string"}`), ""},
		{"ips valid", `{` + o + `,"ips":"1.2.3.4, fd00::1"}`, "application/json", 200, "", ""},
		{"allVMs bad", `{` + o + `,"allVMs":"yes"}`, "application/json", 422, invalid(`{"field":"allVMs","code":"InvalidParameter","message":"must be a boolean value"}`), ""},
		{"allVMs string", `{` + o + `,"allVMs":"false"}`, "application/json", 200, "", ""},
		{"all sorted", `{"owner_uuid":"x","vms":"y","tags":1,"tag":1,"ips":"z","allVMs":0}`, "application/json", 422, invalid(
			`{"field":"allVMs","code":"InvalidParameter","message":"must be a boolean value"}`,
			`{"field":"ips","code":"InvalidParameter","message":"invalid IP","invalid":["z"]}`,
			`{"field":"owner_uuid","code":"InvalidParameter","message":"invalid UUID"}`,
			`{"field":"tag","code":"InvalidParameter","message":"must be a string"}`,
			`{"field":"tags","code":"InvalidParameter","message":"must be an object"}`,
			`{"field":"vms","code":"InvalidParameter","message":"invalid UUID","invalid":["y"]}`), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, h, "POST", "/resolve", tc.body, "Content-Type", tc.ctype)
			if a.status != tc.status || (tc.want != "" && strings.TrimSpace(a.body) != tc.want) {
				t.Errorf("POST /resolve %s = %d %s, want %d %s", tc.body, a.status, a.body, tc.status, tc.want)
			}
			var e struct{ Code string }
			if json.Unmarshal([]byte(a.body), &e); tc.code != "" && e.Code != tc.code {
				t.Errorf("code %q, want %q", e.Code, tc.code)
			}
		})
	}

	// 1 MiB is accepted, one byte more is 413.
	pad := func(n int) string {
		head := `{` + o + `,"x":"`
		return head + strings.Repeat("a", n-len(head)-2) + `"}`
	}
	if a := do(t, h, "POST", "/resolve", pad(MaxBody), "Content-Type", "application/json"); a.status != 200 {
		t.Errorf("POST /resolve of exactly %d bytes = %d %.200s", MaxBody, a.status, a.body)
	}
	a := do(t, h, "POST", "/resolve", pad(MaxBody+1), "Content-Type", "application/json")
	if a.status != 413 || !strings.Contains(a.body, `"code":"RequestEntityTooLarge"`) {
		t.Errorf("POST /resolve of %d bytes = %d %.200s", MaxBody+1, a.status, a.body)
	}
	// A body on a GET is ignored.
	if a := do(t, h, "GET", "/rules?global=true", `{"global":"x"}`, "Content-Type", "text/plain"); a.status != 200 {
		t.Errorf("GET /rules with a body = %d %s", a.status, a.body)
	}
}

func TestJSString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{json.Number("42"), "42"}, {json.Number("1.5"), "1.5"}, {json.Number("7.0"), "7"}, {json.Number("-0"), "0"},
		{json.Number("1e21"), "1e+21"}, {json.Number("123456789012345678901"), "123456789012345680000"},
		{json.Number("0.000001"), "0.000001"}, {json.Number("1e-7"), "1e-7"}, {json.Number("-1.25e-10"), "-1.25e-10"},
		{json.Number("0.1"), "0.1"}, {json.Number("1.5e300"), "1.5e+300"}, {json.Number("1e400"), "Infinity"},
		{true, "true"}, {nil, "null"}, {"s", "s"}, {[]any{"a", nil, json.Number("2")}, "a,,2"}, {map[string]any{}, "[object Object]"},
	}
	for _, tc := range tests {
		if got := jsString(tc.in); got != tc.want {
			t.Errorf("jsString(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
