package genrepo

import (
	"cmp"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"

	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Options sizes a synthetic repository. Counts below their minimum are
// raised to it: one firewall and one owner, no rules and no tags.
type Options struct {
	// Firewalls is the number of Firewall objects.
	Firewalls int
	// Rules is the number of Rule objects.
	Rules int
	// Tags is the number of Tag declarations: role, env, zone and pci
	// first (string, string, number and boolean values), then generic
	// service tags, every other one with declared values.
	Tags int
	// Owners is the number of owner UUIDs firewalls and rules are spread
	// over (at most one per firewall); a few firewalls have no owner and
	// get only global rules.
	Owners int
	// Seed makes the output deterministic: the same options give the same
	// bytes.
	Seed uint64
}

func (o Options) normalized() Options {
	o.Firewalls = max(o.Firewalls, 1)
	o.Rules = max(o.Rules, 0)
	o.Tags = max(o.Tags, 0)
	o.Owners = min(max(o.Owners, 1), o.Firewalls)
	return o
}

// Files maps slash-separated paths to file contents.
type Files map[string][]byte

// FS returns the files as an in-memory file system.
func (fl Files) FS() fs.FS {
	m := make(fstest.MapFS, len(fl))
	for p, data := range fl {
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return m
}

// WriteDir writes the files under dir, creating directories as needed. It
// overwrites files of the same names and leaves others alone.
func (fl Files) WriteDir(dir string) error {
	names := make([]string, 0, len(fl))
	for p := range fl {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("genrepo: %w", err)
		}
		if err := os.WriteFile(full, fl[p], 0o644); err != nil {
			return fmt.Errorf("genrepo: %w", err)
		}
	}
	return nil
}

var (
	roles = []string{"web", "api", "db", "cache", "queue", "lb", "bastion", "monitor", "worker", "search", "storage", "mail", "vpn", "ci"}
	// roleWeights make web, api and workers common and bastions rare.
	roleWeights = []int{14, 12, 8, 6, 5, 4, 1, 2, 12, 4, 4, 2, 1, 3}
	envs        = []string{"prod", "staging", "dev"}
	teams       = []string{"payments", "identity", "search", "media", "ads", "infra", "data", "mobile", "support", "billing"}
	colours     = []string{"blue", "green", "canary", "shadow"}
	servicePort = map[string][]int{
		"web": {80, 443}, "api": {8443, 443}, "db": {5432, 3306}, "cache": {6379, 11211},
		"queue": {5672, 9092}, "lb": {80, 443}, "bastion": {22}, "monitor": {9090, 3000},
		"worker": {8080}, "search": {9200, 9300}, "storage": {9000, 2049}, "mail": {25, 587},
		"vpn": {1194}, "ci": {8080, 50000},
	}
)

type firewall struct {
	name, uuid, owner, role string
	team                    int // index into owners; -1 for none
	v4, v6                  string
	tags                    []tag
	explicitUUID            bool
	enabled                 bool
}

type tag struct {
	name, value string
	kind        v1.TagKind
}

type gen struct {
	opts      Options
	rng       *rand.Rand
	owners    []string
	fws       []*firewall
	byOwner   [][]*firewall
	tagDecl   []tagDecl
	files     Files
	ruleFiles map[string]*strings.Builder
}

type tagDecl struct {
	name   string
	values []tag // nil: any value
}

// Generate builds a repository for opts. It always validates without
// errors or warnings: every tag a rule or firewall uses is declared with
// the value used, every selector matches a firewall in the rule's scope,
// every firewall has an agent, and no rule is disabled.
func Generate(opts Options) Files {
	opts = opts.normalized()
	g := &gen{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		files:     Files{},
		ruleFiles: map[string]*strings.Builder{},
	}
	for i := 0; i < opts.Owners; i++ {
		g.owners = append(g.owners, g.uuid())
	}
	g.byOwner = make([][]*firewall, opts.Owners)
	g.declareTags()
	g.firewalls()
	g.settings()
	g.rules()
	g.tests()
	return g.files
}

func (g *gen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := fmt.Sprintf("%x", b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

func pick[T any](g *gen, xs []T) T { return xs[g.rng.IntN(len(xs))] }

func (g *gen) teamName(i int) string {
	if i < 0 {
		return "shared"
	}
	if i < len(teams) {
		return teams[i]
	}
	return fmt.Sprintf("team-%02d", i)
}

func (g *gen) declareTags() {
	n := g.opts.Tags
	base := []tagDecl{
		{name: "role", values: strTags("role", roles)},
		{name: "env", values: strTags("env", envs)},
		{name: "zone", values: []tag{{"zone", "1", v1.TagNumber}, {"zone", "2", v1.TagNumber}, {"zone", "3", v1.TagNumber}, {"zone", "4", v1.TagNumber}}},
		{name: "pci", values: []tag{{"pci", "true", v1.TagBool}, {"pci", "false", v1.TagBool}}},
	}
	for i := 0; i < n; i++ {
		var d tagDecl
		if i < len(base) {
			d = base[i]
		} else {
			k := i - len(base) + 1
			d = tagDecl{name: fmt.Sprintf("svc-%02d", k)}
			if k%2 == 1 {
				d.values = strTags(d.name, colours)
			}
		}
		g.tagDecl = append(g.tagDecl, d)
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: %s\n", d.name)
		fmt.Fprintf(&b, "spec:\n  description: %s\n", tagDescription(d.name))
		if d.values != nil {
			b.WriteString("  values:\n")
			for _, v := range d.values {
				fmt.Fprintf(&b, "    - %s\n", yamlValue(v))
			}
		}
		g.files["tags/"+d.name+".yaml"] = []byte(b.String())
	}
}

func tagDescription(name string) string {
	switch name {
	case "role":
		return "What the host does; most rules select on it."
	case "env":
		return "Deployment environment."
	case "zone":
		return "Availability zone number."
	case "pci":
		return "Whether the host is in PCI DSS scope."
	}
	return "Service group " + name + "."
}

func strTags(name string, vs []string) []tag {
	out := make([]tag, len(vs))
	for i, v := range vs {
		out[i] = tag{name, v, v1.TagString}
	}
	return out
}

// yamlValue writes a tag value with its YAML type.
func yamlValue(t tag) string {
	if t.kind == v1.TagString {
		return strconv.Quote(t.value)
	}
	return t.value
}

func weighted(g *gen) string {
	total := 0
	for _, w := range roleWeights {
		total += w
	}
	n := g.rng.IntN(total)
	for i, w := range roleWeights {
		if n < w {
			return roles[i]
		}
		n -= w
	}
	return roles[0]
}

// v4Addr returns the i-th firewall's IPv4 address: 250 hosts per /24 from
// 198.18.1.0 on, leaving .0 and .251–.255 of each /24 unused.
func v4Addr(i int) string {
	block := 1 + i/250
	a := netip.AddrFrom4([4]byte{198, 18 + byte(block/256), byte(block % 256), byte(1 + i%250)})
	return a.String()
}

func (g *gen) firewalls() {
	for i := 0; i < g.opts.Firewalls; i++ {
		f := &firewall{role: weighted(g), enabled: i%53 != 52, team: i % g.opts.Owners}
		if i >= g.opts.Owners && i%37 == 36 {
			f.team = -1
		}
		f.name = fmt.Sprintf("%s-%04d", f.role, i)
		if f.team >= 0 {
			f.owner = g.owners[f.team]
		}
		if i%7 == 3 {
			f.uuid, f.explicitUUID = g.uuid(), true
		} else {
			f.uuid = v1.DeriveUUID(v1.KindFirewall, f.name)
		}
		f.v4 = v4Addr(i)
		if i%3 != 0 {
			net := f.team + 1 // fd00:ff:: for firewalls without an owner
			if f.team < 0 {
				net = 0xff
			}
			f.v6 = fmt.Sprintf("fd00:%x::%x", net, i+1)
		}
		for k, d := range g.tagDecl {
			switch {
			case d.name == "role":
				f.tags = append(f.tags, tag{"role", f.role, v1.TagString})
			case d.name == "env" || d.name == "zone":
				f.tags = append(f.tags, pick(g, d.values))
			case d.name == "pci":
				if g.chance(0.3) {
					f.tags = append(f.tags, pick(g, d.values))
				}
			case g.chance(2.0 / float64(max(1, len(g.tagDecl)-3))):
				if d.values != nil {
					f.tags = append(f.tags, pick(g, d.values))
				} else {
					f.tags = append(f.tags, tag{d.name, fmt.Sprintf("v%d", k%5+g.rng.IntN(3)), v1.TagString})
				}
			}
		}
		g.fws = append(g.fws, f)
		if f.team >= 0 {
			g.byOwner[f.team] = append(g.byOwner[f.team], f)
		}
		g.files[fmt.Sprintf("firewalls/%s/%s.yaml", g.teamName(f.team), f.name)] = g.firewallYAML(f, i)
	}
}

func (g *gen) firewallYAML(f *firewall, i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: %s\n", f.name)
	if f.explicitUUID {
		fmt.Fprintf(&b, "  uuid: %s\n", f.uuid)
	}
	b.WriteString("spec:\n")
	if i%4 == 0 {
		fmt.Fprintf(&b, "  description: %s host %d of team %s\n", f.role, i, g.teamName(f.team))
	}
	if f.owner != "" {
		fmt.Fprintf(&b, "  owner: %s\n", f.owner)
	}
	fmt.Fprintf(&b, "  addresses:\n    - %s\n", f.v4)
	if f.v6 != "" {
		fmt.Fprintf(&b, "    - %s\n", f.v6)
	}
	if i%10 == 5 {
		fmt.Fprintf(&b, "    - 198.19.%d.%d\n", 100+i/250%100, 1+i%250)
	}
	if len(f.tags) > 0 {
		b.WriteString("  tags:\n")
		for _, t := range f.tags {
			fmt.Fprintf(&b, "    %s: %s\n", t.name, yamlValue(t))
		}
	}
	if !f.enabled {
		b.WriteString("  enabled: false\n")
	}
	if i%9 == 4 {
		b.WriteString("  agent:\n    mode: pull\n")
	} else {
		var fp [32]byte
		for k := range fp {
			fp[k] = byte(g.rng.UintN(256))
		}
		fmt.Fprintf(&b, "  agent:\n    url: https://%s.fw.example.test:33033\n    fingerprint: sha256:%x\n", f.name, fp)
	}
	if i%20 == 10 {
		b.WriteString("  management:\n    - 198.19.240.0/28\n")
	}
	return []byte(b.String())
}

func (g *gen) settings() {
	g.files["settings.yaml"] = []byte(`apiVersion: fwgit/v1
kind: Settings
metadata:
  name: settings
spec:
  controllerAddresses:
    - 198.19.254.0/28
    - fd00:fe::/64
  agentPort: 33033
  management:
    - 198.19.253.0/24
`)
}

// ruleGen holds the choices for one rule.
type ruleGen struct {
	g      *gen
	lower  bool
	global bool
	owner  string
	scope  []*firewall
}

func (r *ruleGen) kw(s string) string {
	if r.lower {
		return strings.ToLower(s)
	}
	return s
}

// selector returns a target that selects f (which is in scope).
func (r *ruleGen) selector(f *firewall) string {
	g := r.g
	n := g.rng.IntN(100)
	switch {
	case n < 6:
		return r.kw("VM ") + f.uuid
	case n < 10 || len(f.tags) == 0:
		return r.kw("ALL VMS")
	}
	t := f.tags[0] // role, when declared
	if n >= 60 && len(f.tags) > 1 {
		t = pick(g, f.tags[1:])
	}
	if g.chance(0.1) {
		return r.kw("TAG ") + quoteTag(t.name, g.chance(0.5))
	}
	return r.kw("TAG ") + quoteTag(t.name, g.chance(0.5)) + " = " + quoteTag(t.value, g.chance(0.5))
}

// quoteTag writes a tag name or value quoted, or bare when asked and the
// lexer reads it as one WORD that is not a keyword.
func quoteTag(s string, bare bool) string {
	if bare && s != "" && !strings.ContainsFunc(s, func(c rune) bool {
		return !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
	}) && !isKeyword(s) {
		return s
	}
	return strconv.Quote(s)
}

var keywords = []string{"from", "to", "ip", "subnet", "any", "all", "tag", "vm", "vms", "or", "and", "block",
	"allow", "port", "ports", "tcp", "udp", "icmp", "icmp6", "ah", "esp", "type", "code", "priority"}

// isKeyword reports whether the lexer would read s, or its start before a
// '-', as a keyword.
func isKeyword(s string) bool {
	for _, k := range keywords {
		for _, kk := range []string{k, strings.ToUpper(k)} {
			if rest, ok := strings.CutPrefix(s, kk); ok && (rest == "" || rest[0] == '-') {
				return true
			}
		}
	}
	return false
}

// side returns a side that selects f, sometimes with extra targets.
func (r *ruleGen) side(f *firewall) string {
	s := r.selector(f)
	if strings.HasSuffix(s, r.kw("ALL VMS")) || !r.g.chance(0.2) {
		return s
	}
	other := r.selector(pick(r.g, r.scope))
	if strings.HasSuffix(other, r.kw("ALL VMS")) {
		return s
	}
	return "(" + s + " " + r.kw("OR") + " " + other + ")"
}

// addressSide returns a side of addresses for the given protocol family
// (4, 6 or 0 for both) that never covers 198.19.251.0/24, where the
// generated tests send from.
func (r *ruleGen) addressSide(fam int) string {
	g := r.g
	v4 := []string{
		r.kw("IP ") + fmt.Sprintf("198.19.250.%d", 1+g.rng.IntN(200)),
		r.kw("SUBNET ") + "198.19.250.0/24",
		r.kw("SUBNET ") + fmt.Sprintf("198.18.%d.0/24", 1+g.rng.IntN(4)),
		r.kw("SUBNET ") + "198.18.0.0/16",
	}
	v6 := []string{
		r.kw("IP ") + fmt.Sprintf("fd00:abcd::%x", 1+g.rng.IntN(4000)),
		r.kw("SUBNET ") + "fd00:abcd::/64",
		r.kw("SUBNET ") + fmt.Sprintf("fd00:%x::/32", 1+g.rng.IntN(4)),
	}
	var pool []string
	switch fam {
	case 4:
		pool = v4
	case 6:
		pool = v6
	default:
		pool = append(v4, v6...)
	}
	if !g.chance(0.25) {
		return pick(g, pool)
	}
	a, b := pick(g, pool), pick(g, pool)
	if a == b {
		return a
	}
	return "(" + a + " " + r.kw("OR") + " " + b + ")"
}

func (r *ruleGen) ports(role string, allowAll bool) string {
	g := r.g
	known := servicePort[role]
	switch n := g.rng.IntN(100); {
	case n < 45:
		return r.kw("PORT ") + strconv.Itoa(pick(g, known))
	case n < 65 && len(known) > 1:
		return "(" + r.kw("PORT ") + strconv.Itoa(known[0]) + " " + r.kw("AND") + " " + r.kw("PORT ") + strconv.Itoa(known[1]) + ")"
	case n < 80:
		lo := 1024 + g.rng.IntN(60000)
		return r.kw("PORTS ") + fmt.Sprintf("%d - %d", lo, lo+g.rng.IntN(200))
	case n < 92:
		lo := 10000 + g.rng.IntN(50000)
		return r.kw("PORTS ") + fmt.Sprintf("%d, %d-%d", pick(g, known), lo, lo+10)
	case allowAll:
		return r.kw("PORT ") + r.kw("ALL")
	}
	return r.kw("PORT ") + strconv.Itoa(pick(g, known))
}

func (g *gen) rules() {
	for j := 0; j < g.opts.Rules; j++ {
		r := &ruleGen{g: g, lower: g.chance(0.1)}
		team := g.rng.IntN(g.opts.Owners)
		r.global = j == 0 || g.chance(0.08)
		if r.global {
			r.scope = g.fws
			team = -1
		} else {
			r.owner = g.owners[team]
			r.scope = g.byOwner[team]
		}
		anchor := pick(g, r.scope)
		text, name := g.ruleText(r, anchor, j)
		var b strings.Builder
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: %s\n", name)
		if j%11 == 7 {
			fmt.Fprintf(&b, "  uuid: %s\n", g.uuid())
		}
		b.WriteString("spec:\n")
		switch {
		case j%10 == 9:
			fmt.Fprintf(&b, "  rule: '%s'\n", strings.ReplaceAll(text, "'", "''"))
		case j%23 == 5:
			fmt.Fprintf(&b, "  rule: >-\n    %s\n", text)
		default:
			fmt.Fprintf(&b, "  rule: %s\n", text)
		}
		if j%3 == 0 {
			fmt.Fprintf(&b, "  description: %s traffic for %s\n", anchor.role, g.teamName(team))
		}
		if r.global {
			b.WriteString("  global: true\n")
		} else {
			fmt.Fprintf(&b, "  owner: %s\n", r.owner)
		}
		if j%20 == 13 {
			b.WriteString("  log: true\n")
		}
		file := fmt.Sprintf("rules/%s/%s.yaml", g.teamName(team), anchor.role)
		w := g.ruleFiles[file]
		if w == nil {
			w = &strings.Builder{}
			g.ruleFiles[file] = w
		}
		w.WriteString(b.String())
	}
	for file, w := range g.ruleFiles {
		g.files[file] = []byte(w.String())
	}
}

// ruleText writes rule j around anchor, a firewall in its scope.
func (g *gen) ruleText(r *ruleGen, anchor *firewall, j int) (text, name string) {
	if j == 0 {
		// The ping rule every Triton datacenter has; the generated tests
		// rely on it.
		return "FROM any TO all vms ALLOW icmp TYPE 8 CODE 0", "global-allow-ping"
	}
	peer := pick(g, r.scope)
	action := r.kw("ALLOW")
	block := g.chance(0.12)
	if block {
		action = r.kw("BLOCK")
	}
	var from, to, proto string
	switch n := g.rng.IntN(100); {
	case n < 40: // service to service
		from, to = r.side(peer), r.side(anchor)
		proto = r.kw("TCP ") + r.ports(anchor.role, true)
	case n < 55: // from addresses outside (or anywhere)
		if block || g.chance(0.5) {
			from = r.addressSide(0)
		} else {
			from = r.kw("ANY")
		}
		to = r.side(anchor)
		proto = r.kw("TCP ") + r.ports(anchor.role, false)
	case n < 65: // outbound to addresses
		from, to = r.side(anchor), r.addressSide(0)
		proto = pick(g, []string{r.kw("UDP ") + r.kw("PORT ") + "53", r.kw("TCP ") + r.kw("PORT ") + "443", r.kw("UDP ") + r.kw("PORTS ") + "123, 514"})
	case n < 72:
		from, to = r.side(peer), r.side(anchor)
		proto = r.kw("UDP ") + r.ports(anchor.role, true)
	case n < 80:
		if block {
			from = r.addressSide(4)
		} else {
			from = pick(g, []string{r.kw("ANY"), r.addressSide(4), r.side(peer)})
		}
		to = r.side(anchor)
		proto = r.kw("ICMP ") + pick(g, []string{
			r.kw("TYPE ") + "8 " + r.kw("CODE ") + "0",
			"(" + r.kw("TYPE ") + "0 " + r.kw("AND ") + r.kw("TYPE ") + "3 " + r.kw("CODE ") + "4)",
			r.kw("TYPE ") + "11",
		})
	case n < 87:
		if block {
			from = r.addressSide(6)
		} else {
			from = pick(g, []string{r.kw("ANY"), r.addressSide(6), r.side(peer)})
		}
		to = r.side(anchor)
		proto = r.kw("ICMP6 ") + pick(g, []string{r.kw("TYPE ") + "128", r.kw("TYPE ") + r.kw("ALL"), "(" + r.kw("TYPE ") + "128 " + r.kw("AND ") + r.kw("TYPE ") + "1 " + r.kw("CODE ") + "4)"})
	case n < 90:
		from, to = r.side(peer), r.side(anchor)
		proto = pick(g, []string{r.kw("AH"), r.kw("ESP")})
	default: // fleet-wide
		from = r.side(anchor)
		to = r.kw("ALL VMS")
		proto = r.kw("TCP ") + r.ports(anchor.role, true)
	}
	text = fmt.Sprintf("%s %s %s %s %s %s", r.kw("FROM"), from, r.kw("TO"), to, action, proto)
	if g.chance(0.15) {
		text += fmt.Sprintf(" %s %d", r.kw("PRIORITY"), 1+g.rng.IntN(100))
	}
	kind := "allow"
	if block {
		kind = "block"
	}
	return text, fmt.Sprintf("%s-%s-%s-%05d", g.scopeName(r), anchor.role, kind, j)
}

func (g *gen) scopeName(r *ruleGen) string {
	if r.global {
		return "global"
	}
	return g.teamName(slices.Index(g.owners, r.owner))
}

// tests writes one Test with cases that hold for any generated policy:
// pings are accepted (the global ping rule; no BLOCK rule covers the test
// source) and an unused port is dropped.
func (g *gen) tests() {
	var cases []string
	for _, f := range g.fws {
		if len(cases) >= 6 {
			break
		}
		if !f.enabled {
			continue
		}
		cases = append(cases,
			fmt.Sprintf("    - {firewall: %s, from: 198.19.251.250, proto: icmp, type: 8, code: 0, expect: accept}\n", f.name),
			fmt.Sprintf("    - {firewall: %s, from: 198.19.251.250, proto: tcp, port: 9, expect: drop}\n", f.name))
	}
	if len(cases) == 0 || g.opts.Rules == 0 {
		return
	}
	slices.SortFunc(cases, cmp.Compare[string])
	g.files[path.Join("tests", "smoke.yaml")] = []byte("apiVersion: fwgit/v1\nkind: Test\nmetadata:\n  name: smoke\nspec:\n  description: Pings pass and closed ports stay closed.\n  cases:\n" + strings.Join(cases, ""))
}
