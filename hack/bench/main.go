package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() { os.Exit(run()) }

// goal is a bound a figure must respect.
type goal struct {
	op    string // "≤" or "≥"; "" for a figure without a goal
	limit float64
}

func (g goal) met(v float64) bool {
	switch g.op {
	case "≤":
		return v <= g.limit
	case "≥":
		return v >= g.limit
	}
	return true
}

// row is one line of the table.
type row struct {
	area, figure string
	value        float64
	unit         string
	// shown replaces the formatted value (for side-by-side figures).
	shown string
	goal  goal
	// skipped says why the figure could not be measured.
	skipped string
	note    string
}

func (r row) valueText() string {
	switch {
	case r.skipped != "":
		return "skipped"
	case r.shown != "":
		return r.shown
	}
	return number(r.value) + " " + r.unit
}

func (r row) goalText() string {
	if r.goal.op == "" {
		return "-"
	}
	l := strconv.FormatFloat(r.goal.limit, 'f', -1, 64)
	if r.goal.limit == float64(int64(r.goal.limit)) {
		l = thousands(int64(r.goal.limit))
	}
	if r.unit == "×" {
		return r.goal.op + " " + l + "×"
	}
	return r.goal.op + " " + l + " " + r.unit
}

func (r row) verdict() string {
	switch {
	case r.skipped != "":
		return "skipped"
	case r.goal.op == "":
		return "-"
	case r.goal.met(r.value):
		return "pass"
	}
	return "FAIL"
}

// number prints v with a precision that suits its size.
func number(v float64) string {
	switch a := abs(v); {
	case a >= 10000:
		return thousands(int64(v + 0.5))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// bench runs the benchmarks.
type bench struct {
	root, tmp string
	root0     bool // running as root
	log       io.Writer
	rows      []row
	errs      []error
}

func run() int {
	out := flag.String("out", "BENCHMARKS.md", "the Markdown file to write; empty for none")
	flag.Parse()
	root, err := os.Getwd()
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: run from the repository's root (make bench)")
		return 2
	}
	tmp, err := os.MkdirTemp("", "fwgit-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	b := &bench{root: root, tmp: tmp, root0: os.Geteuid() == 0, log: os.Stderr}
	before := loadAvg()
	start := time.Now()
	b.all()
	took := time.Since(start)

	var tbl bytes.Buffer
	b.text(&tbl)
	fmt.Print("\n", tbl.String())
	m := machine()
	m.loadBefore, m.loadAfter = before, loadAvg()
	fmt.Printf("\n%s; %s in total; load average %s before, %s after\n", m.oneLine(), took.Round(time.Second), m.loadBefore, m.loadAfter)
	if *out != "" {
		if err := os.WriteFile(*out, b.markdown(m, took), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Printf("wrote %s\n", *out)
	}
	if len(b.errs) > 0 {
		for _, err := range b.errs {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		return 1
	}
	return 0
}

func (b *bench) add(r row) { b.rows = append(b.rows, r) }

func (b *bench) fail(err error) { b.errs = append(b.errs, err) }

// all runs every benchmark in the table's order.
func (b *bench) all() {
	// The rule parser: one core, as its goal says.
	res := b.goBench("schema/fwrule", "", "^BenchmarkParseText$", "2s", 1)
	b.add(row{area: "rules", figure: "fwrule parse + canonical print, 1 core", value: res.get("BenchmarkParseText", "rules/s"), unit: "rules/s", goal: goal{"≥", 200000}})

	b.validateCLI()
	res = b.goBench("controller/model", "", "^BenchmarkValidate$", "5x", 0)
	b.add(row{area: "validate", figure: "load + model in memory, 1,000 firewalls / 10,000 rules", value: res.get("BenchmarkValidate", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 1000}})

	// Compile, recompile and plan: one iteration each, as the larger
	// sizes take seconds.
	for _, n := range []int{100, 1000} {
		name := fmt.Sprintf("BenchmarkAll/firewalls=%d", n)
		res = b.goBench("controller/compile", "", "^BenchmarkAll$/^firewalls="+strconv.Itoa(n)+"$", "1x", 0)
		g, gm := goal{}, goal{}
		if n == 1000 {
			g, gm = goal{"≤", 2}, goal{"≤", 1024}
		}
		b.add(row{area: "compile", figure: fmt.Sprintf("compile every firewall, %s firewalls / %s rules", thousands(int64(n)), thousands(int64(10*n))), value: res.get(name, "ns/op") / 1e9, unit: "s", goal: g})
		b.add(row{area: "compile", figure: fmt.Sprintf("  memory the %s rulesets keep live", thousands(int64(n))), value: res.get(name, "live-MiB"), unit: "MiB", goal: gm})
	}
	res = b.goBench("controller/compile", "", "^BenchmarkUpdateOneRule$/^firewalls=1000$", "3x", 0)
	b.add(row{area: "compile", figure: "recompile after a one-rule change, 1,000 firewalls", value: res.get("BenchmarkUpdateOneRule/firewalls=1000", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 100},
		note: fmt.Sprintf("%s firewalls recompiled", number(res.get("BenchmarkUpdateOneRule/firewalls=1000", "recompiled")))})
	for _, n := range []int{100, 1000} {
		// BenchmarkPlanUpdate does what `fwgit plan` does: load both
		// revisions, compile the base, compile the head incrementally
		// from it, plan and render Markdown.
		res = b.goBench("controller/compile", "", "^BenchmarkPlanUpdate$/^firewalls="+strconv.Itoa(n)+"$", "1x", 0)
		g := goal{}
		if n == 1000 {
			g = goal{"≤", 3}
		}
		b.add(row{area: "plan", figure: fmt.Sprintf("fwgit plan between two revisions, %s firewalls", thousands(int64(n))), value: res.get(fmt.Sprintf("BenchmarkPlanUpdate/firewalls=%d", n), "ns/op") / 1e9, unit: "s", goal: g})
	}

	b.applyVsNFT()
	res = b.goBench("agent", "", "^BenchmarkReapplyUnchanged$", "20x", 0)
	b.add(row{area: "agent", figure: "re-apply unchanged 500-rule policy over HTTPS (digest match)", value: res.get("BenchmarkReapplyUnchanged/policy-500", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 5}})
	b.add(row{area: "agent", figure: "  the same, body decoded and checked in full", value: res.get("BenchmarkReapplyUnchanged/policy-500-decoded", "ns/op") / 1e6, unit: "ms",
		note: "the goal is for a digest match; this is a new body with the same digest"})
	b.add(row{area: "agent", figure: "  unchanged 10,000 rules / 50,000 CIDRs", shown: fmt.Sprintf("%s / %s ms", number(res.get("BenchmarkReapplyUnchanged/rules-10k", "ns/op")/1e6), number(res.get("BenchmarkReapplyUnchanged/set-50k", "ns/op")/1e6)), unit: "ms"})
	if b.root0 {
		res = b.goBench("agent", "netns", "^BenchmarkIdleRSS$", "1x", 0)
		b.add(row{area: "agent", figure: "idle RSS after restoring a 500-rule policy", value: res.get("BenchmarkIdleRSS", "MiB-idle-RSS"), unit: "MiB", goal: goal{"≤", 30},
			note: fmt.Sprintf("peak %s MiB", number(res.get("BenchmarkIdleRSS", "MiB-peak-RSS")))})
	} else {
		b.add(row{area: "agent", figure: "idle RSS after restoring a 500-rule policy", unit: "MiB", goal: goal{"≤", 30}, skipped: "needs root"})
	}

	res = b.goBench("controller", "", "^BenchmarkWebhookConverge200$", "5x", 0)
	b.add(row{area: "controller", figure: "commit → 200 agents on its digest (webhook), median", value: res.get("BenchmarkWebhookConverge200", "median-s"), unit: "s", goal: goal{"≤", 2},
		note: fmt.Sprintf("max %s s; real HTTPS on loopback, commit-confirm on", number(res.get("BenchmarkWebhookConverge200", "max-s")))})
	res = b.goBench("controller", "", "^BenchmarkPollConverge200$", "3x", 0)
	b.add(row{area: "controller", figure: "commit → 200 agents on its digest (poll every 2 s), median", value: res.get("BenchmarkPollConverge200", "median-s"), unit: "s", goal: goal{"≤", 4},
		note: fmt.Sprintf("max %s s; goal one interval + 2 s", number(res.get("BenchmarkPollConverge200", "max-s")))})
	res = b.goBench("controller", "", "^BenchmarkMemory1000$", "1x", 0)
	b.add(row{area: "controller", figure: "live heap with 1,000 firewalls in sync", value: res.get("BenchmarkMemory1000", "heap-MiB"), unit: "MiB", goal: goal{"≤", 300},
		note: fmt.Sprintf("converged in %s s", number(res.get("BenchmarkMemory1000", "converge-s")))})

	res = b.goBench("controller/ui", "", "^BenchmarkOverview1000$/^bolt$", "20x", 0)
	b.add(row{area: "console", figure: "overview page, 1,000 firewalls (bbolt status)", value: res.get("BenchmarkOverview1000/bolt/page", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 50}})
	b.add(row{area: "console", figure: "  all 1,000 rows on one page", value: res.get("BenchmarkOverview1000/bolt/all-rows", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 50}})
	res = b.goBench("controller/ui", "", "^BenchmarkTrace$/^json$", "50x", 0)
	b.add(row{area: "console", figure: "packet tracer query (JSON), 1,000 firewalls", value: res.get("BenchmarkTrace/json", "ns/op") / 1e6, unit: "ms", goal: goal{"≤", 5}})
}

// results are benchmark figures by name (without the -N suffix) and unit.
type results struct {
	b    *bench
	pkg  string
	vals map[string]map[string]float64
}

// get returns a figure, recording an error when the benchmark did not
// report it.
func (r results) get(name, unit string) float64 {
	v, ok := r.vals[name][unit]
	if !ok {
		r.b.fail(fmt.Errorf("%s: %s reported no %s", r.pkg, name, unit))
		return 0
	}
	return v
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// testBinary compiles pkg's tests once per build tag set.
func (b *bench) testBinary(pkg, tags string) (string, error) {
	bin := filepath.Join(b.tmp, strings.ReplaceAll(pkg, "/", "_")+"_"+tags+".test")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	args := []string{"test", "-c", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./"+pkg)...)
	cmd.Dir = b.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// goBench runs the benchmarks of pkg matching pattern, benchtime each,
// with GOMAXPROCS cpu (0: all cores), in the package's directory.
func (b *bench) goBench(pkg, tags, pattern, benchtime string, cpu int) results {
	res := results{b: b, pkg: pkg, vals: map[string]map[string]float64{}}
	fmt.Fprintf(b.log, "bench: %s %s (%s)\n", pkg, pattern, benchtime)
	bin, err := b.testBinary(pkg, tags)
	if err != nil {
		b.fail(err)
		return res
	}
	args := []string{"-test.run", "^$", "-test.bench", pattern, "-test.benchtime", benchtime, "-test.benchmem", "-test.timeout", "8m"}
	if cpu > 0 {
		args = append(args, "-test.cpu", strconv.Itoa(cpu))
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Join(b.root, pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.fail(fmt.Errorf("%s %s: %v\n%s", pkg, pattern, err, tail(out, 30)))
	}
	res.vals = parseBench(out)
	return res
}

// parseBench reads `go test -bench` output: for each benchmark (named
// without its -GOMAXPROCS suffix), its figures by unit.
func parseBench(out []byte) map[string]map[string]float64 {
	all := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		vals := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[f[i+1]] = v
			}
		}
		all[m[1]] = vals
	}
	return all
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// validateCLI times the real `fwgit validate` on a generated repository of
// 1,000 firewalls, 10,000 rules and 50 tags, and reads its peak RSS.
func (b *bench) validateCLI() {
	fmt.Fprintln(b.log, "bench: fwgit validate on a generated repository")
	bin := filepath.Join(b.tmp, "fwgit")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fwgit")
	build.Dir = b.root
	if out, err := build.CombinedOutput(); err != nil {
		b.fail(fmt.Errorf("building fwgit: %v\n%s", err, out))
		return
	}
	repo := filepath.Join(b.tmp, "genrepo")
	gen := exec.Command(bin, "dev", "genrepo", "--out", repo, "--firewalls", "1000", "--rules", "10000", "--tags", "50")
	if out, err := gen.CombinedOutput(); err != nil {
		b.fail(fmt.Errorf("fwgit dev genrepo: %v\n%s", err, out))
		return
	}
	var best time.Duration
	var rss int64
	for i := range 3 {
		cmd := exec.Command(bin, "validate", repo)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			b.fail(fmt.Errorf("fwgit validate: %w", err))
			return
		}
		if err != nil {
			b.fail(fmt.Errorf("fwgit validate on the generated repository exits %d", ee.ExitCode()))
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss) // KiB on Linux
		}
		if i == 0 || d < best {
			best = d
		}
	}
	b.add(row{area: "validate", figure: "fwgit validate, 1,000 firewalls / 10,000 rules / 50 tags", value: best.Seconds(), unit: "s", goal: goal{"≤", 1}, note: "best of 3, the whole process"})
	b.add(row{area: "validate", figure: "  its peak resident memory", value: float64(rss) / 1024, unit: "MiB", goal: goal{"≤", 500}})
}

// applyRE matches a line of hack/bench-apply's first table.
var applyRE = regexp.MustCompile(`^\s*(rules 10,000|CIDRs 50,000 in sets|policy 500 rules)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)`)

// applyVsNFT runs hack/bench-apply: the agent's dataplane and `nft -f`,
// alternating on the same rulesets in one namespace.
func (b *bench) applyVsNFT() {
	figures := []struct {
		name, figure string
		goal         goal
	}{
		{"rules 10,000", "agent apply vs nft -f, 10,000 rules", goal{"≤", 1.3}},
		{"CIDRs 50,000 in sets", "agent apply vs nft -f, 50,000 CIDRs in sets", goal{"≤", 1.0}},
		{"policy 500 rules", "agent apply vs nft -f, realistic 500-rule policy", goal{}},
	}
	if !b.root0 {
		for _, f := range figures {
			b.add(row{area: "agent", figure: f.figure, unit: "×", goal: f.goal, skipped: "needs root"})
		}
		return
	}
	fmt.Fprintln(b.log, "bench: hack/bench-apply -runs 7")
	bin := filepath.Join(b.tmp, "bench-apply")
	build := exec.Command("go", "build", "-o", bin, "./hack/bench-apply")
	build.Dir = b.root
	if out, err := build.CombinedOutput(); err != nil {
		b.fail(fmt.Errorf("building hack/bench-apply: %v\n%s", err, out))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-runs", "7").CombinedOutput()
	if err != nil {
		b.fail(fmt.Errorf("hack/bench-apply: %v\n%s", err, tail(out, 30)))
	}
	got := parseApply(out)
	for _, f := range figures {
		v, ok := got[f.name]
		if !ok {
			b.fail(fmt.Errorf("hack/bench-apply printed no %q line", f.name))
			continue
		}
		b.add(row{area: "agent", figure: f.figure, value: v[2], unit: "×", goal: f.goal,
			shown: fmt.Sprintf("%s ms vs %s ms = %.2f×", number(v[0]), number(v[1]), v[2]), note: "median of 7, alternating, same namespace"})
	}
}

// parseApply reads hack/bench-apply's first table: per ruleset, the
// agent's milliseconds, nft's, and their ratio.
func parseApply(out []byte) map[string][3]float64 {
	got := map[string][3]float64{}
	for _, ln := range strings.Split(string(out), "\n") {
		if m := applyRE.FindStringSubmatch(ln); m != nil {
			var v [3]float64
			for i := range v {
				v[i], _ = strconv.ParseFloat(m[i+2], 64)
			}
			got[m[1]] = v
		}
	}
	return got
}

// text writes the table for a terminal.
func (b *bench) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tFIGURE\tMEASURED\tGOAL\tRESULT\t")
	for _, r := range b.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.area, r.figure, r.valueText(), r.goalText(), r.verdict())
	}
	tw.Flush()
}

// markdown renders BENCHMARKS.md.
func (b *bench) markdown(m machineInfo, took time.Duration) []byte {
	var w bytes.Buffer
	fmt.Fprintf(&w, "# Benchmarks\n\n")
	fmt.Fprintf(&w, "Written by `make bench` (`go run ./hack/bench`): every benchmark of the project that has a goal, run in one go on one machine. ")
	fmt.Fprintf(&w, "Where two things are compared (the agent's apply against `nft -f`) they are measured side by side in the same run, alternating. ")
	fmt.Fprintf(&w, "Re-run it to refresh this file; figures from another machine are not comparable.\n\n")
	fmt.Fprintf(&w, "| machine | |\n|---|---|\n")
	fmt.Fprintf(&w, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| kernel | %s |\n| Go | %s |\n| commit | %s |\n| date | %s |\n| duration | %s |\n| load average (1 min) before / after | %s / %s |\n\n",
		m.cpu, m.cores, m.memory, m.kernel, m.goVersion, m.commit, m.date, took.Round(time.Second), m.loadBefore, m.loadAfter)
	if busy(m) {
		fmt.Fprintf(&w, "**Other work was running on this machine during the run** (load average %s before, %s after, on %d cores): "+
			"the figures are pessimistic, the timing ones most. Re-run `make bench` on an idle machine for figures to compare with the goals.\n\n",
			m.loadBefore, m.loadAfter, m.cores)
	}
	fmt.Fprintf(&w, "| area | figure | measured | goal | result | notes |\n|---|---|---|---|---|---|\n")
	for _, r := range b.rows {
		note := r.note
		if r.skipped != "" {
			note = r.skipped
		}
		fig := strings.TrimSpace(r.figure)
		if strings.HasPrefix(r.figure, "  ") {
			fig = "↳ " + fig
		}
		v := r.verdict()
		if v == "FAIL" {
			v = "**FAIL**"
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s |\n", r.area, fig, r.valueText(), r.goalText(), v, note)
	}
	pass, fail := 0, 0
	for _, r := range b.rows {
		switch r.verdict() {
		case "pass":
			pass++
		case "FAIL":
			fail++
		}
	}
	fmt.Fprintf(&w, "\n%d goals met, %d missed.\n\n", pass, fail)
	fmt.Fprintf(&w, "## Where the figures come from\n\n")
	fmt.Fprintf(&w, "- rules: `BenchmarkParseText` in `schema/fwrule`, run with `-cpu 1`.\n")
	fmt.Fprintf(&w, "- validate: the `fwgit` binary on `fwgit dev genrepo --firewalls 1000 --rules 10000 --tags 50` (wall time and peak RSS of the process), and `BenchmarkValidate` in `controller/model` for the in-memory part.\n")
	fmt.Fprintf(&w, "- compile and plan: `BenchmarkAll`, `BenchmarkUpdateOneRule` and `BenchmarkPlanUpdate` (what `fwgit plan` does) in `controller/compile` on the generator's repositories (n firewalls, 10n rules, 50 tags), one iteration each.\n")
	fmt.Fprintf(&w, "- agent: `hack/bench-apply` (the dataplane's Netlink apply and `nft -f` of the canonical render, alternating in one namespace, medians of 7), `BenchmarkReapplyUnchanged` and `BenchmarkIdleRSS` in `agent`.\n")
	fmt.Fprintf(&w, "- controller: `BenchmarkWebhookConverge200`, `BenchmarkPollConverge200` and `BenchmarkMemory1000` in `controller`.\n")
	fmt.Fprintf(&w, "- console: `BenchmarkOverview1000` and `BenchmarkTrace` in `controller/ui`.\n")
	return w.Bytes()
}

type machineInfo struct {
	cpu, memory, kernel, goVersion, commit, date string
	// loadBefore and loadAfter are the 1-minute load averages when the
	// run began and ended: other work on the machine skews the figures.
	loadBefore, loadAfter string
	cores                 int
}

func (m machineInfo) oneLine() string {
	return fmt.Sprintf("%s, %d cores, %s, Linux %s, %s", m.cpu, m.cores, m.memory, m.kernel, m.goVersion)
}

// busy reports whether the load average before or after the run exceeded
// half the cores: something else competed with the benchmarks.
func busy(m machineInfo) bool {
	for _, l := range []string{m.loadBefore, m.loadAfter} {
		if v, err := strconv.ParseFloat(l, 64); err == nil && v > float64(m.cores)/2 {
			return true
		}
	}
	return false
}

// loadAvg returns the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// machine describes the machine the benchmarks ran on.
func machine() machineInfo {
	m := machineInfo{cores: runtime.NumCPU(), cpu: "unknown", memory: "unknown", kernel: "unknown", date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(ln, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(ln, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64); err == nil {
					m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	}
	return m
}
