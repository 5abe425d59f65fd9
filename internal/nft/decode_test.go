package nft

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDecodeRoundTrip(t *testing.T) {
	for _, r := range []*Ruleset{sampleRuleset(), largeRuleset(100, 100), {Version: IRVersion, Table: DefaultTable}} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(Marshal(r)) = %v", err)
		}
		if diff := cmp.Diff(r, got, prefixCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Decode(Marshal(r)) mismatch (-want +got):\n%s", diff)
		}
		if got.Digest() != r.Digest() {
			t.Errorf("digest changed in the round trip")
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	valid, err := json.Marshal(sampleRuleset())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    string
		invalid bool // a *ValidationError rather than a decoding error
	}{
		{"empty", "", false},
		{"not json", "table inet fwgit {}", false},
		{"unknown top field", `{"version":1,"table":"fwgit","extra":1}`, false},
		{"unknown rule field", `{"version":1,"table":"fwgit","chains":[{"name":"input","hook":"input","priority":0,"policy":"drop","rules":[{"verdict":"accept","jump":"x"}]}]}`, false},
		{"trailing data", string(valid) + `{}`, false},
		{"bad prefix", `{"version":1,"table":"fwgit","sets":[{"name":"s","type":"ipv4_addr","elements":["198.18.0.300/32"]}]}`, false},
		{"port out of range", `{"version":1,"table":"fwgit","chains":[{"name":"input","hook":"input","priority":0,"policy":"drop","rules":[{"proto":"tcp","dports":[{"lo":1,"hi":70000}],"verdict":"accept"}]}]}`, false},
		{"wrong version", `{"version":2,"table":"fwgit"}`, true},
		{"missing version", `{"table":"fwgit"}`, true},
		{"unnormalised set", `{"version":1,"table":"fwgit","sets":[{"name":"s","type":"ipv4_addr","elements":["198.18.0.1/24"]}]}`, true},
		{"unknown set reference", `{"version":1,"table":"fwgit","chains":[{"name":"input","hook":"input","priority":0,"policy":"drop","rules":[{"family":"ipv4","src":{"set":"nope"},"verdict":"accept"}]}]}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode([]byte(tc.data))
			if err == nil {
				t.Fatalf("Decode(%q) = %v, nil; want an error", tc.data, r)
			}
			if r != nil {
				t.Errorf("Decode returned a ruleset with error %v", err)
			}
			var ve *ValidationError
			if got := errors.As(err, &ve); got != tc.invalid {
				t.Errorf("Decode(%q) = %v: validation error = %v, want %v", tc.data, err, got, tc.invalid)
			}
		})
	}
	if _, err := Decode(valid); err != nil {
		t.Errorf("Decode(valid) = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range []*Ruleset{sampleRuleset(), largeRuleset(3, 5), {Version: IRVersion, Table: "t"}} {
		data, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"table":"fwgit","chains":[{"name":"input","hook":"input","priority":0,"policy":"drop","rules":[{"family":"ipv6","src":{"prefixes":["::ffff:1.2.3.4/128"]},"proto":"icmpv6","icmp":[{"type":1,"code":3}],"verdict":"drop"}]}]}`))
	f.Add([]byte(`{"version":1,"table":"fwgit","sets":[],"chains":[{"name":"a","hook":"forward","priority":-1,"policy":"accept","rules":[{"iif":"e*","log":"x"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		text := r.Render()
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal of a decoded ruleset: %v", err)
		}
		r2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Marshal(Decode(data))) = %v\n%s", err, again)
		}
		if diff := cmp.Diff(r, r2, prefixCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoded ruleset differs (-first +second):\n%s", diff)
		}
		if r2.Render() != text || r2.Digest() != r.Digest() {
			t.Fatalf("re-decoded ruleset renders differently")
		}
		// The evaluator must not panic on anything Validate accepts.
		for _, c := range r.Chains {
			r.Eval(Packet{Hook: c.Hook, Src: mustAddr("198.18.0.1"), Dst: mustAddr("198.18.0.2"), Proto: ProtoTCP, DPort: 80})
			r.Eval(Packet{Hook: c.Hook, Src: mustAddr("fd00::1"), Dst: mustAddr("fd00::2"), Proto: ProtoICMPv6, ICMPType: 1, ICMPCode: 3})
		}
	})
}
