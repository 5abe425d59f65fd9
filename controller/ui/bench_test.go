package ui

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/genrepo"
)

// fleet1000 is a generated repository of 1,000 firewalls, compiled.
func fleet1000(b *testing.B) *api.Policy {
	b.Helper()
	files := genrepo.Generate(genrepo.Options{Firewalls: 1000, Rules: 300, Tags: 12, Owners: 20, Seed: 1})
	return policyFS(b, files.FS(), rev1)
}

func serve(b *testing.B, h http.Handler, target string, hdr ...string) {
	b.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("GET %s = %d\n%s", target, rec.Code, rec.Body.String())
	}
}

// BenchmarkOverview1000 renders the overview of 1,000 firewalls
// server-side: reading status, joining it with the policy, filtering,
// sorting, paging and executing the template. The goal is under 50 ms.
func BenchmarkOverview1000(b *testing.B) {
	pol := fleet1000(b)
	mem := syncedStore(b, pol)
	bolt, err := status.Open(filepath.Join(b.TempDir(), "status.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bolt.Close() })
	fws, _ := mem.List()
	for _, fw := range fws {
		h, _ := mem.History(fw.Name, 1)
		bolt.Put(fw, &h[0])
	}
	rev, _ := mem.Revision()
	bolt.SetRevision(rev)
	for _, st := range []struct {
		name  string
		store StatusReader
	}{{"memory", mem}, {"bolt", bolt}} {
		h := New(Deps{Policy: fixedPolicy{pol}, Status: st.store, Now: func() time.Time { return testNow }})
		for _, q := range []struct{ name, query string }{
			{"page", ""},
			{"sorted-filtered", "?cond=InSync&sort=tags&dir=desc&tag=role"},
			{"all-rows", "?per=1000"},
		} {
			b.Run(st.name+"/"+q.name, func(b *testing.B) {
				for b.Loop() {
					serve(b, h, "/ui/"+q.query)
				}
			})
		}
	}
}

// BenchmarkTrace answers one tracer query as JSON on the 1,000-firewall
// policy. The goal is under 5 ms.
func BenchmarkTrace(b *testing.B) {
	pol := fleet1000(b)
	fw := pol.Inventory.Firewalls[len(pol.Inventory.Firewalls)/2]
	from := pol.Inventory.Firewalls[0].AddrText[0]
	h := TraceHandler(fixedPolicy{pol}, nil)
	page := New(Deps{Policy: fixedPolicy{pol}, Status: syncedStore(b, pol)})
	target := "?firewall=" + fw.Name + "&from=" + from + "&proto=tcp&port=443"
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			serve(b, h, "/v1/trace"+target)
		}
	})
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			serve(b, page, "/ui/trace"+target)
		}
	})
}

// BenchmarkRuleWarnings is the first Rule page after a new revision on the
// 1,000-firewall policy: the planner's warnings for the whole revision,
// which later Rule pages reuse.
func BenchmarkRuleWarnings(b *testing.B) {
	pol := fleet1000(b)
	st := syncedStore(b, pol)
	target := "/ui/rules/" + pol.Inventory.Rules[0].UUID
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			serve(b, New(Deps{Policy: fixedPolicy{pol}, Status: st}), target)
		}
	})
	h := New(Deps{Policy: fixedPolicy{pol}, Status: st})
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			serve(b, h, target)
		}
	})
}
