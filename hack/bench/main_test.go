package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkParseText 	  426814	      2619 ns/op	    381822 rules/s	    1195 B/op	      21 allocs/op
BenchmarkAll/firewalls=1000-2        	       1	4075287015 ns/op	      1058 live-MiB	   5482648 nftrules
BenchmarkWebhookConverge200-2   	       3	         0.3345 max-s	         0.3157 median-s
PASS
ok  	github.com/fwgit/fwgit/controller	2.923s
`)
	want := map[string]map[string]float64{
		"BenchmarkParseText":          {"ns/op": 2619, "rules/s": 381822, "B/op": 1195, "allocs/op": 21},
		"BenchmarkAll/firewalls=1000": {"ns/op": 4075287015, "live-MiB": 1058, "nftrules": 5482648},
		"BenchmarkWebhookConverge200": {"max-s": 0.3345, "median-s": 0.3157},
	}
	if d := cmp.Diff(want, parseBench(out)); d != "" {
		t.Errorf("parseBench (-want +got):\n%s", d)
	}
}

func TestParseApply(t *testing.T) {
	out := []byte(`               ruleset  Go ms  nft ms  Go/nft       goal
          rules 10,000  438.6   426.4    1.03  ≤ 1.3 met
  CIDRs 50,000 in sets  342.5   589.3    0.58  ≤ 1.0 met
      policy 500 rules   39.3    49.0    0.80          -

       unchanged ruleset: agent-side check  median ms     goal
              digest compare, rules 10,000       2.61  ≤ 5 met
`)
	want := map[string][3]float64{
		"rules 10,000":         {438.6, 426.4, 1.03},
		"CIDRs 50,000 in sets": {342.5, 589.3, 0.58},
		"policy 500 rules":     {39.3, 49.0, 0.80},
	}
	if d := cmp.Diff(want, parseApply(out)); d != "" {
		t.Errorf("parseApply (-want +got):\n%s", d)
	}
}

func TestRow(t *testing.T) {
	tests := []struct {
		name                string
		r                   row
		value, goal, result string
	}{
		{"rate met", row{value: 341147, unit: "rules/s", goal: goal{"≥", 200000}}, "341,147 rules/s", "≥ 200,000 rules/s", "pass"},
		{"time missed", row{value: 3.59, unit: "s", goal: goal{"≤", 2}}, "3.59 s", "≤ 2 s", "FAIL"},
		{"ratio", row{value: 0.98, unit: "×", shown: "429 ms vs 438 ms = 0.98×", goal: goal{"≤", 1.3}}, "429 ms vs 438 ms = 0.98×", "≤ 1.3×", "pass"},
		{"no goal", row{value: 0.058, unit: "s"}, "0.058 s", "-", "-"},
		{"skipped", row{unit: "MiB", goal: goal{"≤", 30}, skipped: "needs root"}, "skipped", "≤ 30 MiB", "skipped"},
		{"bound is inclusive", row{value: 5, unit: "ms", goal: goal{"≤", 5}}, "5.00 ms", "≤ 5 ms", "pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.valueText(); got != tc.value {
				t.Errorf("valueText() = %q, want %q", got, tc.value)
			}
			if got := tc.r.goalText(); got != tc.goal {
				t.Errorf("goalText() = %q, want %q", got, tc.goal)
			}
			if got := tc.r.verdict(); got != tc.result {
				t.Errorf("verdict() = %q, want %q", got, tc.result)
			}
		})
	}
}

func TestBusy(t *testing.T) {
	for _, tc := range []struct {
		before, after string
		want          bool
	}{{"0.20", "0.90", false}, {"0.20", "1.50", true}, {"3.00", "0.10", true}, {"unknown", "unknown", false}} {
		if got := busy(machineInfo{cores: 2, loadBefore: tc.before, loadAfter: tc.after}); got != tc.want {
			t.Errorf("busy(load %s/%s on 2 cores) = %v, want %v", tc.before, tc.after, got, tc.want)
		}
	}
}
