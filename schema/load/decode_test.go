package load

import (
	"testing"

	"github.com/fwgit/fwgit/internal/diag"
	v1 "github.com/fwgit/fwgit/schema/v1"
	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestLoadDecodesValues(t *testing.T) {
	files := map[string]string{"fw.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: web-1
spec:
  description: 42
  owner: ` + owner + `
  addresses: [198.18.0.11, "fd00::11"]
  tags:
    role: web
    weight: 0x10
    neg: -3
    on: True
    text: "true"
  enabled: false
  agent:
    url: https://198.18.0.11:33033
  management: [198.19.0.0/24]
---
apiVersion: fwgit/v1
kind: Test
metadata: {name: t}
spec:
  cases:
    - firewall: web-1
      from: 198.18.0.10
      proto: icmp
      type: 8
      code: 0
      expect: accept
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: role}
spec:
  <<: {description: merged, values: [a]}
  values: [web, 1, false]
`}
	r := Load(mapFS(files))
	if len(r.Diags) != 0 {
		t.Fatalf("Load diagnostics:\n%s", r.Diags)
	}
	if len(r.Objects) != 3 {
		t.Fatalf("Load returned %d objects, want 3", len(r.Objects))
	}
	wantFW := &v1.Firewall{
		TypeMeta: v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindFirewall},
		Metadata: v1.ObjectMeta{Name: "web-1"},
		Spec: v1.FirewallSpec{
			Description: "42", // a scalar fills a string field as written, as sigs.k8s.io/yaml does
			Owner:       owner,
			Addresses:   []string{"198.18.0.11", "fd00::11"},
			Tags: map[string]v1.TagValue{
				"role":   {Text: "web", Kind: v1.TagString},
				"weight": {Text: "16", Kind: v1.TagNumber},
				"neg":    {Text: "-3", Kind: v1.TagNumber},
				"on":     {Text: "true", Kind: v1.TagBool},
				"text":   {Text: "true", Kind: v1.TagString},
			},
			Enabled:    ptr(false),
			Agent:      &v1.Agent{URL: "https://198.18.0.11:33033"},
			Management: []string{"198.19.0.0/24"},
		},
	}
	fw := r.Objects[0]
	if diff := cmp.Diff(wantFW, fw.Firewall); diff != "" {
		t.Errorf("Firewall (-want +got):\n%s", diff)
	}
	if fw.Kind != v1.KindFirewall || fw.Name != "web-1" || fw.Invalid {
		t.Errorf("object = kind %q name %q invalid %v, want Firewall web-1 valid", fw.Kind, fw.Name, fw.Invalid)
	}
	if want := (diag.Pos{File: "fw.yaml", Line: 2, Col: 1}); fw.Pos != want {
		t.Errorf("object Pos = %v, want %v (the kind key)", fw.Pos, want)
	}
	for path, want := range map[string]diag.Pos{
		"metadata.name":      {File: "fw.yaml", Line: 4, Col: 9},
		"spec.addresses[1]":  {File: "fw.yaml", Line: 8, Col: 28},
		"spec.tags.role":     {File: "fw.yaml", Line: 10, Col: 11},
		"spec.agent.url":     {File: "fw.yaml", Line: 17, Col: 10},
		"spec.management[0]": {File: "fw.yaml", Line: 18, Col: 16},
	} {
		if got := fw.Fields[path]; got != want {
			t.Errorf("Fields[%q] = %v, want %v", path, got, want)
		}
	}
	if got, want := fw.PosOf("spec.addresses[7]"), fw.Fields["spec.addresses"]; got != want {
		t.Errorf("PosOf of an absent item = %v, want its list's position %v", got, want)
	}

	wantCase := v1.TestCase{Firewall: "web-1", From: "198.18.0.10", Proto: "icmp", Type: ptr(8), Code: ptr(0), Expect: "accept"}
	if diff := cmp.Diff([]v1.TestCase{wantCase}, r.Objects[1].Test.Spec.Cases); diff != "" {
		t.Errorf("Test cases (-want +got):\n%s", diff)
	}
	if got, want := r.Objects[1].Fields["spec.cases[0].code"], (diag.Pos{File: "fw.yaml", Line: 29, Col: 13}); got != want {
		t.Errorf(`Fields["spec.cases[0].code"] = %v, want %v`, got, want)
	}

	wantTag := v1.TagSpec{Description: "merged", Values: []v1.TagValue{
		{Text: "web", Kind: v1.TagString}, {Text: "1", Kind: v1.TagNumber}, {Text: "false", Kind: v1.TagBool},
	}}
	if diff := cmp.Diff(wantTag, r.Objects[2].Tag.Spec); diff != "" {
		t.Errorf("Tag spec with a merge key (-want +got):\n%s", diff)
	}
}

func TestLoadParsesRules(t *testing.T) {
	files := map[string]string{"r.yaml": `apiVersion: fwgit/v1
kind: Rule
metadata: {name: web-to-db}
spec:
  owner: ` + owner + `
  log: true
  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: bad}
spec:
  global: true
  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 0
`}
	r := Load(mapFS(files))
	if len(r.Objects) != 2 {
		t.Fatalf("Load returned %d objects, want 2", len(r.Objects))
	}
	good, bad := r.Objects[0], r.Objects[1]
	if good.ParsedRule == nil || good.Invalid {
		t.Fatalf("valid rule: ParsedRule = %v, Invalid = %v", good.ParsedRule, good.Invalid)
	}
	if got := good.ParsedRule; len(got.Ports) != 1 || got.Ports[0].Lo != 5432 || !got.Log || len(got.From) != 1 || got.From[0].TagValue != "web" {
		t.Errorf("ParsedRule = %+v, want tag role=web → db, port 5432, log", got)
	}
	if bad.ParsedRule != nil || !bad.Invalid {
		t.Errorf("invalid rule: ParsedRule = %v, Invalid = %v; want nil, true", bad.ParsedRule, bad.Invalid)
	}
	if got := brief(r.Diags); !cmp.Equal(got, []string{"r.yaml:14:61 error rule-invalid"}) {
		t.Errorf("diagnostics = %v, want the port at r.yaml:14:61", got)
	}
}
