package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/e2e/lab"
	"github.com/fwgit/fwgit/internal/netns"
)

const name = "demo"

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: demo up [-bin DIR] [-dir DIR] [-policy DIR] | demo down [-dir DIR]")
		return 2
	}
	fs := flag.NewFlagSet("demo "+os.Args[1], flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory holding fwgit and fwgit-agent")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "fwgit-demo"), "the lab's working directory")
	policy := fs.String("policy", filepath.Join("examples", "repo"), "the policy repository to import")
	if err := fs.Parse(os.Args[2:]); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: run as root: the lab is made of network namespaces and nftables tables")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Args[1] == "down" {
		return down(*dir)
	}
	d := newDemo(os.Stdout)
	if err := d.up(ctx, *bin, *dir, *policy); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "\ndemo: interrupted; the lab was taken down")
			return 130
		}
		fmt.Fprintln(os.Stderr, "\ndemo:", err)
		return 1
	}
	return 0
}

// down takes down the demo lab, whatever state it is in.
func down(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	left, _ := netns.List(lab.NSPrefix(name))
	_, statErr := os.Stat(dir)
	if len(left) == 0 && statErr != nil {
		fmt.Println("demo: nothing to take down")
		return 0
	}
	if err := lab.Down(ctx, dir, name); err != nil {
		fmt.Fprintln(os.Stderr, "demo down:", err)
		return 1
	}
	fmt.Printf("demo: stopped the agents and the controller, deleted %d namespaces and the host link, removed %s\n", len(left), dir)
	return 0
}

// demo prints the walk-through.
type demo struct {
	w     io.Writer
	tty   bool
	step  int
	steps int
	// bin is how the commands are shown: the -bin directory as given.
	bin      string
	fwgit    string
	failures []string
}

func newDemo(w io.Writer) *demo {
	tty := false
	if fi, err := os.Stdout.Stat(); err == nil {
		tty = fi.Mode()&os.ModeCharDevice != 0
	}
	return &demo{w: w, tty: tty, steps: 6}
}

func (d *demo) bold(s string) string {
	if d.tty {
		return "\x1b[1m" + s + "\x1b[0m"
	}
	return s
}

func (d *demo) title(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.w, "\n%s\n", d.bold(fmt.Sprintf("==> %d/%d  %s", d.step, d.steps, fmt.Sprintf(format, args...))))
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.w, "    "+format+"\n", args...) }

// progress shows a line that is rewritten in place on a terminal, and
// printed every few seconds otherwise.
type progress struct {
	d     *demo
	start time.Time
	last  time.Time
	text  string
}

func (d *demo) progress() *progress { return &progress{d: d, start: time.Now()} }

func (p *progress) set(format string, args ...any) {
	p.text = fmt.Sprintf(format, args...)
	el := time.Since(p.start).Round(100 * time.Millisecond)
	if p.d.tty {
		fmt.Fprintf(p.d.w, "\r\x1b[K    … %s  [%s]", p.text, el)
		return
	}
	if time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.d.w, "    … %s  [%s]\n", p.text, el)
	}
}

func (p *progress) done(format string, args ...any) {
	if p.d.tty {
		fmt.Fprint(p.d.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.d.w, "    ✓ %s  [%s]\n", fmt.Sprintf(format, args...), time.Since(p.start).Round(100*time.Millisecond))
}

// show runs a command and prints it with its output; what the reader
// sees is the command as they would type it.
func (d *demo) show(ctx context.Context, shown string, cmd *exec.Cmd) (string, error) {
	fmt.Fprintf(d.w, "\n    $ %s\n", shown)
	out, err := cmd.CombinedOutput()
	for _, ln := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Fprintf(d.w, "      %s\n", ln)
	}
	fmt.Fprintln(d.w)
	return string(out), err
}

func (d *demo) up(ctx context.Context, bin, dir, policy string) (err error) {
	d.bin = bin
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	d.fwgit = filepath.Join(abs, "fwgit")
	for _, b := range []string{d.fwgit, filepath.Join(abs, "fwgit-agent")} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s: %w (run make build)", b, err)
		}
	}
	for _, tool := range []string{"ip", "nft", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the demo needs %s on PATH", tool)
		}
	}
	if left, _ := netns.List(lab.NSPrefix(name)); len(left) > 0 {
		fmt.Fprintf(d.w, "A demo lab is running already: taking it down first.\n")
		if code := down(dir); code != 0 {
			return errors.New("could not take the previous demo down (try make demo-down)")
		}
	}

	d.title("Build the lab: namespaces, agents, a Git repository and the controller")
	p := d.progress()
	l, err := lab.Start(ctx, lab.Options{
		Name: name, Dir: dir, Fwgit: d.fwgit, Agent: filepath.Join(abs, "fwgit-agent"), Policy: policy,
		HostLink: true, Detach: true,
		ConfirmTimeout: 5 * time.Second, PollInterval: 2 * time.Second, ResyncInterval: 5 * time.Second, DriftInterval: 2 * time.Second,
		Logf: func(format string, args ...any) { p.set(format, args...) },
	})
	if err != nil {
		return err
	}
	p.done("%d firewall namespaces on a bridge in %s, each with fwgit-agent on its own nftables", len(l.Firewalls), l.Lab.Name)
	keep := false
	defer func() {
		if !keep {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if cerr := l.Close(cctx); cerr != nil {
				fmt.Fprintln(os.Stderr, "demo: taking the lab down:", cerr)
			}
		}
	}()
	d.say("controller in %s at %s (reachable from this host through %s)", l.Ctl.Name, l.APIURL, lab.HostLinkName(name))
	d.say("policy: %s, pushed to %s (file://), agent certificates pinned in a commit", policy, l.Repo.Bare)
	if _, err := d.show(ctx, "git -C "+l.Repo.Work+" log --oneline", exec.CommandContext(ctx, "git", "-C", l.Repo.Work, "log", "--oneline")); err != nil {
		return err
	}

	if err := d.converge(ctx, l); err != nil {
		return err
	}
	if err := d.traffic(ctx, l); err != nil {
		return err
	}
	if err := d.change(ctx, l); err != nil {
		return err
	}
	if err := d.broken(ctx, l); err != nil {
		return err
	}
	// From here on the lab stays up, for exploring or, when a check did
	// not hold, for looking into why.
	keep = true
	d.explore(l)
	if len(d.failures) > 0 {
		return fmt.Errorf("%d checks did not hold (the lab is left running to look at):\n  %s", len(d.failures), strings.Join(d.failures, "\n  "))
	}
	return nil
}

// statusCmd is `fwgit status` as run from the host.
func (d *demo) status(ctx context.Context, l *lab.Lab) error {
	_, err := d.show(ctx, d.bin+"/fwgit status --controller "+l.APIURL, exec.CommandContext(ctx, d.fwgit, "status", "--controller", l.APIURL))
	return err
}

// waitConverged waits for every firewall to be Ready on commit, showing
// progress.
func (d *demo) waitConverged(ctx context.Context, l *lab.Lab, commit string) (*api.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p := d.progress()
	st, err := l.WaitConverged(ctx, commit, func(st *api.StatusResponse, done int) {
		p.set("%d/%d firewalls Ready on %s", done, len(l.Firewalls), short(commit))
	})
	if err != nil {
		return st, err
	}
	p.done("%d/%d firewalls Ready on %s", len(l.Firewalls), len(l.Firewalls), short(commit))
	return st, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (d *demo) converge(ctx context.Context, l *lab.Lab) error {
	commit, err := l.Repo.Head(ctx)
	if err != nil {
		return err
	}
	d.title("Every firewall converges on %s", short(commit))
	d.say("the controller clones the repository, compiles a ruleset per firewall and pushes it;")
	d.say("each agent applies it as one nftables transaction and the controller confirms it")
	if _, err := d.waitConverged(ctx, l, commit); err != nil {
		return err
	}
	return d.status(ctx, l)
}

// probe is one piece of traffic the demo sends.
type probe struct {
	from, to string // firewall names, or "internet"
	v6       bool
	pkt      lab.Packet
	want     bool
	why      string
}

func (d *demo) endpoint(l *lab.Lab, name string, v6 bool) (*netns.NS, netip.Addr) {
	if name == "internet" {
		if v6 {
			return l.Internet, lab.Internet6
		}
		return l.Internet, lab.Internet4
	}
	fw := l.Firewall(name)
	if v6 {
		return fw.NS, fw.V6
	}
	return fw.NS, fw.V4
}

// send runs one probe and prints its line.
func (d *demo) send(ctx context.Context, l *lab.Lab, p probe) error {
	cns, _ := d.endpoint(l, p.from, p.v6)
	sns, dst := d.endpoint(l, p.to, p.v6)
	var got bool
	var err error
	if p.want {
		got, err = lab.Reaches(ctx, cns, sns, dst, p.pkt)
	} else {
		got, err = lab.Send(ctx, cns, sns, dst, p.pkt, lab.ProbeTimeout)
	}
	if err != nil {
		return fmt.Errorf("probe %s → %s: %w", p.from, p.to, err)
	}
	mark, verdict := "✓", "dropped "
	if got {
		verdict = "accepted"
	}
	if got != p.want {
		mark = "✗"
		d.failures = append(d.failures, fmt.Sprintf("%s → %s %s: %s", p.from, p.to, p.pkt, verdict))
	}
	d.say("%s %-10s → %-11s %-15s %-22s %s  (%s)", mark, p.from, p.to, dst, p.pkt, verdict, p.why)
	return nil
}

func (d *demo) traffic(ctx context.Context, l *lab.Lab) error {
	d.title("Real traffic between the namespaces follows the policy")
	tcp := func(port uint16) lab.Packet { return lab.Packet{Proto: "tcp", Port: port} }
	probes := []probe{
		{"web-1", "db-1", false, tcp(5432), true, "rule web-to-db"},
		{"web-2", "db-1", true, tcp(5432), true, "rule web-to-db, over IPv6"},
		{"lb-1", "db-1", false, tcp(5432), false, "the load balancer is not a web server"},
		{"staging-1", "db-1", false, tcp(5432), false, "rule staging-isolation, priority 50"},
		{"internet", "lb-1", false, tcp(443), true, "rule public-web"},
		{"internet", "web-1", false, tcp(8080), false, "the web tier is closed to the internet"},
		{"lb-1", "web-1", false, tcp(8080), true, "rule lb-to-web"},
		{"monitoring", "web-2", true, tcp(9100), true, "rule global-node-exporter, over IPv6"},
		{"internet", "bastion", false, tcp(22), false, "SSH only from the office"},
		{"internet", "cache-1", true, lab.Packet{Proto: "icmp6", Type: 128}, true, "rule global-ping6"},
	}
	for _, p := range probes {
		if err := d.send(ctx, l, p); err != nil {
			return err
		}
	}
	inv, rs, err := lab.Desired(l.Repo.FS())
	if err != nil {
		return err
	}
	results := compile.Check(inv, rs)
	fmt.Fprintln(d.w)
	d.say("and every case of the repository's Test manifests, as packets through the agents' tables:")
	pr := d.progress()
	pr.set("sending %d cases", len(results))
	passed, skipped := 0, 0
	var bad []string
	for _, o := range l.CheckTests(ctx, results) {
		switch {
		case o.Skipped != "":
			skipped++
		case o.Passed():
			passed++
		default:
			bad = append(bad, fmt.Sprintf("%s (%s): got %q %v", o.Name(), o.Case.Pos, o.Got, o.Err))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pr.done("%d of %d Test cases hold on the wire (%d cannot be sent as packets)", passed, len(results), skipped)
	for _, b := range bad {
		d.say("✗ %s", b)
		d.failures = append(d.failures, "Test case "+b)
	}
	return nil
}

// The change of step 4: Prometheus scrapes the Redis exporter.
const (
	exporterFile = "rules/redis-exporter.yaml"
	exporterRule = `# yaml-language-server: $schema=../../schema/v1/fwgit.schema.json
apiVersion: fwgit/v1
kind: Rule
metadata:
  name: redis-exporter
spec:
  description: Prometheus scrapes the Redis exporter on the cache hosts.
  owner: f3a9a535-0975-423a-a9af-18c4ce0b6587
  rule: FROM tag role = monitoring TO tag role = cache ALLOW tcp PORT 9121
`
)

func (d *demo) change(ctx context.Context, l *lab.Lab) error {
	d.title("A pull request: Prometheus scrapes the Redis exporter (tcp/9121 on the cache)")
	scrape := probe{"monitoring", "cache-1", false, lab.Packet{Proto: "tcp", Port: 9121}, false, "no rule yet"}
	if err := d.send(ctx, l, scrape); err != nil {
		return err
	}
	commit, err := l.Repo.CommitLocal(ctx, "Let Prometheus scrape the Redis exporter", lab.WriteFile(exporterFile, exporterRule))
	if err != nil {
		return err
	}
	d.say("CI runs fwgit plan on the pull request: only cache-1 changes")
	if _, err := d.show(ctx, fmt.Sprintf("%s/fwgit plan %s --base HEAD~1 --format text", d.bin, l.Repo.Work),
		exec.CommandContext(ctx, d.fwgit, "plan", l.Repo.Work, "--base", "HEAD~1", "--format", "text")); err != nil {
		return fmt.Errorf("fwgit plan: %w", err)
	}
	d.say("merged: pushed to main, and the Git server calls the controller's webhook (POST /hooks/git)")
	if err := l.Repo.PushMain(ctx); err != nil {
		return err
	}
	if err := l.API.Webhook(ctx); err != nil {
		return err
	}
	if _, err := d.waitConverged(ctx, l, commit); err != nil {
		return err
	}
	fr, err := l.API.Firewall(ctx, "cache-1")
	if err != nil {
		return err
	}
	if len(fr.History) > 0 {
		h := fr.History[0]
		d.say("cache-1 applied generation %d (%s) in %s; the other firewalls' rulesets did not change, so nothing was sent to them",
			h.Generation, short(strings.TrimPrefix(h.Digest, "sha256:")), h.Duration.Round(time.Millisecond))
	}
	scrape.want, scrape.why = true, "rule redis-exporter"
	return d.send(ctx, l, scrape)
}

func (d *demo) broken(ctx context.Context, l *lab.Lab) error {
	d.title("A broken commit is refused; every firewall keeps the last good policy")
	good, err := l.Repo.Head(ctx)
	if err != nil {
		return err
	}
	before := map[string]string{}
	for _, fw := range l.Firewalls {
		st, err := l.AgentState(ctx, fw)
		if err != nil {
			return err
		}
		before[fw.Name] = st.Digest
	}
	bad, err := l.Repo.CommitLocal(ctx, "Scrape the exporter on the Redis role", lab.Replace(exporterFile, "role = cache", "role = redis"))
	if err != nil {
		return err
	}
	d.say("fwgit validate would have failed the pull request:")
	if _, err := d.show(ctx, d.bin+"/fwgit validate "+l.Repo.Work, exec.CommandContext(ctx, d.fwgit, "validate", l.Repo.Work)); err == nil {
		return errors.New("fwgit validate accepted the broken commit")
	}
	d.say("pushed anyway, straight to main:")
	if err := l.Repo.PushMain(ctx); err != nil {
		return err
	}
	if err := l.API.Webhook(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p := d.progress()
	err = lab.Poll(wctx, 100*time.Millisecond, func() (bool, error) {
		st, err := l.API.Status(wctx)
		if err != nil {
			return false, nil
		}
		p.set("%d/%d firewalls Stalled on the refused %s", st.Counts["Stalled"], len(l.Firewalls), short(bad))
		return st.Revision.Current == lab.Revision(bad) && st.Counts["Stalled"] == len(l.Firewalls), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the controller to refuse %s: %w", short(bad), err)
	}
	p.done("the controller refused %s and keeps serving %s", short(bad), short(good))
	if err := d.status(ctx, l); err != nil {
		return err
	}
	same := 0
	for _, fw := range l.Firewalls {
		st, err := l.AgentState(ctx, fw)
		if err != nil {
			return err
		}
		if st.Digest == before[fw.Name] {
			same++
		} else {
			d.failures = append(d.failures, fw.Name+" changed its ruleset on a refused commit")
		}
	}
	d.say("✓ %d/%d agents still run the ruleset they ran before the broken commit", same, len(l.Firewalls))
	if err := d.send(ctx, l, probe{"monitoring", "cache-1", false, lab.Packet{Proto: "tcp", Port: 9121}, true, "the last good policy still applies"}); err != nil {
		return err
	}

	d.title("The fix converges")
	fix, err := l.Repo.CommitLocal(ctx, "Fix the role: the exporter runs on the cache hosts", lab.Replace(exporterFile, "role = redis", "role = cache"))
	if err != nil {
		return err
	}
	if err := l.Repo.PushMain(ctx); err != nil {
		return err
	}
	if err := l.API.Webhook(ctx); err != nil {
		return err
	}
	d.say("the fix compiles to what already runs, so the agents' digests already match: nothing is pushed")
	if _, err := d.waitConverged(ctx, l, fix); err != nil {
		return err
	}
	return d.status(ctx, l)
}

// explore prints how to look around the running lab.
func (d *demo) explore(l *lab.Lab) {
	web := l.Inventory.FirewallByName("web-1")
	ui := ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if code, _, err := l.API.Get(ctx, "/ui/"); err == nil && code == 200 {
		ui = l.APIURL + "/ui/"
	}
	fmt.Fprintf(d.w, "\n%s\n", d.bold("The lab is running. Explore it (as root):"))
	lines := [][2]string{
		{"status of every firewall", d.bin + "/fwgit status --controller " + l.APIURL + " --watch"},
		{"the same as JSON", "curl -s " + l.APIURL + "/v1/status"},
		{"one firewall: ruleset and apply history", "curl -s " + l.APIURL + "/v1/firewalls/db-1"},
		{"FWAPI: every rule", "curl -s " + l.APIURL + "/rules"},
		{"FWAPI: the rules of web-1", "curl -s '" + l.APIURL + "/rules?vm=" + web.UUID + "'"},
		{"FWAPI: web-1's firewall view", "curl -s " + l.APIURL + "/firewalls/vms/" + web.UUID},
		{"the kernel's table on db-1", "ip netns exec " + l.Firewall("db-1").NS.Name + " nft list table inet fwgit"},
		{"an agent's own view", d.bin + "/fwgit-agent status --env-file " + l.Firewall("db-1").EnvFile},
		{"metrics", "curl -s " + l.APIURL + "/metrics | grep ^fwgit_"},
		{"make a change", "cd " + l.Repo.Work + " && $EDITOR rules/data.yaml && git commit -am '…' && git push"},
		{"  (the controller polls every 2s)", ""},
		{"logs", "ls " + filepath.Join(l.Options().Dir, "logs")},
	}
	if ui != "" {
		lines = append([][2]string{{"web console", ui}}, lines...)
	}
	for _, ln := range lines {
		if ln[1] == "" {
			fmt.Fprintf(d.w, "  %s\n", ln[0])
			continue
		}
		fmt.Fprintf(d.w, "  %-40s %s\n", ln[0], ln[1])
	}
	fmt.Fprintf(d.w, "\nNamespaces: ip netns list | grep %s   Take everything down: make demo-down\n", lab.NSPrefix(name))
}
