//go:build linux && netns

package main

import (
	"strings"
	"testing"

	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nettest"
)

// TestTestNetnsKernel runs `fwgit test --netns` on examples/repo: every
// case is checked with real packets through the compiled rulesets loaded in
// throwaway namespaces, which must all be gone afterwards.
func TestTestNetnsKernel(t *testing.T) {
	nettest.Require(t)
	out, errOut, code := runCmd(t, newTestCmd(), "--netns", exampleRepo)
	if code != 0 {
		t.Fatalf("fwgit test --netns exited %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "on the wire") || !strings.Contains(out, " 0 failed") {
		t.Errorf("output:\n%s", out)
	}
	for _, base := range []string{"test-fw-", "test-peer-"} {
		left, err := netns.List(netns.Prefix + base)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	}
}
