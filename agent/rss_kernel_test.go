//go:build linux && netns

package agent

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nettest"
)

// BenchmarkIdleRSS builds the real fwgit-agent binary, starts it in a fresh
// namespace with a persisted 500-rule, 2,000-CIDR policy (which it restores
// into the kernel through Netlink before serving), lets it idle for two
// seconds and reports its resident memory: MiB-idle-RSS (VmRSS) and
// MiB-peak-RSS (VmHWM, the restore included). The goal is under 30 MiB.
func BenchmarkIdleRSS(b *testing.B) {
	ns := nettest.NewNS(b)
	bin := filepath.Join(b.TempDir(), "fwgit-agent")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/fwgit-agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	cfg, res := setup(b, agentconfig.DriftRepair)
	store, err := safety.OpenStore(cfg.StateDir)
	if err != nil {
		b.Fatal(err)
	}
	rs := shape(500, 2000)
	req := agentapi.RulesetRequest{Version: agentapi.Version, Generation: 1, Digest: rs.Digest(), Ruleset: rs}
	if err := store.Save(&safety.Persisted{Current: &safety.Record{Request: req, AppliedAt: time.Now()}}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		idle, peak := measure(b, ns.Command(context.Background(), bin, "run", "--env-file", res.EnvFile, "--listen", "127.0.0.1:33033", "--log-format", "text"))
		b.ReportMetric(idle, "MiB-idle-RSS")
		b.ReportMetric(peak, "MiB-peak-RSS")
	}
}

// measure starts cmd, waits for it to serve, lets it idle and returns its
// VmRSS and VmHWM in MiB; it stops the process before returning.
func measure(b *testing.B, cmd *exec.Cmd) (idle, peak float64) {
	b.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	serving := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		ok, restored := false, false
		for sc.Scan() {
			restored = restored || strings.Contains(sc.Text(), `msg="restored persisted ruleset"`)
			if !ok && strings.Contains(sc.Text(), "msg=serving") {
				ok = true
				serving <- restored
			}
			if strings.Contains(sc.Text(), "level=ERROR") {
				b.Logf("agent: %s", sc.Text())
			}
		}
		if !ok {
			serving <- false
		}
	}()
	select {
	case ok := <-serving:
		if !ok {
			b.Fatal("agent exited, or served without restoring its ruleset")
		}
	case <-time.After(30 * time.Second):
		b.Fatal("agent did not start serving")
	}
	time.Sleep(2 * time.Second) // idle
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	field := func(name string) float64 {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				return kb / 1024
			}
		}
		b.Fatalf("no %s in /proc/PID/status", name)
		return 0
	}
	return field("VmRSS"), field("VmHWM")
}
