//go:build linux && netns

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/e2e/lab"
	"github.com/fwgit/fwgit/internal/nettest"
)

var (
	// runName prefixes the labs of this run: "e2e-<pid>", so their
	// namespaces are "fwgit-e2e-<pid>-<n>-…" and a later run can tell a
	// dead run's leftovers from a live one's.
	runName = fmt.Sprintf("e2e-%d", os.Getpid())
	// runDir holds the binaries and every lab's directory.
	runDir string
	labSeq atomic.Int64

	buildOnce sync.Once
	binFwgit  string
	binAgent  string
	buildErr  error
)

func TestMain(m *testing.M) {
	var err error
	removeStaleDirs()
	if runDir, err = os.MkdirTemp("", fmt.Sprintf("fwgit-e2e-%d-", os.Getpid())); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if os.Geteuid() == 0 {
		if err := lab.CleanStale(ctx, lab.NSPrefix("e2e")); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: removing leftovers of earlier runs:", err)
		}
	}
	cancel()
	// Interrupted (Ctrl-C, or go test's SIGTERM): t.Cleanup will not run,
	// so take down every lab of this run here.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: removing the labs of this run\n", s)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lab.Teardown(ctx, runName); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
		}
		os.RemoveAll(runDir)
		os.Exit(130)
	}()
	code := m.Run()
	signal.Stop(sigs)
	os.RemoveAll(runDir)
	os.Exit(code)
}

// removeStaleDirs removes the directories of earlier runs that were
// killed: "fwgit-e2e-<pid>-…" in the temporary directory, whose process is
// gone.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fwgit-e2e-*-*"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), "fwgit-e2e-"), "-")
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(d)
		}
	}
}

// binaries builds fwgit and fwgit-agent once per run.
func binaries(t *testing.T) (fwgit, agent string) {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(runDir, "bin")
		binFwgit, binAgent = filepath.Join(dir, "fwgit"), filepath.Join(dir, "fwgit-agent")
		for _, b := range []struct{ out, pkg string }{{binFwgit, "./cmd/fwgit"}, {binAgent, "./cmd/fwgit-agent"}} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binFwgit, binAgent
}

// newLab builds a fresh lab of examples/repo for one scenario (tweak may
// change its options) and takes it down when the test ends, printing the
// processes' logs first if the test failed.
func newLab(t *testing.T, tweak func(*lab.Options)) *lab.Lab {
	t.Helper()
	nettest.Require(t)
	fwgit, agent := binaries(t)
	n := labSeq.Add(1)
	opts := lab.Options{
		Name:   fmt.Sprintf("%s-%d", runName, n),
		Dir:    filepath.Join(runDir, fmt.Sprintf("lab%d", n)),
		Fwgit:  fwgit,
		Agent:  agent,
		Policy: filepath.Join("..", "examples", "repo"),
		Logf:   t.Logf,
	}
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range l.Processes() {
				t.Logf("--- log of %s (pid %d)\n%s", p.Name, p.PID(), p.LogTail(80))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("taking the lab down: %v", err)
		}
	})
	return l
}

// testContext returns a context bounded by d and by the test's deadline.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	if dl, ok := t.Deadline(); ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, dl.Add(-10*time.Second))
		t.Cleanup(c2)
	}
	t.Cleanup(cancel)
	return ctx
}

// converge waits until every firewall is Ready on commit and returns the
// status.
func converge(t *testing.T, ctx context.Context, l *lab.Lab, commit string) *api.StatusResponse {
	t.Helper()
	st, err := l.WaitConverged(ctx, commit, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, statusTable(st))
	}
	return st
}

// statusTable prints a status for failure messages.
func statusTable(st *api.StatusResponse) string {
	if st == nil {
		return "(no status)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "revision: current %s valid %v last good %s\n", st.Revision.Current, st.Revision.Valid, st.Revision.LastGood)
	for _, f := range st.Firewalls {
		fmt.Fprintf(&b, "  %-12s %-11s desired %.19s applied %.19s gen %d %s: %s\n", f.Name, f.Condition, f.DesiredDigest, f.AppliedDigest, f.AppliedGeneration, f.Reason, f.Message)
	}
	return b.String()
}

// head returns the lab repository's HEAD.
func head(t *testing.T, ctx context.Context, l *lab.Lab) string {
	t.Helper()
	h, err := l.Repo.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// byName indexes a status by firewall name.
func byName(st *api.StatusResponse) map[string]api.FirewallStatus {
	m := map[string]api.FirewallStatus{}
	for _, f := range st.Firewalls {
		m[f.Name] = f
	}
	return m
}
