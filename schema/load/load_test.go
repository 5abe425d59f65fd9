package load

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fwgit/fwgit/internal/diag"
	"github.com/google/go-cmp/cmp"
)

const owner = "f3a9a535-0975-423a-a9af-18c4ce0b6587"

// brief renders diagnostics as "file:line:col severity code" for exact
// comparison; messages are checked separately where they matter.
func brief(l diag.List) []string {
	var out []string
	for _, d := range l {
		out = append(out, fmt.Sprintf("%s %s %s", d.Pos, d.Severity, d.Code))
	}
	return out
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, s := range files {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

func TestLoadDiagnostics(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		// msgs are substrings the messages must contain, in order of the
		// diagnostics (empty entries skip).
		msgs []string
	}{
		{
			name: "valid firewall",
			files: map[string]string{"f.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: web-1
spec:
  owner: ` + owner + `
  addresses: [198.18.0.11, "fd00::11"]
  tags: {role: web}
  agent: {url: "https://198.18.0.11:33033"}
`},
		},
		{
			name: "YAML syntax error keeps other documents checked",
			files: map[string]string{"f.yaml": `apiVersion: fwgit/v1
kind: Tag
metadata: {name: role
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: "bad\x01name"}
`},
			want: []string{"f.yaml:3:1 error yaml-syntax", "f.yaml:7:18 error invalid-name"},
			msgs: []string{"did not find expected ',' or '}'", "control character"},
		},
		{
			name: "apiVersion and kind",
			files: map[string]string{"k.yaml": `apiVersion: fwgit/v2
kind: Tag
metadata: {name: a}
---
kind: Tag
metadata: {name: a}
---
apiVersion: fwgit/v1
kind: firewall
---
apiVersion: fwgit/v1
metadata: {name: a}
---
- apiVersion: fwgit/v1
`},
			want: []string{
				"k.yaml:1:13 error api-version",
				"k.yaml:5:1 error missing-field",
				"k.yaml:9:7 error unknown-kind",
				"k.yaml:11:1 error missing-field",
				"k.yaml:14:1 error not-an-object",
			},
			msgs: []string{`must be "fwgit/v1", got "fwgit/v2"`, `"apiVersion"`, `(did you mean "Firewall"?)`, `"kind"`, "got a list"},
		},
		{
			name: "unknown fields, missing fields, wrong types",
			files: map[string]string{"r.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  nmae: web-1
spec:
  adresses: [198.18.0.11]
  addresses: {a: 1}
  enabled: "yes"
  tags: [role]
  agent: https://198.18.0.11:33033
`},
			want: []string{
				"r.yaml:4:3 error missing-field",
				"r.yaml:4:3 error unknown-field",
				"r.yaml:6:3 error unknown-field",
				"r.yaml:7:14 error wrong-type",
				"r.yaml:8:12 error wrong-type",
				"r.yaml:9:9 error wrong-type",
				"r.yaml:10:10 error wrong-type",
			},
			msgs: []string{
				`missing required field "metadata.name"`,
				`unknown field "nmae" in metadata (did you mean "name"?)`,
				`unknown field "adresses" in spec (did you mean "addresses"?)`,
				"spec.addresses: expected a list of strings, got a map",
				`spec.enabled: expected a boolean (true or false), got the string "yes"`,
				"spec.tags: expected a map, got a list",
				"spec.agent: expected a map, got the string",
			},
		},
		{
			name: "names, UUIDs and addresses",
			files: map[string]string{"a.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: Web_1
  uuid: F3A9A535-0975-423A-A9AF-18C4CE0B6587
spec:
  owner: not-a-uuid
  addresses:
    - 198.18.0.11
    - 198.18.0.12/32
    - fe80::1%eth0
    - fd00::11
    - fd00:0::11
    - 198.18.0.11
  management: [198.18.0.1/24, fd00::/64, 198.18.0.2]
`},
			want: []string{
				"a.yaml:4:9 error invalid-name",
				"a.yaml:5:9 error invalid-uuid",
				"a.yaml:7:10 error invalid-uuid",
				"a.yaml:10:7 error invalid-address",
				"a.yaml:11:7 error invalid-address",
				"a.yaml:13:7 error duplicate-address",
				"a.yaml:14:7 error duplicate-address",
				"a.yaml:15:16 error invalid-cidr",
				"a.yaml:15:42 error invalid-cidr",
			},
			msgs: []string{"", "lower case", "", "prefix length", "zone", "already listed as spec.addresses[3]", "already listed as spec.addresses[0]", "host bits", "no prefix length"},
		},
		{
			name: "tag values",
			files: map[string]string{"t.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata: {name: f}
spec:
  tags:
    ok-int: 0x10
    ok-bool: True
    ok-string: "1.5"
    float: 1.5
    whole-float: 2.0
    list: [a]
    map: {a: b}
    null:
    "": x
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: weight}
spec:
  values: [1, "1", true, 1.5]
`},
			want: []string{
				"t.yaml:9:12 error invalid-tag-value",
				"t.yaml:10:18 error invalid-tag-value",
				"t.yaml:11:11 error invalid-tag-value",
				"t.yaml:12:10 error invalid-tag-value",
				"t.yaml:13:10 error invalid-tag-value",
				"t.yaml:14:5 error invalid-tag-name",
				"t.yaml:20:15 error duplicate-value",
				"t.yaml:20:26 error invalid-tag-value",
			},
			msgs: []string{`quote it ("1.5")`, "", "got a list", "got a map", "got null", "empty", `value "1" is already declared as spec.values[0]`},
		},
		{
			name: "rule scope and state",
			files: map[string]string{"r.yaml": `apiVersion: fwgit/v1
kind: Rule
metadata: {name: both}
spec:
  rule: FROM any TO all vms ALLOW tcp PORT 22
  owner: ` + owner + `
  global: true
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: neither}
spec:
  rule: FROM any TO all vms ALLOW tcp PORT 22
  global: false
  enabled: false
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: no-text}
spec:
  global: true
---
apiVersion: fwgit/v1
kind: Rule
metadata: {name: empty-text}
spec:
  global: true
  rule: "  "
`},
			want: []string{
				"r.yaml:7:11 error rule-scope",
				"r.yaml:13:3 error rule-scope",
				"r.yaml:15:12 warning rule-disabled",
				"r.yaml:21:3 error missing-field",
				"r.yaml:28:9 error missing-field",
			},
			msgs: []string{"not both", "neither", "disabled", `"spec.rule"`, "empty"},
		},
		{
			name: "agent",
			files: map[string]string{"a.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata: {name: a}
spec:
  agent:
    url: http://198.18.0.1:33033
    fingerprint: sha256:abcd
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: b}
spec:
  agent: {mode: pull, url: "https://198.18.0.1:33033"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: c}
spec:
  agent: {mode: push}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: d}
spec:
  agent: {mode: pul, fingerprint: "sha256:` + strings.Repeat("AB:", 31) + `AB"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: e}
spec:
  agent: {url: "https://user:hunter2@198.18.0.1"}
`},
			want: []string{
				"a.yaml:6:10 error invalid-agent-url",
				"a.yaml:7:18 error invalid-fingerprint",
				"a.yaml:13:28 error invalid-agent-mode",
				"a.yaml:19:10 error missing-field",
				"a.yaml:25:17 error invalid-agent-mode",
				"a.yaml:31:16 error invalid-agent-url",
			},
			msgs: []string{"https://", "64", "pull mode", `"spec.agent.url"`, `(did you mean "pull"?)`, "credentials"},
		},
		{
			name: "test cases",
			files: map[string]string{"t.yaml": `apiVersion: fwgit/v1
kind: Test
metadata: {name: t}
spec:
  cases:
  - {firewall: db-1, from: 198.18.0.10, proto: tcp, port: 5432, expect: accept}
  - {firewall: db-1, direction: out, to: "fd00::1", proto: icmp6, type: 128, code: 0, expect: drop}
  - {firewall: db-1, direction: sideways, from: 198.18.0.10, proto: tpc, expect: allow}
  - {firewall: db-1, from: 198.18.0.10, proto: udp, expect: drop}
  - {firewall: db-1, from: 198.18.0.10, proto: tcp, port: 70000, expect: drop}
  - {firewall: db-1, from: 198.18.0.10, proto: esp, port: 1, type: 3, expect: drop}
  - {firewall: db-1, from: 198.18.0.10, proto: icmp, type: 256, code: -1, expect: drop}
  - {firewall: db-1, from: 198.18.0.10, proto: icmp, expect: drop}
  - {firewall: db-1, proto: ah, expect: drop}
  - {firewall: db-1, direction: out, from: 198.18.0.10, proto: ah, expect: drop}
  - {firewall: db-1, from: "fd00::1", proto: icmp, type: 8, expect: drop}
  - {firewall: db-1, from: 198.18.0.10, to: "fd00::1", proto: tcp, port: 1, expect: drop}
  - {firewall: "", from: 198.18.0.300, proto: tcp, port: 1}
---
apiVersion: fwgit/v1
kind: Test
metadata: {name: empty}
spec:
  cases: []
`},
			want: []string{
				"t.yaml:8:33 error invalid-value",
				"t.yaml:8:69 error invalid-value",
				"t.yaml:8:82 error invalid-value",
				"t.yaml:9:5 error missing-field",
				"t.yaml:10:59 error invalid-port",
				"t.yaml:11:59 error invalid-port",
				"t.yaml:11:68 error invalid-icmp",
				"t.yaml:12:60 error invalid-icmp",
				"t.yaml:12:71 error invalid-icmp",
				"t.yaml:13:5 error missing-field",
				"t.yaml:14:5 error missing-field",
				"t.yaml:15:5 error missing-field",
				"t.yaml:16:28 error address-family",
				"t.yaml:17:45 error address-family",
				"t.yaml:18:5 error missing-field",
				"t.yaml:18:16 error missing-field",
				"t.yaml:18:26 error invalid-address",
				"t.yaml:24:10 error missing-field",
			},
			msgs: []string{"", `(did you mean "tcp"?)`, "", "needs a port", "70000", "only tcp and udp", "only icmp and icmp6",
				"type 256", "code -1", "needs an ICMP type", "needs the source address", "needs the destination address",
				"use icmp6", "different address families", `"spec.cases[12].expect"`, "is empty", "", "at least one case"},
		},
		{
			name: "settings",
			files: map[string]string{"settings.yaml": `apiVersion: fwgit/v1
kind: Settings
metadata: {name: settings}
spec:
  controllerAddresses: [198.18.0.2/32, fd00::2/120]
  agentPort: 0
  management: [198.19.250.0/24]
---
apiVersion: fwgit/v1
kind: Settings
metadata: {name: other}
spec: {agentPort: 99999}
---
apiVersion: fwgit/v1
kind: Settings
metadata: {name: defaults}
`},
			want: []string{
				"settings.yaml:5:40 error invalid-cidr",
				"settings.yaml:6:14 error invalid-port",
				"settings.yaml:12:19 error invalid-port",
			},
		},
		{
			name: "YAML keys, aliases and merge keys",
			files: map[string]string{"y.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata: {name: a}
spec:
  addresses: [198.18.0.1]
  addresses: [198.18.0.2]
  [x]: 1
---
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: b}
spec:
  <<: {addresses: [198.18.0.4, 198.18.0.4]}
  tags: {role: *missing}
`},
			want: []string{
				"y.yaml:6:3 error duplicate-key",
				"y.yaml:7:3 error invalid-key",
				"y.yaml:14:16 error yaml-syntax",
			},
			msgs: []string{"already defined at line 5", "got a list", "unknown anchor 'missing'"},
		},
		{
			name: "merge key values are checked where they are written",
			files: map[string]string{"m.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata: {name: b}
spec:
  <<: {addresses: [198.18.0.4, 198.18.0.4], bogus: 1}
`},
			want: []string{
				"m.yaml:5:32 error duplicate-address",
				"m.yaml:5:45 error unknown-field",
			},
		},
		{
			name:  "alias expansion is bounded",
			files: map[string]string{"b.yaml": billionLaughs()},
			want:  []string{"b.yaml:4:1 error unknown-field", "b.yaml:5:7 error yaml-too-complex"},
		},
		{
			name:  "empty and comment-only documents are skipped",
			files: map[string]string{"e.yaml": "# nothing\n---\n---\n# still nothing\n...\n", "empty.yml": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Load(mapFS(tc.files))
			if diff := cmp.Diff(tc.want, brief(r.Diags)); diff != "" {
				t.Errorf("Load diagnostics (-want +got):\n%s\nfull:\n%s", diff, r.Diags)
			}
			for i, m := range tc.msgs {
				if i < len(r.Diags) && !strings.Contains(r.Diags[i].Msg, m) {
					t.Errorf("diagnostic %d = %q, want it to contain %q", i, r.Diags[i].Msg, m)
				}
			}
		})
	}
}

// billionLaughs builds a small document whose merge keys would expand to
// 10^10 mapping entries if the loader had no budget.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: lol}\nx:\n  a0: &a0 {description: x}\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d {<<: [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("spec:\n  <<: *a10\n")
	return b.String()
}
