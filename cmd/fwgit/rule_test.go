package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runRule runs `fwgit rule ARGS...` in-process with stdin.
func runRule(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return runCmdIn(t, newRuleCmd(), stdin, args...)
}

func TestRuleParseJSON(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []map[string]any
		code  int
	}{
		{
			name: "valid and invalid in order",
			args: []string{"parse", "--json", "FROM any TO all vms ALLOW tcp PORTS 80, 1-5", "FROM any TO any ALLOW tcp PORT 1"},
			want: []map[string]any{
				{"rule": "FROM any TO all vms ALLOW tcp PORTS 80, 1-5", "ok": true, "error": nil, "message": nil,
					"canonical": "FROM any TO all vms ALLOW tcp PORTS 1 - 5, 80",
					"parsed": map[string]any{"from": []any{map[string]any{"any": true}}, "to": []any{map[string]any{"allvms": true}},
						"action": "allow", "protocol": "tcp", "ports": []any{80.0, []any{1.0, 5.0}}, "types": nil, "priority": nil, "log": false}},
				{"rule": "FROM any TO any ALLOW tcp PORT 1", "ok": false, "parsed": nil, "canonical": nil,
					"error": "no_vm_targets", "message": "rule does not affect VMs"},
			},
			code: 1,
		},
		{
			name:  "stdin list, parse layer, log",
			stdin: `["FROM any TO any ALLOW icmp TYPE 8 PRIORITY 0"]`,
			args:  []string{"parse", "--check", "parse", "--log", "--json", "-"},
			want: []map[string]any{
				{"rule": "FROM any TO any ALLOW icmp TYPE 8 PRIORITY 0", "ok": true, "error": nil, "message": nil,
					"canonical": "FROM any TO any ALLOW icmp TYPE 8",
					"parsed": map[string]any{"from": []any{map[string]any{"any": true}}, "to": []any{map[string]any{"any": true}},
						"action": "allow", "protocol": "icmp", "ports": nil, "types": []any{[]any{8.0, nil}}, "priority": 0.0, "log": true}},
			},
		},
		{
			name: "fwapi folds ports and enforces masks",
			args: []string{"parse", "--check", "fwapi", "--json", "FROM any TO all vms ALLOW tcp PORTS 1 - 200, 1 - 65535", "FROM subnet 10.0.0.1/8 TO all vms ALLOW tcp PORT 1"},
			want: []map[string]any{
				{"rule": "FROM any TO all vms ALLOW tcp PORTS 1 - 200, 1 - 65535", "ok": true, "error": nil, "message": nil,
					"canonical": "FROM any TO all vms ALLOW tcp PORT all",
					"parsed": map[string]any{"from": []any{map[string]any{"any": true}}, "to": []any{map[string]any{"allvms": true}},
						"action": "allow", "protocol": "tcp", "ports": "all", "types": nil, "priority": nil, "log": false}},
				{"rule": "FROM subnet 10.0.0.1/8 TO all vms ALLOW tcp PORT 1", "ok": false, "parsed": nil, "canonical": nil,
					"error": "subnet_host_bits", "message": `Subnet "10.0.0.1/8" is invalid (bits set to right of mask)`},
			},
			code: 1,
		},
		{
			name: "max version",
			args: []string{"parse", "--max-version", "3", "--json", "FROM any TO all vms ALLOW ah"},
			want: []map[string]any{
				{"rule": "FROM any TO all vms ALLOW ah", "ok": false, "parsed": nil, "canonical": nil,
					"error": "feature_version", "message": "The rule uses a feature (AH) newer than this API allows"},
			},
			code: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code := runRule(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit status = %d, want %d", code, tc.code)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			var got []map[string]any
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("line %q is not JSON: %v", l, err)
				}
				got = append(got, m)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRuleParseText(t *testing.T) {
	out, errOut, code := runRule(t, "", "parse", "FROM any TO all vms ALLOW tcp PORT 80", "FROM foo")
	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	if out != "FROM any TO all vms ALLOW tcp PORT 80\n" {
		t.Errorf("stdout = %q", out)
	}
	if !strings.Contains(errOut, "1:6: Error at character 4: 'foo'") || !strings.Contains(errOut, "[syntax]") {
		t.Errorf("stderr = %q, want the position, message and kind", errOut)
	}
}

func TestRuleParseUsage(t *testing.T) {
	for _, args := range [][]string{
		{"parse"},
		{"parse", "--check", "bogus", "x"},
		{"parse", "--max-version", "x", "y"},
		{"parse", "--nope", "x"},
	} {
		if _, _, code := runRule(t, "", args...); code != 2 {
			t.Errorf("fwgit rule %v: exit status %d, want 2", args, code)
		}
	}
	if _, _, code := runRule(t, "not json", "parse", "-"); code != 2 {
		t.Errorf("bad stdin: exit status %d, want 2", code)
	}
}
