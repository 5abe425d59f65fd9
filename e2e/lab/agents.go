package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

var fingerprintRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// startAgents runs `fwgit-agent init` in every firewall's namespace, then
// starts the agents and waits until each answers its API.
func (l *Lab) startAgents(ctx context.Context) error {
	var ctl []string
	for _, a := range l.CtlAddrs {
		ctl = append(ctl, a.String())
	}
	var mgmt []string
	for _, p := range l.Inventory.Settings.Management {
		mgmt = append(mgmt, p.String())
	}
	for _, fw := range l.Firewalls {
		if err := os.MkdirAll(fw.Dir, 0o700); err != nil {
			return err
		}
		// In the namespace, so the certificate names the firewall's own
		// addresses.
		out, err := fw.NS.Run(ctx, nil, l.opts.Agent, "init", "--dir", fw.Dir,
			"--allowed-ips", strings.Join(ctl, ","), "--mgmt-cidrs", strings.Join(mgmt, ","),
			"--state-dir", filepath.Join(fw.Dir, "state"), "--drift-mode", l.opts.AgentDriftMode,
			"--drift-interval", l.opts.DriftInterval.String(), "--log-format", "text")
		if err != nil {
			return fmt.Errorf("%s: fwgit-agent init: %w", fw.Name, err)
		}
		fw.Fingerprint = fingerprintRE.FindString(out)
		if fw.Fingerprint == "" {
			return fmt.Errorf("%s: fwgit-agent init printed no fingerprint:\n%s", fw.Name, out)
		}
		fw.EnvFile = filepath.Join(fw.Dir, "agent.env")
		if fw.APIKey, err = envValue(fw.EnvFile, "API_KEY"); err != nil {
			return fmt.Errorf("%s: %w", fw.Name, err)
		}
	}
	for _, fw := range l.Firewalls {
		if err := l.StartAgent(ctx, fw); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(l.Firewalls))
	for i, fw := range l.Firewalls {
		wg.Go(func() { errs[i] = l.WaitAgent(ctx, fw) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// envValue reads KEY=VALUE from an env file.
func envValue(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), key+"="); ok {
			return strings.Trim(v, `"'`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no %s line", path, key)
}

// StartAgent starts fw's agent (`fwgit-agent run`) without waiting for it.
func (l *Lab) StartAgent(ctx context.Context, fw *Firewall) error {
	p, err := l.startProcess(fw.Name, fw.NS, l.opts.Agent, "run", "--env-file", fw.EnvFile)
	if err != nil {
		return err
	}
	fw.Agent = p
	return nil
}

// WaitAgent waits until fw's agent answers GET /api/v1/ping from the
// controller's namespace. The agent re-applies its persisted ruleset
// before it serves, so once this returns the kernel holds it.
func (l *Lab) WaitAgent(ctx context.Context, fw *Firewall) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := Poll(ctx, 50*time.Millisecond, func() (bool, error) {
		if fw.Agent.Exited() {
			return false, fmt.Errorf("agent %s exited: %v\n%s", fw.Name, fw.Agent.Err(), fw.Agent.LogTail(20))
		}
		return l.AgentPing(ctx, fw) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for agent %s: %w", fw.Name, err)
	}
	return nil
}

// EnrollPull enrolls fw's agent in pull mode as an operator does: `fwgit
// token create` on the controller's side (one use), `fwgit-agent enroll
// TOKEN` in fw's namespace, then a restart of the agent, which from then
// on dials the controller. It returns the output of both commands.
func (l *Lab) EnrollPull(ctx context.Context, fw *Firewall) (string, error) {
	tok := exec.CommandContext(ctx, l.opts.Fwgit, "token", "create", "--firewall", fw.Name, "--ttl", "10m", "--uses", "1", "--config", l.ControllerConfig)
	var stderr strings.Builder
	tok.Stderr = &stderr
	out, err := tok.Output()
	if err != nil {
		return stderr.String(), fmt.Errorf("fwgit token create: %w: %s", err, stderr.String())
	}
	token := strings.TrimSpace(string(out))
	log := stderr.String()
	enrolled, err := fw.NS.Run(ctx, nil, l.opts.Agent, "enroll", "--env-file", fw.EnvFile, token)
	log += enrolled
	if err != nil {
		return log, fmt.Errorf("fwgit-agent enroll: %w", err)
	}
	if err := fw.Agent.Stop(10 * time.Second); err != nil {
		return log, err
	}
	if err := l.StartAgent(ctx, fw); err != nil {
		return log, err
	}
	return log, nil
}
