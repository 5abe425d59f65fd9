package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/schema/load"
)

// The lab's address space: every namespace sits on one bridge, on-link for
// the whole of both ranges, so any address of a case or a manifest is
// reachable without routers.
var (
	Net4 = netip.MustParsePrefix("198.18.0.0/15")
	Net6 = netip.MustParsePrefix("fd00::/8")
)

// The "internet" namespace's addresses: a host outside every firewall's
// rules, for traffic from strangers.
var (
	Internet4 = netip.MustParseAddr("198.19.5.5")
	Internet6 = netip.MustParseAddr("fd00:5::5")
)

// APIPort is the controller's API port in the controller namespace, and
// AgentsPort its agent-facing port for pull-mode agents.
const (
	APIPort    = 8080
	AgentsPort = 8443
)

// Options say what lab to build. Zero durations take the defaults noted.
type Options struct {
	// Name tells this lab's namespaces apart from every other's: they are
	// called "fwgit-<Name>-<host>". Letters, digits and '-'.
	Name string
	// Dir is the working directory: agents' credentials and state, the
	// Git repositories, the controller's state, logs. Start creates it;
	// Close removes it.
	Dir string
	// Fwgit and Agent are the binaries to run.
	Fwgit, Agent string
	// Policy is the directory of the policy repository to import
	// (examples/repo).
	Policy string
	// HostLink adds a veth pair between the host and the lab, named
	// "fwgit-<Name>0" on the host, with 198.19.255.254/32 on the host side
	// and a route to 198.18.0.0/24, so that the controller's API and the
	// lab hosts answer from the host.
	HostLink bool
	// Detach starts the processes in their own sessions so they outlive
	// this process (the demo leaves the lab running).
	Detach bool
	// AgentDriftMode and ControllerDriftMode are repair (default) or
	// report.
	AgentDriftMode, ControllerDriftMode string
	// ConfirmTimeout is the controller's commit-confirm timeout (3s).
	ConfirmTimeout time.Duration
	// PollInterval is the controller's Git poll interval (1s).
	PollInterval time.Duration
	// ResyncInterval is the controller's resync interval (1s).
	ResyncInterval time.Duration
	// DriftInterval is the agents' drift check interval (1s).
	DriftInterval time.Duration
	// Pull names firewalls whose agents run in pull mode: the lab's commit
	// that pins certificates gives them spec.agent.mode pull instead of a
	// URL, and the controller gets its agent-facing listener on
	// AgentsPort. They still need [Lab.EnrollPull].
	Pull []string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Firewall is one firewall of the lab: its namespace and its agent.
type Firewall struct {
	Name string
	// Addrs are the manifest's addresses; V4 and V6 the first of each
	// family (either may be invalid).
	Addrs  []netip.Addr
	V4, V6 netip.Addr
	// URL is the manifest's agent URL.
	URL string
	NS  *netns.NS
	// Dir holds agent.env, agent.key, agent.crt and the state directory.
	Dir, EnvFile string
	// Fingerprint is the agent certificate's pin.
	Fingerprint string
	// APIKey is the agent's API key.
	APIKey string
	// Agent is the running agent.
	Agent *Process
	// port is the firewall's port on the lab bridge.
	port string
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	opts Options
	// Lab is the namespace holding the bridge; Ctl the controller's;
	// Internet a stranger's.
	Lab, Ctl, Internet *netns.NS
	// CtlAddrs are the controller's addresses (the repository's
	// controllerAddresses).
	CtlAddrs []netip.Addr
	// Firewalls are sorted by name.
	Firewalls []*Firewall
	// Repo is the policy repository.
	Repo *Repo
	// API talks to the controller from inside the controller namespace.
	API *Client
	// APIURL is the controller's API base URL (http://198.18.0.2:8080).
	APIURL string
	// ControllerConfig is the path of the controller's configuration.
	ControllerConfig string
	// Inventory is the imported policy.
	Inventory *model.Inventory

	mu         sync.Mutex
	controller *Process
	procs      []*Process
	nss        []*netns.NS
	hostLink   string
	nextPort   int
	ctlState   string
}

// NSPrefix returns the prefix of every namespace of the lab named name.
func NSPrefix(name string) string { return netns.Prefix + name + "-" }

// HostLinkName returns the host end of the host link of the lab named name.
func HostLinkName(name string) string { return netns.Prefix + name + "0" }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

func (o *Options) defaults() error {
	if !nameRE.MatchString(o.Name) {
		return fmt.Errorf("lab: name %q: want lower-case letters, digits and '-'", o.Name)
	}
	if o.Dir == "" || o.Fwgit == "" || o.Agent == "" || o.Policy == "" {
		return errors.New("lab: Dir, Fwgit, Agent and Policy are required")
	}
	if o.HostLink && len(HostLinkName(o.Name)) > 15 {
		return fmt.Errorf("lab: name %q too long for a host link", o.Name)
	}
	if o.AgentDriftMode == "" {
		o.AgentDriftMode = "repair"
	}
	if o.ControllerDriftMode == "" {
		o.ControllerDriftMode = config.DriftRepair
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.ConfirmTimeout, 3 * time.Second}, {&o.PollInterval, time.Second}, {&o.ResyncInterval, time.Second}, {&o.DriftInterval, time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return nil
}

// stateFile is what [Down] reads to take down a lab another process left.
type stateFile struct {
	Name     string `json:"name"`
	Dir      string `json:"dir"`
	HostLink string `json:"hostLink,omitempty"`
	APIURL   string `json:"apiURL"`
}

// StateFileName is the name of the state file in the lab's directory.
const StateFileName = "lab.json"

// Start builds the lab and returns once the controller serves its API.
// The firewalls converge afterwards; see [Lab.WaitConverged]. On error
// everything already built is removed.
func Start(ctx context.Context, opts Options) (_ *Lab, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	repo := load.Load(os.DirFS(opts.Policy))
	inv, diags := model.Build(repo)
	diags = append(repo.Diags, diags...)
	if inv == nil || diags.HasErrors() {
		return nil, fmt.Errorf("lab: policy %s is not valid: %d errors", opts.Policy, diags.Errors())
	}
	l := &Lab{opts: opts, Inventory: inv}
	for _, p := range inv.Settings.ControllerAddresses {
		if !p.IsSingleIP() {
			return nil, fmt.Errorf("lab: controller address %s is not a single address", p)
		}
		l.CtlAddrs = append(l.CtlAddrs, p.Addr())
	}
	if len(l.CtlAddrs) == 0 || !l.CtlAddrs[0].Is4() {
		return nil, errors.New("lab: the policy's Settings must list the controller's IPv4 address first in controllerAddresses")
	}
	l.APIURL = fmt.Sprintf("http://%s", netip.AddrPortFrom(l.CtlAddrs[0], APIPort))

	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if cerr := l.Close(cctx); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	st := stateFile{Name: opts.Name, Dir: opts.Dir, APIURL: l.APIURL}
	if opts.HostLink {
		st.HostLink = HostLinkName(opts.Name)
	}
	if err := writeJSON(filepath.Join(opts.Dir, StateFileName), st); err != nil {
		return nil, err
	}

	opts.Logf("network: a bridge in %s, one namespace per firewall", NSPrefix(opts.Name)+"lab")
	if err := l.buildNetwork(ctx); err != nil {
		return nil, fmt.Errorf("lab: building the network: %w", err)
	}
	opts.Logf("agents: fwgit-agent init and run in %d namespaces", len(l.Firewalls))
	if err := l.startAgents(ctx); err != nil {
		return nil, fmt.Errorf("lab: starting agents: %w", err)
	}
	opts.Logf("policy: %s in a bare Git repository, agent certificates pinned", opts.Policy)
	if l.Repo, err = newRepo(ctx, filepath.Join(opts.Dir, "git"), opts.Policy); err != nil {
		return nil, fmt.Errorf("lab: policy repository: %w", err)
	}
	if _, err := l.Repo.Commit(ctx, "Pin the agents' certificates", l.pinFingerprints); err != nil {
		return nil, fmt.Errorf("lab: pinning fingerprints: %w", err)
	}
	opts.Logf("controller: fwgit controller in %s on %s", l.Ctl.Name, l.APIURL)
	if err := l.writeControllerConfig(); err != nil {
		return nil, err
	}
	if err := l.StartController(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Firewall returns the firewall called name, or nil.
func (l *Lab) Firewall(name string) *Firewall {
	for _, f := range l.Firewalls {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Options returns the options the lab was built with (defaults filled in).
func (l *Lab) Options() Options { return l.opts }

// Processes returns every process the lab started, the controller last.
func (l *Lab) Processes() []*Process {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.procs)
}

// Controller returns the running controller process.
func (l *Lab) Controller() *Process {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.controller
}

// Close stops every process the lab started and removes its namespaces,
// its host link and its directory. It is safe to call more than once and
// after a partial Start.
func (l *Lab) Close(ctx context.Context) error {
	l.mu.Lock()
	procs := slices.Clone(l.procs)
	l.mu.Unlock()
	var errs []error
	for _, p := range slices.Backward(procs) {
		if err := p.Stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, teardown(ctx, l.opts.Name, l.hostLinkName()))
	if err := os.RemoveAll(l.opts.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (l *Lab) hostLinkName() string {
	if l.opts.HostLink {
		return HostLinkName(l.opts.Name)
	}
	return ""
}

// Down takes down the lab whose directory is dir, left running by an
// earlier process: it ends the processes in the lab's namespaces, deletes
// the namespaces and the host link, and removes dir. A missing state file
// is not an error (nothing to do) unless name is given, in which case the
// namespaces and host link of that name are removed anyway.
func Down(ctx context.Context, dir, name string) error {
	var st stateFile
	b, err := os.ReadFile(filepath.Join(dir, StateFileName))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("lab: reading %s: %w", StateFileName, err)
		}
	case errors.Is(err, os.ErrNotExist) && name != "":
		st = stateFile{Name: name, HostLink: HostLinkName(name)}
	case errors.Is(err, os.ErrNotExist):
		return nil
	default:
		return err
	}
	if name != "" && st.Name != name {
		return fmt.Errorf("lab: %s holds lab %q, not %q", dir, st.Name, name)
	}
	err = teardown(ctx, st.Name, st.HostLink)
	return errors.Join(err, os.RemoveAll(dir))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// writeControllerConfig writes the controller's configuration, its
// webhook secret and one API key file per agent.
func (l *Lab) writeControllerConfig() error {
	secrets := filepath.Join(l.opts.Dir, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		return err
	}
	secret, err := randomHex(16)
	if err != nil {
		return err
	}
	hook := filepath.Join(secrets, "webhook-secret")
	if err := os.WriteFile(hook, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Git = &config.Git{URL: "file://" + l.Repo.Bare, Branch: "main"}
	cfg.PollInterval = config.Duration(l.opts.PollInterval)
	cfg.FetchTimeout = config.Duration(20 * time.Second)
	cfg.WebhookSecretFile = hook
	cfg.Listen.API = netip.AddrPortFrom(l.CtlAddrs[0], APIPort).String()
	l.ctlState = filepath.Join(l.opts.Dir, "controller")
	cfg.StateDir = l.ctlState
	cfg.ConfirmTimeout = config.Duration(l.opts.ConfirmTimeout)
	cfg.AgentTimeout = config.Duration(5 * time.Second)
	cfg.ResyncInterval = config.Duration(l.opts.ResyncInterval)
	cfg.DriftMode = l.opts.ControllerDriftMode
	cfg.Backoff = config.Backoff{Min: config.Duration(200 * time.Millisecond), Max: config.Duration(2 * time.Second)}
	if len(l.opts.Pull) > 0 {
		cfg.Listen.Agents = netip.AddrPortFrom(l.CtlAddrs[0], AgentsPort).String()
		cfg.Pull.Wait = config.Duration(10 * time.Second)
	}
	cfg.Agents.Firewalls = map[string]config.Credentials{}
	for _, fw := range l.Firewalls {
		p := filepath.Join(secrets, fw.Name+".key")
		if err := os.WriteFile(p, []byte(fw.APIKey+"\n"), 0o600); err != nil {
			return err
		}
		cfg.Agents.Firewalls[fw.Name] = config.Credentials{APIKeyFile: p}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("lab: controller configuration: %w", err)
	}
	l.ControllerConfig = filepath.Join(l.opts.Dir, "controller.yaml")
	// JSON is YAML; the controller reads it strictly, so a field this
	// writes that it does not know fails loudly.
	if err := writeJSON(l.ControllerConfig, cfg); err != nil {
		return err
	}
	l.API = newClient(l.Ctl, l.APIURL, secret)
	return nil
}

// StartController starts `fwgit controller` in the controller namespace
// (again, after [Lab.StopController]) and waits until its API answers.
func (l *Lab) StartController(ctx context.Context) error {
	p, err := l.startProcess("controller", l.Ctl, l.opts.Fwgit, "controller", "--config", l.ControllerConfig, "--log-format", "text")
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.controller = p
	l.mu.Unlock()
	err = Poll(ctx, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("controller exited: %v\n%s", p.Err(), p.LogTail(20))
		}
		code, _, err := l.API.Get(ctx, "/healthz")
		return err == nil && code == 200, nil
	})
	if err != nil {
		return fmt.Errorf("lab: waiting for the controller's API: %w", err)
	}
	return nil
}

// StopController stops the controller with SIGTERM (SIGKILL when kill is
// set) and waits for it to exit.
func (l *Lab) StopController(kill bool) error {
	p := l.Controller()
	if p == nil {
		return nil
	}
	if kill {
		return p.Kill()
	}
	return p.Stop(10 * time.Second)
}

// pinFingerprints writes each agent's fingerprint into its Firewall
// manifest, under its agent URL, as an operator does; a pull-mode
// firewall's URL becomes "mode: pull" instead.
func (l *Lab) pinFingerprints(work string) error {
	for _, fw := range l.Firewalls {
		mf := l.Inventory.FirewallByName(fw.Name)
		path := filepath.Join(work, filepath.FromSlash(mf.Pos.File))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		var out []string
		found := 0
		for _, ln := range lines {
			if strings.TrimSpace(ln) != "url: "+fw.URL {
				out = append(out, ln)
				continue
			}
			found++
			indent := ln[:len(ln)-len(strings.TrimLeft(ln, " "))]
			if slices.Contains(l.opts.Pull, fw.Name) {
				out = append(out, indent+"mode: pull")
			} else {
				out = append(out, ln, indent+"fingerprint: "+fw.Fingerprint)
			}
		}
		if found != 1 {
			return fmt.Errorf("%s: want one line \"url: %s\", found %d", mf.Pos.File, fw.URL, found)
		}
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			return err
		}
	}
	return nil
}
