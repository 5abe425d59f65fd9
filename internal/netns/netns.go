package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	vnetns "github.com/vishvananda/netns"
)

// Prefix starts the name of every namespace this package creates, so that
// leftovers of a crashed run can be listed with [List] and removed.
const Prefix = "fwgit-"

// runDir is where `ip netns` keeps its named namespaces.
const runDir = "/run/netns"

// ErrName is returned for a namespace or interface name that is not
// acceptable.
var ErrName = errors.New("netns: invalid name")

// NS is a named network namespace, as created by `ip netns add`.
type NS struct {
	// Name is the namespace's name; it starts with [Prefix].
	Name string
}

// New creates the namespace Prefix+name, brings its loopback up, turns off
// IPv6 duplicate address detection in it and returns it. It fails when the
// namespace exists already.
func New(ctx context.Context, name string) (*NS, error) {
	if !validNSName(name) {
		return nil, fmt.Errorf("%w: namespace %q", ErrName, name)
	}
	ns := &NS{Name: Prefix + name}
	if _, err := run(ctx, nil, "ip", "netns", "add", ns.Name); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", ns.Name, err)
	}
	if _, err := ns.ip(ctx, "link", "set", "lo", "up"); err != nil {
		_ = ns.Delete(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bringing up lo in %s: %w", ns.Name, err)
	}
	// Without duplicate address detection every IPv6 address, link-local
	// ones included, is usable the moment its link is up; with it,
	// neighbour discovery stalls for about a second on a fresh veth.
	// A neighbour solicitation that arrives before an address is ready is
	// lost; retrying after 100 ms rather than 1 s keeps probes short.
	err := ns.Do(func() error {
		for _, f := range []string{
			"/proc/sys/net/ipv6/conf/all/accept_dad",
			"/proc/sys/net/ipv6/conf/default/accept_dad",
			"/proc/sys/net/ipv6/neigh/default/retrans_time_ms",
			"/proc/sys/net/ipv4/neigh/default/retrans_time_ms",
		} {
			v := "0"
			if strings.HasSuffix(f, "retrans_time_ms") {
				v = "100"
			}
			if err := os.WriteFile(f, []byte(v), 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no IPv6 at all: nothing to do
		_ = ns.Delete(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("turning off IPv6 DAD in %s: %w", ns.Name, err)
	}
	return ns, nil
}

// NewUnique creates a namespace named Prefix+base+"-"+8 random hex digits,
// so concurrent tests and runs never collide.
func NewUnique(ctx context.Context, base string) (*NS, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("naming namespace: %w", err)
	}
	return New(ctx, base+"-"+hex.EncodeToString(b[:]))
}

// Path returns the file that holds the namespace (/run/netns/NAME), for
// code that opens a namespace by path, such as the agent's dataplane.
func (ns *NS) Path() string { return runDir + "/" + ns.Name }

// Delete removes the namespace. Interfaces inside it, and the peers of its
// veth pairs, disappear with it. Deleting a namespace that does not exist
// is not an error.
func (ns *NS) Delete(ctx context.Context) error {
	if _, err := os.Stat(ns.Path()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := run(ctx, nil, "ip", "netns", "del", ns.Name); err != nil {
		return fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
	}
	return nil
}

// List returns the names of the existing namespaces that start with
// prefix, which must itself start with [Prefix]; use it with [DeleteAll]
// to clean up after a crashed run.
func List(prefix string) ([]string, error) {
	if !strings.HasPrefix(prefix, Prefix) {
		return nil, fmt.Errorf("%w: prefix %q does not start with %q", ErrName, prefix, Prefix)
	}
	entries, err := os.ReadDir(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// DeleteAll deletes every namespace whose name starts with prefix (which
// must start with [Prefix]) and returns the errors joined. Choose a prefix
// that only your own run uses: other tests may be using fwgit namespaces
// at the same time.
func DeleteAll(ctx context.Context, prefix string) error {
	names, err := List(prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, (&NS{Name: n}).Delete(ctx))
	}
	return errors.Join(errs...)
}

// Do runs fn on an OS thread that has entered the namespace, and returns
// its error. Sockets fn opens belong to the namespace for their whole life,
// even when used later from other goroutines; goroutines fn starts do not
// run in the namespace. The thread is never returned to the Go scheduler:
// it exits with fn, so no other code can run in the wrong namespace. A
// panic in fn is returned as an error.
func (ns *NS) Do(fn func() error) error {
	h, err := vnetns.GetFromName(ns.Name)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", ns.Name, err)
	}
	defer h.Close()
	done := make(chan error, 1)
	go func() {
		// Locked and never unlocked: the runtime ends this thread when the
		// goroutine returns, so the namespace switch cannot leak.
		runtime.LockOSThread()
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("in namespace %s: panic: %v", ns.Name, p)
			}
		}()
		if err := vnetns.Set(h); err != nil {
			done <- fmt.Errorf("entering namespace %s: %w", ns.Name, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// Command returns a command that runs name with args inside the namespace
// (`ip netns exec`). It is killed when ctx ends.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs name with args inside the namespace, with stdin as its input
// (nil for none), and returns its standard output. When the command fails
// the error holds the start of its standard error.
func (ns *NS) Run(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	return run(ctx, stdin, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// LoadNFT loads an nftables script (for example [nft.Ruleset.RenderReplace]
// output) into the namespace with `nft -f -`, as one transaction.
func (ns *NS) LoadNFT(ctx context.Context, script string) error {
	if _, err := ns.Run(ctx, strings.NewReader(script), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("loading ruleset into %s: %w", ns.Name, err)
	}
	return nil
}

// ip runs `ip -n NAME args…`.
func (ns *NS) ip(ctx context.Context, args ...string) (string, error) {
	return run(ctx, nil, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// End is one end of a veth pair: the namespace, the interface name in it
// and its addresses (prefix length included, e.g. 198.18.0.1/24).
type End struct {
	NS    *NS
	Name  string
	Addrs []netip.Prefix
}

// Veth creates a veth pair between a.NS and b.NS, assigns the addresses
// (IPv6 ones with nodad) and brings both ends up. It returns when every
// address is usable. Both namespaces must exist; the pair goes away with either of them.
func Veth(ctx context.Context, a, b End) error {
	for _, e := range []End{a, b} {
		if e.NS == nil || !validIfName(e.Name) {
			return fmt.Errorf("%w: veth end %q", ErrName, e.Name)
		}
	}
	if _, err := a.NS.ip(ctx, "link", "add", a.Name, "type", "veth", "peer", "name", b.Name, "netns", b.NS.Name); err != nil {
		return fmt.Errorf("creating veth %s/%s: %w", a.Name, b.Name, err)
	}
	for _, e := range []End{a, b} {
		for _, p := range e.Addrs {
			args := []string{"addr", "add", p.String(), "dev", e.Name}
			if p.Addr().Is6() {
				args = append(args, "nodad")
			}
			if _, err := e.NS.ip(ctx, args...); err != nil {
				return fmt.Errorf("adding %s to %s in %s: %w", p, e.Name, e.NS.Name, err)
			}
		}
		if _, err := e.NS.ip(ctx, "link", "set", e.Name, "up"); err != nil {
			return fmt.Errorf("bringing up %s in %s: %w", e.Name, e.NS.Name, err)
		}
	}
	// The kernel makes an IPv6 address usable (its local route) shortly
	// after the link is up, from a work queue; wait for it so the first
	// packet to it is not lost.
	for _, e := range []End{a, b} {
		for _, p := range e.Addrs {
			if p.Addr().Is6() {
				if err := e.NS.waitLocal(ctx, p.Addr()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waitLocal waits, for at most two seconds, until addr has its route in
// the local table.
func (ns *NS) waitLocal(ctx context.Context, addr netip.Addr) error {
	for range 200 {
		out, err := ns.ip(ctx, "-6", "route", "show", "table", "local", addr.String())
		if err != nil {
			return fmt.Errorf("waiting for %s in %s: %w", addr, ns.Name, err)
		}
		if strings.TrimSpace(out) != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s in %s: %w", addr, ns.Name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("waiting for %s in %s: address not usable after 2s", addr, ns.Name)
}

// run runs a command and returns its standard output; on failure the
// error carries its standard error (bounded).
func run(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		if msg != "" {
			return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args[:min(len(args), 4)], " "), err, msg)
		}
		return stdout.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args[:min(len(args), 4)], " "), err)
	}
	return stdout.String(), nil
}

// validNSName accepts the part after [Prefix]: letters, digits, '-' and
// '_', at most 64 bytes.
func validNSName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validIfName accepts Linux interface names of up to 15 bytes made of
// letters, digits, '-', '_' and '.'.
func validIfName(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
