package compile_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/compile/compiletest"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
	"github.com/fwgit/fwgit/schema/load"
)

// byteSource hands out small choices from the fuzzer's bytes; when they run
// out it goes on with a xorshift generator seeded from them, so every input
// is a valid program and short inputs still yield varied packets.
type byteSource struct {
	b []byte
	i int
	x uint64
}

func (s *byteSource) n(k int) int {
	if k <= 1 {
		return 0
	}
	if s.i < len(s.b) {
		v := int(s.b[s.i])
		s.i++
		return v % k
	}
	if s.x == 0 {
		s.x = 0x9e3779b97f4a7c15
		for _, c := range s.b {
			s.x = (s.x ^ uint64(c)) * 0x100000001b3
		}
		s.x |= 1
	}
	s.x ^= s.x << 13
	s.x ^= s.x >> 7
	s.x ^= s.x << 17
	return int(s.x % uint64(k))
}

func (s *byteSource) pick(xs ...string) string { return xs[s.n(len(xs))] }

const (
	owner1 = "11111111-1111-4111-8111-111111111111"
	owner2 = "22222222-2222-4222-8222-222222222222"
)

var (
	v4Pool     = []string{"198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.9", "198.18.1.1", "10.0.0.5"}
	v6Pool     = []string{"fd00::1", "fd00::2", "fd00::3", "fd00::9", "fd00:1::1"}
	v4Subnets  = []string{"198.18.0.0/30", "198.18.0.0/24", "10.0.0.0/8", "0.0.0.0/0", "198.18.1.0/31"}
	v6Subnets  = []string{"fd00::/126", "fd00::/64", "::/0", "fd00:1::/48"}
	portPool   = []string{"22", "80", "443", "1000-2000", "79-81", "65535"}
	probePorts = []int{22, 80, 81, 443, 1000, 1500, 2000, 2001, 65535, 33033, 7}
	tagValues  = []string{"a", "b", "1", "true"}
)

type genFirewall struct {
	name, uuid, owner string
	v4, v6            []string
}

// genRepo writes a small random repository and returns its files.
func genRepo(s *byteSource) (fstest.MapFS, []genFirewall) {
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: role}\n---\napiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: env}\n")
	if s.n(2) == 0 {
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Settings\nmetadata: {name: s}\nspec:\n  controllerAddresses: [%s/32]\n  management: [%s]\n",
			s.pick(v4Pool...), s.pick(v4Subnets[:3]...))
	}
	nfw := 1 + s.n(5)
	var fws []genFirewall
	for i := range nfw {
		f := genFirewall{name: fmt.Sprintf("fw-%d", i), uuid: fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i)}
		f.owner = []string{owner1, owner2, ""}[s.n(3)]
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: %s, uuid: %s}\nspec:\n", f.name, f.uuid)
		if f.owner != "" {
			fmt.Fprintf(&b, "  owner: %s\n", f.owner)
		}
		if s.n(6) == 0 {
			b.WriteString("  enabled: false\n")
		}
		switch s.n(3) {
		case 0:
			f.v4 = []string{v4Pool[i%len(v4Pool)]}
		case 1:
			f.v6 = []string{v6Pool[i%len(v6Pool)]}
		default:
			f.v4, f.v6 = []string{v4Pool[i%len(v4Pool)]}, []string{v6Pool[i%len(v6Pool)]}
		}
		fmt.Fprintf(&b, "  addresses: [%s]\n", quoteAll(append(append([]string{}, f.v4...), f.v6...)))
		b.WriteString("  tags: {")
		if s.n(3) != 0 {
			fmt.Fprintf(&b, "role: %q, ", s.pick(tagValues...))
		}
		if s.n(2) == 0 {
			fmt.Fprintf(&b, "env: %q", s.pick(tagValues...))
		}
		b.WriteString("}\n")
		if s.n(4) == 0 {
			fmt.Fprintf(&b, "  management: [%s]\n", s.pick(v4Subnets[:3]...))
		}
		fws = append(fws, f)
	}
	nrules := 1 + s.n(7)
	for i := range nrules {
		owner := []string{owner1, owner2, ""}[s.n(3)]
		proto := s.pick("tcp", "udp", "icmp", "icmp6", "ah", "esp", "tcp", "udp")
		from, fromSel := genSide(s, proto, owner, fws)
		to, toSel := genSide(s, proto, owner, fws)
		if !fromSel && !toSel {
			to = "all vms"
		}
		text := fmt.Sprintf("FROM %s TO %s %s %s%s", from, to, s.pick("ALLOW", "BLOCK"), proto, genProto(s, proto))
		if p := s.n(4); p > 0 {
			text += fmt.Sprintf(" PRIORITY %d", []int{0, 1, 2, 50}[p])
		}
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r-%d}\nspec:\n  rule: %q\n", i, text)
		if owner == "" {
			b.WriteString("  global: true\n")
		} else {
			fmt.Fprintf(&b, "  owner: %s\n", owner)
		}
		if s.n(8) == 0 {
			b.WriteString("  enabled: false\n")
		}
		if s.n(4) == 0 {
			b.WriteString("  log: true\n")
		}
	}
	return fstest.MapFS{"repo.yaml": &fstest.MapFile{Data: []byte(b.String())}}, fws
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// genSide returns one side of a rule and whether it selects firewalls.
func genSide(s *byteSource, proto, owner string, fws []genFirewall) (string, bool) {
	switch s.n(6) {
	case 0:
		return "any", false
	case 1:
		return "all vms", true
	}
	n := 1 + s.n(3)
	var ts []string
	sel := false
	for range n {
		switch s.n(6) {
		case 0:
			ts = append(ts, "tag role")
			sel = true
		case 1:
			ts = append(ts, fmt.Sprintf("tag %s = %q", s.pick("role", "env"), s.pick(tagValues...)))
			sel = true
		case 2:
			var cands []string
			for _, f := range fws {
				if owner == "" || f.owner == owner {
					cands = append(cands, f.uuid)
				}
			}
			if len(cands) == 0 {
				ts = append(ts, "tag env")
			} else {
				ts = append(ts, "vm "+s.pick(cands...))
			}
			sel = true
		case 3:
			ts = append(ts, "ip "+genAddr(s, proto, v4Pool, v6Pool))
		default:
			ts = append(ts, "subnet "+genAddr(s, proto, v4Subnets, v6Subnets))
		}
	}
	return "(" + strings.Join(ts, " OR ") + ")", sel
}

func genAddr(s *byteSource, proto string, v4, v6 []string) string {
	switch proto {
	case "icmp":
		return s.pick(v4...)
	case "icmp6":
		return s.pick(v6...)
	}
	if s.n(2) == 0 {
		return s.pick(v4...)
	}
	return s.pick(v6...)
}

func genProto(s *byteSource, proto string) string {
	switch proto {
	case "tcp", "udp":
		if s.n(4) == 0 {
			return " PORT all"
		}
		n := 1 + s.n(3)
		ps := make([]string, n)
		for i := range ps {
			ps[i] = s.pick(portPool...)
		}
		return " PORTS " + strings.Join(ps, ", ")
	case "icmp", "icmp6":
		if s.n(4) == 0 {
			return " TYPE all"
		}
		n := 1 + s.n(3)
		ts := make([]string, n)
		for i := range ts {
			ts[i] = fmt.Sprintf("TYPE %d", []int{0, 3, 8, 128, 135}[s.n(5)])
			if s.n(2) == 0 {
				ts[i] += fmt.Sprintf(" CODE %d", s.n(2))
			}
		}
		return " (" + strings.Join(ts, " AND ") + ")"
	}
	return ""
}

var fwProtos = []fwrule.Protocol{fwrule.TCP, fwrule.UDP, fwrule.ICMP, fwrule.ICMP6, fwrule.AH, fwrule.ESP}

var irProto = map[fwrule.Protocol]nft.Proto{
	fwrule.TCP: nft.ProtoTCP, fwrule.UDP: nft.ProtoUDP, fwrule.ICMP: nft.ProtoICMP,
	fwrule.ICMP6: nft.ProtoICMPv6, fwrule.AH: nft.ProtoAH, fwrule.ESP: nft.ProtoESP,
}

var irState = map[compiletest.State]nft.CTState{
	compiletest.New: nft.CTNew, compiletest.Established: nft.CTEstablished,
	compiletest.Related: nft.CTRelated, compiletest.Invalid: nft.CTInvalid,
}

// genPacket makes a packet for fw: a peer from the pools (or outside them),
// the firewall's own address of the same family on its side.
func genPacket(s *byteSource, inv *model.Inventory, fw *model.Firewall) compiletest.Packet {
	var p compiletest.Packet
	p.Out = s.n(2) == 0
	p.Proto = fwProtos[s.n(len(fwProtos))]
	// Most packets aim at one rule's protocol, ports and types, so that
	// rules decide often and their edges are probed.
	var aim *fwrule.Rule
	if len(inv.Rules) > 0 && s.n(4) != 0 {
		aim = inv.Rules[s.n(len(inv.Rules))].Parsed
		p.Proto = aim.Protocol
	}
	v6 := s.n(2) == 0
	switch p.Proto {
	case fwrule.ICMP:
		v6 = s.n(5) == 0 // mostly right, sometimes the wrong family
	case fwrule.ICMP6:
		v6 = s.n(5) != 0
	}
	var peer netip.Addr
	if v6 {
		peer = netip.MustParseAddr(append(append([]string{}, v6Pool...), "fd00::ff", "2001:db8::1")[s.n(len(v6Pool)+2)])
	} else {
		peer = netip.MustParseAddr(append(append([]string{}, v4Pool...), "198.18.0.100", "203.0.113.9", "10.9.9.9")[s.n(len(v4Pool)+3)])
	}
	own := netip.IPv4Unspecified()
	if v6 {
		own = netip.IPv6Unspecified()
	}
	for _, a := range fw.Addresses {
		if a.Is6() == v6 {
			own = a
			break
		}
	}
	p.Src, p.Dst = peer, own
	if p.Out {
		p.Src, p.Dst = own, peer
	}
	switch p.Proto {
	case fwrule.TCP, fwrule.UDP:
		p.Port = probePorts[s.n(len(probePorts))]
		if aim != nil && len(aim.Ports) > 0 && s.n(3) != 0 {
			pr := aim.Ports[s.n(len(aim.Ports))]
			p.Port = []int{pr.Lo, pr.Hi, pr.Lo - 1, pr.Hi + 1}[s.n(4)]
			p.Port = max(1, min(p.Port, 65535))
		}
	case fwrule.ICMP, fwrule.ICMP6:
		p.Type = []int{0, 3, 8, 128, 133, 135, 136, 137}[s.n(8)]
		p.Code = s.n(3)
		if aim != nil && len(aim.Types) > 0 && s.n(3) != 0 {
			ty := aim.Types[s.n(len(aim.Types))]
			p.Type, p.Code = ty.Type, ty.Code+s.n(2)
		}
	}
	p.State = []compiletest.State{compiletest.New, compiletest.New, compiletest.New, compiletest.New, compiletest.New,
		compiletest.Established, compiletest.Related, compiletest.Invalid}[s.n(8)]
	p.Loopback = s.n(10) == 0
	return p
}

// irPacket is the same packet for the IR evaluator.
func irPacket(p compiletest.Packet) nft.Packet {
	q := nft.Packet{Hook: nft.HookInput, Src: p.Src, Dst: p.Dst, Proto: irProto[p.Proto],
		DPort: uint16(p.Port), ICMPType: uint8(p.Type), ICMPCode: uint8(p.Code), CTState: irState[p.State]}
	iface := "eth0"
	if p.Loopback {
		iface = "lo"
	}
	if p.Out {
		q.Hook, q.OIF = nft.HookOutput, iface
	} else {
		q.IIF = iface
	}
	return q
}

// decisionKey is what must agree: the verdict and who decided, written as
// the IR's comment ("" for a policy).
func decisionKey(d compiletest.Decision) (nft.Verdict, string) {
	v := nft.Drop
	if d.Accept {
		v = nft.Accept
	}
	switch {
	case d.Rule != nil:
		return v, compile.RuleComment(d.Rule.UUID)
	case d.Builtin != "":
		return v, d.Builtin
	}
	return v, ""
}

// checkDifferential compiles the repository the bytes describe and checks
// that, for many packets, the IR evaluator over the compiled rulesets and
// the reference evaluator over the manifests agree on the verdict and on
// the deciding rule.
func checkDifferential(t *testing.T, data []byte) {
	s := &byteSource{b: data}
	fsys, _ := genRepo(s)
	inv, diags := model.Build(load.Load(fsys))
	if diags.HasErrors() {
		// The generator aims at valid repositories; the few it misses
		// say nothing about the compiler.
		return
	}
	rs := compile.All(inv)
	for _, f := range inv.Firewalls {
		if err := rs[f.Name].Validate(); err != nil {
			t.Fatalf("%s: invalid ruleset: %v\n%s", f.Name, err, rs[f.Name].Render())
		}
	}
	for range 64 {
		if len(inv.Firewalls) == 0 {
			return
		}
		f := inv.Firewalls[s.n(len(inv.Firewalls))]
		p := genPacket(s, inv, f)
		ref := compiletest.Evaluate(inv, f, p)
		wantV, wantBy := decisionKey(ref)
		ev := rs[f.Name].Eval(irPacket(p))
		if ev.Verdict != wantV || ev.Comment != wantBy {
			repo := fsys["repo.yaml"].Data
			t.Fatalf("firewall %s, packet %+v:\nIR: %s by %q (rule %d of %s)\nreference: %s by %q\nrepository:\n%s\nruleset:\n%s",
				f.Name, p, ev.Verdict, ev.Comment, ev.Rule, ev.Chain, wantV, wantBy, repo, rs[f.Name].Render())
		}
	}
}

// FuzzCompileDifferential is the differential fuzz test of the compiler
// against compiletest's reference evaluator.
func FuzzCompileDifferential(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		[]byte("\x04\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"),
		[]byte("an example seed with enough bytes to build several firewalls and rules, and packets"),
		[]byte{0, 4, 2, 2, 1, 1, 0, 3, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 255, 254, 253, 200, 100, 50},
	} {
		f.Add(seed)
	}
	f.Fuzz(checkDifferential)
}

// TestDifferentialSweep runs the differential check on a deterministic
// sweep of inputs, so that plain `go test` covers it without -fuzz.
func TestDifferentialSweep(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	x := uint64(0x9e3779b97f4a7c15)
	for i := range n {
		buf := make([]byte, 200)
		for j := range buf {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			buf[j] = byte(x)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkDifferential(t, buf) })
	}
}
