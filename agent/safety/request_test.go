package safety

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/agentapi"
)

func body(t *testing.T, req *agentapi.RulesetRequest) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRequest(t *testing.T) {
	valid := string(body(t, request(1, policy(80), 0)))
	tests := []struct {
		name, in, wantCode, wantMsg string
	}{
		{"valid", valid, "", ""},
		{"malformed", `{"version":1,`, CodeInvalidContent, "invalid JSON: unexpected EOF"},
		{"trailing", valid + `{}`, CodeInvalidContent, "invalid JSON: data after the document"},
		{"unknown field", strings.Replace(valid, `{"version":1,`, `{"version":1,"force":true,`, 1), CodeInvalidContent, `invalid JSON: json: unknown field "force"`},
		{"newer protocol with new fields", `{"version":2,"shiny":true}`, CodeUnsupportedVersion, "protocol version 2 is not supported (this agent speaks 1)"},
		{"newer IR with new fields", strings.Replace(valid, `"ruleset":{"version":1`, `"ruleset":{"version":3,"maps":[]`, 1), CodeUnsupportedVersion, "ruleset IR version 3 is not supported (this agent accepts 1)"},
		{"wrong type", `{"version":"1"}`, CodeInvalidContent, "invalid JSON: json: cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeRequest([]byte(tc.in))
			if tc.wantCode == "" {
				if err != nil || req.Generation != 1 {
					t.Fatalf("DecodeRequest = %+v, %v; want generation 1", req, err)
				}
				return
			}
			var re *RequestError
			if !errors.As(err, &re) || re.Code != tc.wantCode || !strings.HasPrefix(re.Msg, tc.wantMsg) {
				t.Errorf("DecodeRequest = %v, want %s %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestApplyJSONFastPath(t *testing.T) {
	ctx := context.Background()
	t.Run("same bytes are a no-op until the state changes", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		a := body(t, request(2, policy(80), 10*time.Second))
		first, err := r.g.ApplyJSON(ctx, a)
		if err != nil || !first.Changed {
			t.Fatalf("ApplyJSON = %+v, %v; want changed", first, err)
		}
		again, err := r.g.ApplyJSON(ctx, a)
		want := agentapi.ApplyResult{Generation: 2, Digest: policy(80).Digest(), PendingConfirm: first.PendingConfirm}
		if diff := cmp.Diff(want, again, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".DurationMS" }, cmp.Ignore())); err != nil || diff != "" {
			t.Errorf("second ApplyJSON (-want +got):\n%s %v", diff, err)
		}
		// The rollback changes the state: the same bytes apply again.
		r.clock.Advance(10 * time.Second)
		r.wantKernel(policy(443))
		applies := r.kernel.applies()
		res, err := r.g.ApplyJSON(ctx, a)
		if err != nil || !res.Changed || r.kernel.applies() != applies+1 {
			t.Errorf("ApplyJSON after rollback = %+v, %v with %d new transactions; want a real apply", res, err, r.kernel.applies()-applies)
		}
		r.wantKernel(policy(80))
		// A confirm changes it too: the answer no longer shows a pending
		// confirmation.
		if err := r.g.Confirm(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if res, err := r.g.ApplyJSON(ctx, a); err != nil || res.Changed || res.PendingConfirm != nil {
			t.Errorf("ApplyJSON after confirm = %+v, %v; want unchanged with nothing pending", res, err)
		}
	})
	t.Run("refusals are never cached", func(t *testing.T) {
		r := newRig(t, "", nil)
		bad := request(1, policy(80), 0)
		bad.Digest = policy(81).Digest()
		for range 2 {
			if _, err := r.g.ApplyJSON(ctx, body(t, bad)); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("ApplyJSON(bad digest) = %v, want ErrInvalidRequest", err)
			}
		}
		r.kernel.fail = errors.New("kernel says no")
		good := body(t, request(1, policy(80), 0))
		for range 2 {
			var ae *ApplyError
			if _, err := r.g.ApplyJSON(ctx, good); !errors.As(err, &ae) {
				t.Errorf("ApplyJSON with a failing kernel = %v, want ApplyError each time", err)
			}
		}
	})
	t.Run("an older body after a newer one is stale", func(t *testing.T) {
		r := newRig(t, "", nil)
		a, b := body(t, request(1, policy(80), 0)), body(t, request(2, policy(81), 0))
		for _, x := range [][]byte{a, b} {
			if _, err := r.g.ApplyJSON(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.g.ApplyJSON(ctx, a); !errors.Is(err, ErrStale) {
			t.Errorf("ApplyJSON(older body) = %v, want ErrStale", err)
		}
	})
}
