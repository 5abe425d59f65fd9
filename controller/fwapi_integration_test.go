package controller_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/controllertest"
)

// TestFWAPIServedFromRevision checks that a running controller serves the
// FWAPI read endpoints from its current good revision, with Git-derived
// versions that change only for the rule that changed.
func TestFWAPIServedFromRevision(t *testing.T) {
	e := newEnv(t, 2)
	first := writePolicy(e.Repo, "initial", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "first revision", func() bool { return e.Converged("main@sha1:" + first) })

	type rule struct {
		Rule, UUID, Version string
		Global              bool
	}
	var rules []rule
	resp, err := http.Get(e.API + "/rules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Fwgit-Revision"); got != first {
		t.Errorf("X-Fwgit-Revision = %q, want %s", got, first)
	}
	if code := e.GetJSON("/rules", &rules); code != 200 || len(rules) != 2 {
		t.Fatalf("GET /rules = %d %v", code, rules)
	}
	versionRE := regexp.MustCompile(`^[0-9]{13}\.[0-9]{6}$`)
	before := map[string]string{}
	for _, r := range rules {
		if !versionRE.MatchString(r.Version) || !r.Global || !strings.HasPrefix(r.Rule, "FROM ") {
			t.Errorf("rule %+v: want a global rule with a Git version", r)
		}
		before[r.Rule] = r.Version
	}

	second := writePolicy(e.Repo, "open 8080", e.fws, 8080, "")
	e.Hook()
	controllertest.Eventually(t, 10*time.Second, "second revision", func() bool { return e.Converged("main@sha1:" + second) })
	rules = nil
	e.GetJSON("/rules", &rules)
	for _, r := range rules {
		old, kept := before[r.Rule]
		switch {
		case strings.Contains(r.Rule, "PORT 8080") && kept:
			t.Errorf("changed rule %q kept its text", r.Rule)
		case strings.Contains(r.Rule, "PORT 8080") && r.Version == "":
			t.Errorf("changed rule has no version")
		case strings.Contains(r.Rule, "5432") && r.Version != old:
			t.Errorf("unchanged rule %q: version %s, was %s", r.Rule, r.Version, old)
		}
	}
	var ping struct {
		Healthy  bool
		Revision string
	}
	if e.GetJSON("/ping", &ping); !ping.Healthy || ping.Revision != second {
		t.Errorf("GET /ping = %+v", ping)
	}
	if code := e.GetJSON("/rules/not-a-uuid", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("GET /rules/not-a-uuid = %d, want 422", code)
	}
}
