// Package dataplane owns the agent's one nftables table, `table inet fwgit`
// by default: it applies an [nft.Ruleset] to the kernel as one atomic
// netlink transaction (google/nftables), reads the table back into the IR
// for post-apply verification and drift detection, and lists other tables'
// base chains so the agent can warn about them.
//
// [Netlink] is the kernel implementation and [FakeApplier] an in-memory one
// that is all-or-nothing like the kernel, for tests of the agent. Both
// implement [Applier] and [DigestReader].
//
// The digest of the applied ruleset is stored in the table itself, so a
// restarted agent can tell what the kernel holds: google/nftables v0.3.0
// sends no table or chain userdata, so it goes into the userdata of the
// table's first rule, under a TLV type of our own next to the rule's
// comment. nft ignores TLV types it does not know, so `nft list table`
// prints exactly what it prints for the same ruleset loaded from
// [nft.Ruleset.Render]. [Netlink.StoredDigest] reads only that rule; a
// table without rules falls back to a full read.
//
// Apply hands the batch google/nftables builds to a small transport of its
// own that drops the library's per-rule echo request (less kernel work, no
// receive-buffer overrun); everything else goes through the library.
//
// The package must never read, change or flush any table but its own (it
// never calls FlushRuleset), never run the nft binary, and never apply
// anything but a validated IR. Every workaround for google/nftables v0.3.0
// described in spec/nftables-limits.md lives here and nowhere else: socket
// buffers sized to the batch (G1, G2), set elements sent in chunks under
// 60 KiB (G3), normalised interval boundaries (G4, G7), references checked
// before the flush (G5), and ENOBUFS resolved by reading back (G2).
package dataplane
