package ui_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/config"
)

const dashboardPath = "../../examples/monitoring/fwgit-dashboard.json"

// exportedMetrics builds a controller on a fresh registry and returns the
// names of every series it can export: each registered metric (from the
// registry's descriptors, so vectors with no child yet count too), and for
// a histogram its _bucket, _sum and _count series.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	// Nothing runs before Run, so the remote need not exist.
	cfg.Git = &config.Git{URL: "file://" + filepath.Join(dir, "absent"), Branch: "main"}
	cfg.StateDir = filepath.Join(dir, "state")
	reg := prometheus.NewRegistry()
	ctl, err := controller.New(cfg, controller.Deps{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Store().Close() })
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	nameRE := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := nameRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names[m[1]] = true
	}
	// The controller's histograms (and only they) are named *_seconds; a
	// query reads their _bucket, _sum and _count series, never the bare
	// name.
	for n := range names {
		if strings.HasSuffix(n, "_seconds") {
			delete(names, n)
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = true
			}
		}
	}
	return names
}

type dashboard struct {
	Title      string
	UID        string
	Templating struct {
		List []struct {
			Name  string
			Type  string
			Query json.RawMessage
		}
	}
	Annotations struct {
		List []struct {
			Expr string
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	Targets    []struct {
		Expr       string
		Datasource *struct{ Type, UID string }
	}
	Panels []panel
}

var metricRE = regexp.MustCompile(`\bfwgit_[a-z0-9_]+`)

// TestDashboardMetrics parses the Grafana dashboard and checks that every
// metric it queries is one the controller exports, that the panels
// are there, and that every query uses the dashboard's data source.
func TestDashboardMetrics(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	exported := exportedMetrics(t)
	var exprs []string
	for _, v := range d.Templating.List {
		exprs = append(exprs, string(v.Query))
	}
	for _, a := range d.Annotations.List {
		exprs = append(exprs, a.Expr)
	}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the dashboard's data source variable", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
					t.Errorf("panel %q: unbalanced query %s", p.Title, tg.Expr)
				}
				if !metricRE.MatchString(tg.Expr) {
					t.Errorf("panel %q: query %s reads no fwgit metric", p.Title, tg.Expr)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricRE.FindAllString(e, -1) {
			used[m] = true
			if !exported[m] {
				t.Errorf("the dashboard queries %s, which the controller does not export", m)
			}
		}
	}
	// What the issue asks the dashboard to show.
	var missing []string
	for _, m := range []string{"fwgit_firewalls", "fwgit_firewall_in_sync", "fwgit_reconcile_total", "fwgit_reconcile_duration_seconds_bucket",
		"fwgit_git_fetch_total", "fwgit_agent_request_duration_seconds_bucket", "fwgit_last_applied_info"} {
		if !used[m] {
			missing = append(missing, m)
		}
	}
	if d := cmp.Diff([]string(nil), missing); d != "" {
		t.Errorf("metrics the dashboard should chart but does not (-want +got):\n%s", d)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: want both", d.UID, d.Title)
	}
	// The controller's metric set is the one this dashboard was written
	// for; a new metric is worth a panel.
	var unused []string
	for m := range exported {
		if !used[m] && !strings.HasSuffix(m, "_sum") && !strings.HasSuffix(m, "_count") {
			unused = append(unused, m)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Logf("exported but not charted: %v", unused)
	}
}
