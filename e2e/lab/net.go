package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fwgit/fwgit/internal/netns"
)

// Host-link addresses: the host end holds hostLinkAddr only, and routes
// the lab hosts' /24 to the link. Nothing of fd00::/8 touches the host.
var (
	hostLinkAddr  = netip.MustParsePrefix("198.19.255.254/32")
	hostLinkRoute = netip.MustParsePrefix("198.18.0.0/24")
)

// onLink gives a as an interface address whose prefix is the lab's whole
// range of its family.
func onLink(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(a, Net4.Bits())
	}
	return netip.PrefixFrom(a, Net6.Bits())
}

func inLab(a netip.Addr) bool { return Net4.Contains(a) || Net6.Contains(a) }

// newNS creates the namespace "fwgit-<Name>-<host>" and records it for
// Close.
func (l *Lab) newNS(ctx context.Context, host string) (*netns.NS, error) {
	ns, err := netns.New(ctx, l.opts.Name+"-"+host)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	return ns, nil
}

// attach creates the namespace of host, with addrs on its eth0, plugged
// into the lab bridge.
func (l *Lab) attach(ctx context.Context, host string, addrs []netip.Addr) (*netns.NS, string, error) {
	for _, a := range addrs {
		if !inLab(a) {
			return nil, "", fmt.Errorf("%s: address %s is outside %s and %s", host, a, Net4, Net6)
		}
	}
	ns, err := l.newNS(ctx, host)
	if err != nil {
		return nil, "", err
	}
	l.mu.Lock()
	port := "p" + strconv.Itoa(l.nextPort)
	l.nextPort++
	l.mu.Unlock()
	var pfx []netip.Prefix
	for _, a := range addrs {
		pfx = append(pfx, onLink(a))
	}
	if err := netns.Veth(ctx, netns.End{NS: ns, Name: "eth0", Addrs: pfx}, netns.End{NS: l.Lab, Name: port}); err != nil {
		return nil, "", err
	}
	if _, err := l.Lab.Run(ctx, nil, "ip", "link", "set", port, "master", "br0"); err != nil {
		return nil, "", err
	}
	return ns, port, nil
}

// buildNetwork creates the lab namespace with its bridge, the controller's
// and the internet's namespaces, one namespace per firewall with an agent
// URL, and the host link when asked.
func (l *Lab) buildNetwork(ctx context.Context) error {
	var err error
	if l.Lab, err = l.newNS(ctx, "lab"); err != nil {
		return err
	}
	// No multicast snooping: neighbour solicitations flood like ARP does,
	// with no MLD querier needed.
	if _, err := l.Lab.Run(ctx, nil, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"); err != nil {
		return err
	}
	if _, err := l.Lab.Run(ctx, nil, "ip", "link", "set", "br0", "up"); err != nil {
		return err
	}
	if l.Ctl, _, err = l.attach(ctx, "ctl", l.CtlAddrs); err != nil {
		return err
	}
	if l.Internet, _, err = l.attach(ctx, "net", []netip.Addr{Internet4, Internet6}); err != nil {
		return err
	}
	for _, mf := range l.Inventory.Firewalls {
		if mf.Agent == nil || mf.Agent.URL == "" {
			continue
		}
		if slices.Contains([]string{"lab", "ctl", "net"}, mf.Name) || strings.HasPrefix(mf.Name, "pr-") {
			return fmt.Errorf("firewall %s: the name is one the lab uses", mf.Name)
		}
		fw := &Firewall{Name: mf.Name, Addrs: mf.Addresses, URL: mf.Agent.URL, Dir: filepath.Join(l.opts.Dir, "agents", mf.Name)}
		for _, a := range mf.Addresses {
			if a.Is4() && !fw.V4.IsValid() {
				fw.V4 = a
			}
			if a.Is6() && !fw.V6.IsValid() {
				fw.V6 = a
			}
		}
		if fw.NS, fw.port, err = l.attach(ctx, mf.Name, mf.Addresses); err != nil {
			return err
		}
		l.Firewalls = append(l.Firewalls, fw)
	}
	if len(l.Firewalls) == 0 {
		return errors.New("the policy has no firewall with an agent URL")
	}
	if l.opts.HostLink {
		return l.addHostLink(ctx)
	}
	return nil
}

func (l *Lab) addHostLink(ctx context.Context) error {
	name := HostLinkName(l.opts.Name)
	l.mu.Lock()
	l.hostLink = name
	l.mu.Unlock()
	steps := [][]string{
		{"link", "add", name, "type", "veth", "peer", "name", "uplink", "netns", l.Lab.Name},
		{"addr", "add", hostLinkAddr.String(), "dev", name},
		{"link", "set", name, "up"},
		{"-n", l.Lab.Name, "link", "set", "uplink", "master", "br0"},
		{"-n", l.Lab.Name, "link", "set", "uplink", "up"},
		{"route", "replace", hostLinkRoute.String(), "dev", name, "src", hostLinkAddr.Addr().String()},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Teardown ends every process inside the namespaces whose names start
// with [NSPrefix](name) and deletes them: every lab called name, or whose
// name continues name with "-". It is the last resort of a test binary
// that is interrupted.
func Teardown(ctx context.Context, name string) error { return teardown(ctx, name, "") }

// teardown ends every process inside the namespaces of the lab called
// name, deletes those namespaces and the host link.
func teardown(ctx context.Context, name, hostLink string) error {
	names, err := netns.List(NSPrefix(name))
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, endProcessesIn(ctx, n))
	}
	for _, n := range names {
		errs = append(errs, deleteNS(ctx, n))
	}
	if hostLink != "" {
		if _, err := os.Stat("/sys/class/net/" + hostLink); err == nil {
			if out, err := exec.CommandContext(ctx, "ip", "link", "del", hostLink).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("deleting %s: %w: %s", hostLink, err, strings.TrimSpace(string(out))))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteNS deletes namespace n; one that someone else deleted meanwhile
// (a signal handler and a test's cleanup racing) counts as deleted.
func deleteNS(ctx context.Context, n string) error {
	err := (&netns.NS{Name: n}).Delete(ctx)
	if _, serr := os.Stat(filepath.Join("/run/netns", n)); err != nil && errors.Is(serr, os.ErrNotExist) {
		return nil
	}
	return err
}

// endProcessesIn ends the processes running in namespace ns (which only
// the lab started): SIGTERM, then SIGKILL for those still there after
// five seconds.
func endProcessesIn(ctx context.Context, ns string) error {
	pids := func() []int {
		out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
		if err != nil {
			return nil
		}
		var ps []int
		for _, f := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() && p > 1 {
				ps = append(ps, p)
			}
		}
		return ps
	}
	ps := pids()
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	gone := func() (bool, error) { return len(pids()) == 0, nil }
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if Poll(tctx, 50*time.Millisecond, gone) == nil {
		return nil
	}
	for _, p := range pids() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	kctx, kcancel := context.WithTimeout(ctx, 5*time.Second)
	defer kcancel()
	if err := Poll(kctx, 50*time.Millisecond, gone); err != nil {
		return fmt.Errorf("processes in %s survive SIGKILL: %w", ns, err)
	}
	return nil
}

// CleanStale removes the namespaces under prefix (which must start with
// "fwgit-") whose name continues with the PID of a process that no longer
// exists: what a test run that was killed left behind. Runs that are still
// alive keep theirs.
func CleanStale(ctx context.Context, prefix string) error {
	names, err := netns.List(prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		rest := strings.TrimPrefix(n, prefix)
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); err == nil {
			continue
		}
		errs = append(errs, endProcessesIn(ctx, n), deleteNS(ctx, n))
	}
	return errors.Join(errs...)
}

// LabNFT loads an nft script into the lab namespace, where the bridge
// forwards every packet between hosts: a bridge-family table there
// filters traffic between any two hosts of the lab.
func (l *Lab) LabNFT(ctx context.Context, script string) error {
	return l.Lab.LoadNFT(ctx, script)
}

// cutTable is the bridge table [Lab.BlockNewConnections] uses.
const cutTable = "fwgit_lab_cut"

// BlockNewConnections drops, on the bridge, every TCP connection attempt
// (SYN without ACK) from the controller to fw, in both families.
// Connections already open keep working: the controller's observe and
// apply travel over a kept-alive connection, while its confirm needs a new
// one, as commit-confirm intends. [Lab.Reconnect] undoes it.
func (l *Lab) BlockNewConnections(ctx context.Context, fw *Firewall) error {
	return l.cut(ctx, []*Firewall{fw}, "tcp flags & (syn | ack) == syn ")
}

// Isolate drops, on the bridge, every packet between the controller and
// the firewalls fws, both ways. [Lab.Reconnect] undoes it.
func (l *Lab) Isolate(ctx context.Context, fws ...*Firewall) error {
	return l.cut(ctx, fws, "")
}

func (l *Lab) cut(ctx context.Context, fws []*Firewall, match string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table bridge %s {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n", cutTable)
	for _, fw := range fws {
		for _, c := range l.CtlAddrs {
			for _, a := range fw.Addrs {
				fam := "ip"
				if a.Is6() {
					fam = "ip6"
				}
				if c.Is4() != a.Is4() {
					continue
				}
				fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr %s %scounter drop\n", fam, c, fam, a, match)
				if match == "" {
					fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr %s counter drop\n", fam, a, fam, c)
				}
			}
		}
	}
	b.WriteString("\t}\n}\n")
	return l.LabNFT(ctx, b.String())
}

// Reconnect removes what [Lab.BlockNewConnections] added.
func (l *Lab) Reconnect(ctx context.Context) error {
	_, err := l.Lab.Run(ctx, nil, "nft", "delete", "table", "bridge", cutTable)
	return err
}

// NFTList returns `nft list table inet fwgit` in fw's namespace, and
// whether the table exists.
func (fw *Firewall) NFTList(ctx context.Context) (string, bool, error) {
	out, err := fw.NS.Run(ctx, nil, "nft", "list", "table", "inet", "fwgit")
	if err != nil {
		if strings.Contains(err.Error(), "No such file or directory") {
			return "", false, nil
		}
		return "", false, err
	}
	return out, true, nil
}

// NFT runs nft with args in fw's namespace (a hand edit).
func (fw *Firewall) NFT(ctx context.Context, args ...string) error {
	_, err := fw.NS.Run(ctx, nil, "nft", args...)
	return err
}
