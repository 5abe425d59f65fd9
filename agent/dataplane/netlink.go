package dataplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fwgit/fwgit/internal/logfield"
	"github.com/fwgit/fwgit/internal/nft"
)

// Options configure a [Netlink] applier. The zero value manages
// `table inet fwgit` in the caller's network namespace and does not log.
type Options struct {
	// Table is the name of the one table the applier owns;
	// [nft.DefaultTable] when empty.
	Table string
	// NetNSFD is an open file descriptor of the network namespace to work
	// in; 0 means the caller's. The caller keeps ownership of it.
	NetNSFD int
	// NetNSPath names the network namespace to work in by path (say
	// /var/run/netns/x or /proc/PID/ns/net); NewNetlink opens it and
	// [Netlink.Close] closes it. At most one of NetNSFD and NetNSPath may
	// be set.
	NetNSPath string
	// Logger receives warnings (a lost kernel reply) and debug timings;
	// nil discards them.
	Logger *slog.Logger
	// ResolveTimeout bounds the read-back that resolves an unknown outcome
	// when the caller's context is already done; 10 s when zero.
	ResolveTimeout time.Duration
}

// Netlink applies rulesets to the kernel with google/nftables and reads our
// table back over netlink. It is safe for concurrent use; applies are
// serialised.
type Netlink struct {
	table   string
	nsfd    int
	nsFile  *os.File
	log     *slog.Logger
	resolve time.Duration
	mu      sync.Mutex // one apply at a time

	// Test hooks: extra writes after the batch (to make the kernel refuse
	// it) and forced buffer sizes (to provoke EMSGSIZE or ENOBUFS).
	testExtra    func(c *nftables.Conn, table *nftables.Table)
	testReadBuf  int
	testWriteBuf int
}

// Compile-time guards.
var (
	_ Applier      = (*Netlink)(nil)
	_ DigestReader = (*Netlink)(nil)
)

// NewNetlink returns an applier for the table and namespace of opts. It
// does not touch the kernel.
func NewNetlink(opts Options) (*Netlink, error) {
	n := &Netlink{table: opts.Table, nsfd: opts.NetNSFD, log: opts.Logger, resolve: opts.ResolveTimeout}
	if n.table == "" {
		n.table = nft.DefaultTable
	}
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if n.resolve <= 0 {
		n.resolve = 10 * time.Second
	}
	if opts.NetNSPath != "" {
		if opts.NetNSFD != 0 {
			return nil, errors.New("dataplane: both a namespace descriptor and a namespace path given")
		}
		f, err := os.Open(opts.NetNSPath)
		if err != nil {
			return nil, fmt.Errorf("dataplane: opening network namespace: %w", err)
		}
		n.nsFile, n.nsfd = f, int(f.Fd())
	}
	return n, nil
}

// Close releases the namespace opened for [Options.NetNSPath]. The table
// stays in the kernel.
func (n *Netlink) Close() error {
	if n.nsFile == nil {
		return nil
	}
	return n.nsFile.Close()
}

// Table returns the name of the table the applier owns.
func (n *Netlink) Table() string { return n.table }

// Apply replaces our table with rs in one netlink transaction, or deletes
// it when rs is empty. The ruleset is validated first; the kernel then
// commits everything or nothing. Its digest is stored in the table (see
// [Netlink.StoredDigest]). When the kernel's reply is lost (ENOBUFS, or the
// context ends while waiting for it), Apply reads the table back: if it
// holds rs, Apply returns nil; if it does not, an error; if it cannot
// tell, an error wrapping [ErrUnknownOutcome].
func (n *Netlink) Apply(ctx context.Context, rs *nft.Ruleset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRuleset(rs, n.table); err != nil {
		return err
	}
	var b *batch
	digest := ""
	if !rs.Empty() {
		digest = rs.Digest()
		var err error
		if b, err = encode(rs, digest); err != nil {
			return fmt.Errorf("dataplane: encoding ruleset: %w: %w", nft.ErrInvalid, err)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	start := time.Now()
	err := n.flush(ctx, b)
	log := n.log.With(logfield.Table, n.table, logfield.Digest, digest)
	switch {
	case err == nil:
		log.Debug("table applied", logfield.Duration, time.Since(start))
		return nil
	case !lostReply(err):
		if ctx.Err() != nil {
			return fmt.Errorf("dataplane: applying table inet %s: %w", n.table, ctx.Err())
		}
		return fmt.Errorf("dataplane: applying table inet %s: %w", n.table, err)
	}
	// The batch reached the kernel, which processes it inside sendmsg, but
	// its answer is lost: what the table holds now is the answer.
	log.Warn("kernel reply lost; reading the table back", logfield.Error, err)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.resolve)
	defer cancel()
	got, rerr := n.Read(rctx)
	switch {
	case rerr != nil && !errors.Is(rerr, ErrForeign):
		return fmt.Errorf("dataplane: applying table inet %s: %w (%w; read back: %w)", n.table, ErrUnknownOutcome, err, rerr)
	case rerr == nil && got.Digest() == rs.Digest():
		log.Info("table applied; its reply was lost")
		return nil
	}
	return fmt.Errorf("dataplane: applying table inet %s: the kernel's reply was lost (%w) and the table does not hold the ruleset", n.table, err)
}

// flush writes b (nil: delete the table) to a connection whose buffers are
// sized for it, and flushes it.
func (n *Netlink) flush(ctx context.Context, b *batch) error {
	msgs, size := 3, 1024
	if b != nil {
		msgs, size = b.msgs, b.bytes
	}
	// G1: the whole batch goes out in one sendmsg, which fails beyond the
	// send buffer. G2: every message is acknowledged into the receive
	// buffer (sendBatch stops the per-rule echo; the sizing stays generous
	// in case a future transport restores it).
	wbuf := max(2*size+256<<10, 1<<20)
	rbuf := max(4<<20, 1536*msgs, 2*size)
	if n.testReadBuf > 0 {
		rbuf = n.testReadBuf
	}
	if n.testWriteBuf > 0 {
		wbuf = n.testWriteBuf
	}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil {
			return nil, nil // every reply was handed over with the batch
		}
		return n.sendBatch(ctx, req, wbuf, rbuf)
	}))
	if err != nil {
		return err
	}
	if b == nil {
		deleteTable(c, n.table)
	} else if err := b.write(c); err != nil {
		return err
	}
	if n.testExtra != nil {
		n.testExtra(c, &nftables.Table{Name: n.table, Family: nftables.TableFamilyINet})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Flush()
}

// sendBatch is the transport under google/nftables' Flush: v0.3.0 asks the
// kernel to echo every rule back (NLM_F_ECHO), which costs kernel time and
// receive buffer for nothing (G2). sendBatch sends the batch the library
// built without that flag, on a socket sized for it, and collects one
// acknowledgement or error per message. The library then checks them as
// usual. A future release without the echo can drop this adapter.
func (n *Netlink) sendBatch(ctx context.Context, req []netlink.Message, wbuf, rbuf int) ([]netlink.Message, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: n.nsfd})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetWriteBuffer(wbuf); err != nil {
		return nil, err
	}
	if err := c.SetReadBuffer(rbuf); err != nil {
		return nil, err
	}
	defer bindDeadline(ctx, c)()
	want := 0
	msgs := make([]netlink.Message, len(req))
	for i, m := range req {
		m.Header.Flags &^= unix.NLM_F_ECHO
		m.Header.Sequence, m.Header.PID = 0, 0
		if m.Header.Flags&netlink.Acknowledge != 0 {
			want++
		}
		msgs[i] = m
	}
	if _, err := c.SendMessages(msgs); err != nil {
		return nil, &sendError{err}
	}
	replies := make([]netlink.Message, 0, want)
	for len(replies) < want {
		got, err := c.Receive()
		if err != nil {
			return nil, err // a kernel error (the batch was refused) or a lost reply
		}
		for _, m := range got {
			if m.Header.Type == netlink.Error {
				replies = append(replies, m)
			}
		}
	}
	return replies, nil
}

// lostReply reports whether a Flush error means the batch was sent but the
// kernel's answer was not (fully) received.
func lostReply(err error) bool {
	var se *sendError
	if errors.As(err, &se) {
		return false // nothing reached the kernel
	}
	return errors.Is(err, syscall.ENOBUFS) || errors.Is(err, os.ErrDeadlineExceeded)
}

// sendError is a failure to send the batch: the kernel got nothing (a
// netlink sendmsg is all or nothing), so the outcome is known.
type sendError struct{ err error }

func (e *sendError) Error() string { return "sending batch: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// bindDeadline makes c's blocking calls end at ctx's deadline or when ctx
// is cancelled; the returned func undoes the binding.
func bindDeadline(ctx context.Context, c *netlink.Conn) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// dial opens a netlink socket for reading, bound to ctx.
func (n *Netlink) dial(ctx context.Context) (*netlink.Conn, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: n.nsfd})
	if err != nil {
		return nil, nil, fmt.Errorf("dataplane: opening netlink socket: %w", err)
	}
	stop := bindDeadline(ctx, c)
	return c, func() { stop(); _ = c.Close() }, nil
}

// readErr wraps a read failure, preferring the context's reason.
func readErr(ctx context.Context, what string, err error) error {
	if errors.Is(err, ErrForeign) {
		return fmt.Errorf("dataplane: %s: %w", what, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("dataplane: %s: %w", what, ctx.Err())
	}
	return fmt.Errorf("dataplane: %s: %w", what, err)
}

// Read returns our table as the IR, or an empty ruleset when it does not
// exist. Anything in the table the encoder would not have written (a
// foreign rule, expression, chain, set or flag) is an [ErrForeign] error.
// The read is consistent: it is retried when the ruleset changed while it
// was being read.
func (n *Netlink) Read(ctx context.Context) (*nft.Ruleset, error) {
	c, done, err := n.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	what := "reading table inet " + n.table
	for attempt := 0; ; attempt++ {
		g1, err := genID(c)
		if err != nil {
			return nil, readErr(ctx, what, err)
		}
		rs, _, rerr := n.read(c)
		g2, err := genID(c)
		if err != nil {
			return nil, readErr(ctx, what, err)
		}
		if g1 == g2 || attempt == 4 {
			if rerr != nil {
				return nil, readErr(ctx, what, rerr)
			}
			return rs, nil
		}
	}
}

// read reads and decodes our table once. It also returns the digest stored
// on the first rule.
func (n *Netlink) read(c *netlink.Conn) (*nft.Ruleset, string, error) {
	rs := &nft.Ruleset{Version: nft.IRVersion, Table: n.table}
	tables, err := listTables(c, unix.NFPROTO_INET)
	if err != nil {
		return nil, "", err
	}
	i := slices.IndexFunc(tables, func(t kTable) bool { return t.name == n.table })
	if i < 0 {
		return rs, "", nil
	}
	if tables[i].flags != 0 {
		return nil, "", foreign("table flags %#x", tables[i].flags)
	}
	chains, err := n.ourChains(c)
	if err != nil {
		return nil, "", err
	}
	ksets, err := listSets(c, n.table)
	if err != nil {
		return nil, "", err
	}
	d := decoder{sets: make(map[string]*dSet, len(ksets)), used: make(map[string]bool)}
	for _, ks := range ksets {
		elems, why, err := listElements(c, n.table, ks.name)
		if err != nil {
			return nil, "", err
		}
		if why != "" {
			return nil, "", foreign("set %s: %s", ks.name, why)
		}
		s, err := decodeSet(ks, elems)
		if err != nil {
			return nil, "", err
		}
		d.sets[s.name] = s
		if !s.anon {
			if s.keyType != keyTypeIPv4 && s.keyType != keyTypeIPv6 {
				return nil, "", foreign("set %s is not an address set", s.name)
			}
			t := nft.SetIPv4
			if s.keyType == keyTypeIPv6 {
				t = nft.SetIPv6
			}
			rs.Sets = append(rs.Sets, nft.Set{Name: s.name, Type: t, Elements: s.prefixes, Comment: s.comment})
		}
	}
	sortSets(rs.Sets)
	krules, err := listRules(c, n.table, "")
	if err != nil {
		return nil, "", err
	}
	byChain := make(map[string]int, len(chains))
	rs.Chains = make([]nft.Chain, 0, len(chains))
	for _, ch := range chains {
		byChain[ch.Name] = len(rs.Chains)
		rs.Chains = append(rs.Chains, ch)
	}
	digest := ""
	for i := range krules {
		kr := &krules[i]
		ci, ok := byChain[kr.chain]
		if !ok {
			return nil, "", foreign("rule %d in unknown chain %q", kr.handle, kr.chain)
		}
		if i == 0 {
			digest = kr.digest
		}
		r, err := d.rule(kr)
		if err != nil {
			return nil, "", err
		}
		rs.Chains[ci].Rules = append(rs.Chains[ci].Rules, r)
	}
	if len(rs.Chains) == 0 {
		rs.Chains = nil
	}
	return rs, digest, nil
}

var (
	keyTypeIPv4 = nftables.TypeIPAddr.GetNFTMagic()
	keyTypeIPv6 = nftables.TypeIP6Addr.GetNFTMagic()
)

// ourChains lists our table's chains in the kernel's order (the order they
// were created in) and checks each is a base chain the IR can express.
func (n *Netlink) ourChains(c *netlink.Conn) ([]nft.Chain, error) {
	all, err := listChains(c, unix.NFPROTO_INET)
	if err != nil {
		return nil, err
	}
	var out []nft.Chain
	for _, kc := range all {
		if kc.table != n.table {
			continue
		}
		hook, ok := hookName(kc.hooknum)
		switch {
		case !kc.base:
			return nil, foreign("chain %s is not a base chain", kc.name)
		case !ok || kc.typ != string(nftables.ChainTypeFilter) || kc.device != "":
			return nil, foreign("chain %s: type %s hook %d", kc.name, kc.typ, kc.hooknum)
		case kc.flags&^nftChainFlagBase != 0 || kc.userData:
			return nil, foreign("chain %s has flags or userdata", kc.name)
		case kc.policy == nil || *kc.policy > uint32(nftables.ChainPolicyAccept):
			return nil, foreign("chain %s has no accept or drop policy", kc.name)
		}
		policy := nft.Drop
		if *kc.policy == uint32(nftables.ChainPolicyAccept) {
			policy = nft.Accept
		}
		out = append(out, nft.Chain{Name: kc.name, Hook: hook, Priority: int(kc.priority), Policy: policy})
	}
	return out, nil
}

// StoredDigest returns the digest that the last apply stored on the first
// rule of our table, or "" when the table does not exist. It reads one
// rule, whatever the table's size. When the first rule carries no digest
// (a table without rules, or one whose first rule was deleted or preceded
// by another), it falls back to the digest of what [Netlink.Read] returns.
func (n *Netlink) StoredDigest(ctx context.Context) (string, error) {
	what := "reading the digest of table inet " + n.table
	c, done, err := n.dial(ctx)
	if err != nil {
		return "", err
	}
	tables, err := listTables(c, unix.NFPROTO_INET)
	if err != nil {
		done()
		return "", readErr(ctx, what, err)
	}
	if !slices.ContainsFunc(tables, func(t kTable) bool { return t.name == n.table }) {
		done()
		return "", nil
	}
	chains, err := listChains(c, unix.NFPROTO_INET)
	done()
	if err != nil {
		return "", readErr(ctx, what, err)
	}
	for _, ch := range chains {
		if ch.table != n.table {
			continue
		}
		// A fresh socket per dump: firstRule abandons the dump.
		c, done, err := n.dial(ctx)
		if err != nil {
			return "", err
		}
		r, err := firstRule(c, n.table, ch.name)
		done()
		if err != nil {
			return "", readErr(ctx, what, err)
		}
		if r == nil {
			continue // an empty chain; the digest is on the next one
		}
		if r.digest != "" && r.foreign == "" {
			return r.digest, nil
		}
		break
	}
	rs, err := n.Read(ctx)
	if err != nil {
		return "", err
	}
	if rs.Empty() {
		return "", nil
	}
	return rs.Digest(), nil
}

// ForeignChains lists the base chains of other ip, ip6 and inet tables on
// the input, forward and output hooks: a drop there is final whatever our
// table accepts. It only reads.
func (n *Netlink) ForeignChains(ctx context.Context) ([]ForeignChain, error) {
	c, done, err := n.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	all, err := listChains(c, unix.NFPROTO_UNSPEC)
	if err != nil {
		return nil, readErr(ctx, "listing chains", err)
	}
	var out []ForeignChain
	for _, kc := range all {
		fam, ok := familyNames[kc.family]
		if !ok || !kc.base || kc.family == unix.NFPROTO_INET && kc.table == n.table {
			continue
		}
		hook, ok := hookName(kc.hooknum)
		if !ok {
			continue
		}
		policy := "accept"
		if kc.policy != nil && *kc.policy == uint32(nftables.ChainPolicyDrop) {
			policy = "drop"
		}
		out = append(out, ForeignChain{Family: fam, Table: kc.table, Chain: kc.name, Hook: string(hook), Priority: int(kc.priority), Policy: policy})
	}
	slices.SortFunc(out, func(a, b ForeignChain) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Table, b.Table), cmp.Compare(a.Hook, b.Hook),
			cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Chain, b.Chain))
	})
	return out, nil
}

var familyNames = map[uint8]string{
	unix.NFPROTO_IPV4: "ip",
	unix.NFPROTO_IPV6: "ip6",
	unix.NFPROTO_INET: "inet",
}
