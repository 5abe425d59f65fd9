package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/controllertest"
	"github.com/fwgit/fwgit/controller/fleet"
)

// allVMs is an extra rule that puts port p on every firewall, so that a
// commit changing p changes every digest.
func allVMs(p int) string {
	return fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: all\nspec:\n  global: true\n  rule: FROM any TO all vms ALLOW tcp PORT %d\n", p)
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "median-s")
	b.ReportMetric(lat[len(lat)-1].Seconds(), "max-s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWebhookConverge200 measures the time from a commit announced by
// the webhook to all 200 agents (real HTTPS on loopback, commit-confirm on)
// reporting its digest. Goal: median under 2 s.
func BenchmarkWebhookConverge200(b *testing.B) {
	if testing.Short() {
		b.Skip("200 agents: skipped with -short")
	}
	e := newEnv(b, 200)
	writePolicy(e.Repo, "first", e.fws, 80, allVMs(1000))
	e.Start()
	controllertest.Eventually(b, 60*time.Second, "first convergence", func() bool { p := e.Ctl.Policy(); return p != nil && e.Converged(p.Revision) })
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		h := writePolicy(e.Repo, "change", e.fws, 80, allVMs(1001+i))
		start := time.Now()
		e.Hook()
		controllertest.Eventually(b, 60*time.Second, "convergence", func() bool { return e.Converged("main@sha1:" + h) })
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// BenchmarkPollConverge200 is the same with polling only (interval 2 s):
// goal under one interval plus 2 s.
func BenchmarkPollConverge200(b *testing.B) {
	if testing.Short() {
		b.Skip("200 agents: skipped with -short")
	}
	e := newEnv(b, 200)
	e.Config.PollInterval = config.Duration(2 * time.Second)
	writePolicy(e.Repo, "first", e.fws, 80, allVMs(1000))
	e.Start()
	controllertest.Eventually(b, 60*time.Second, "first convergence", func() bool { p := e.Ctl.Policy(); return p != nil && e.Converged(p.Revision) })
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		h := writePolicy(e.Repo, "change", e.fws, 80, allVMs(1001+i))
		start := time.Now()
		controllertest.Eventually(b, 60*time.Second, "convergence", func() bool { return e.Converged("main@sha1:" + h) })
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// BenchmarkMemory1000 runs a controller with 1,000 firewalls to
// convergence (in-memory agents, so only the controller's heap counts) and
// reports its live heap. Goal: under 300 MiB.
func BenchmarkMemory1000(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000 firewalls: skipped with -short")
	}
	for range b.N {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)

		repo := controllertest.NewRepo(b)
		var fws []fwSpec
		for i := range 1000 {
			role := "web"
			if i%2 == 1 {
				role = "db"
			}
			fws = append(fws, fwSpec{name: fmt.Sprintf("fw-%04d", i), role: role, url: fmt.Sprintf("https://198.18.%d.%d:33033", i/250, 1+i%250),
				fingerprint: "sha256:1111111111111111111111111111111111111111111111111111111111111111", addr: fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250)})
		}
		h := writePolicy(repo, "first", fws, 80, allVMs(1000))
		dir := b.TempDir()
		key := filepath.Join(dir, "key")
		os.WriteFile(key, []byte(apiKey), 0o600)
		cfg := config.Default()
		cfg.Git = &config.Git{URL: "file://" + repo.Dir}
		cfg.StateDir = filepath.Join(dir, "state")
		cfg.Listen.API = "127.0.0.1:0"
		cfg.Agents.Default.APIKeyFile = key
		fake := fleet.NewFakeClient()
		ctl, err := controller.New(cfg, controller.Deps{Log: slog.New(slog.DiscardHandler), Fleet: fake})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ctl.Run(ctx) }()
		start := time.Now()
		controllertest.Eventually(b, 120*time.Second, "1,000 firewalls in sync", func() bool {
			p := ctl.Policy()
			if p == nil || p.Revision != "main@sha1:"+h {
				return false
			}
			fs, _ := ctl.Store().List()
			n := 0
			for _, f := range fs {
				if f.Summary() == "Ready" {
					n++
				}
			}
			return n == 1000
		})
		converge := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse-min(ms.HeapInuse, base.HeapInuse))/(1<<20), "heap-MiB")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
		b.ReportMetric(converge.Seconds(), "converge-s")
		b.ReportMetric(0, "ns/op")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
