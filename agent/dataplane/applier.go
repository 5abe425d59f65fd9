package dataplane

import (
	"context"
	"errors"

	"github.com/fwgit/fwgit/internal/nft"
)

// Applier puts a ruleset into the kernel as one transaction, and reads back
// what the kernel holds for our table. Implementations: [Netlink] (google/
// nftables) and [FakeApplier] (in memory, all-or-nothing like the kernel).
type Applier interface {
	// Apply replaces our table with rs in one transaction: on error the
	// previous table is still in place. An empty rs deletes our table.
	// Apply touches no other table.
	Apply(ctx context.Context, rs *nft.Ruleset) error
	// Read returns our table as the kernel holds it, normalised to the IR,
	// or an empty ruleset when the table does not exist. A table that holds
	// something the IR cannot express is an [ErrForeign] error.
	Read(ctx context.Context) (*nft.Ruleset, error)
	// ForeignChains lists other tables' base chains on the hooks we use.
	ForeignChains(ctx context.Context) ([]ForeignChain, error)
}

// ForeignChain is another table's base chain.
type ForeignChain struct {
	Family, Table, Chain, Hook string
	Priority                   int
	Policy                     string
}

// ErrForeign reports that our table holds rules or objects fwgit did not put
// there (it cannot be read back as IR): drift.
var ErrForeign = errors.New("dataplane: table holds objects fwgit did not create")

// ErrUnknownOutcome reports that the kernel's answer was lost (ENOBUFS): the
// batch may or may not have been committed; read back before retrying.
var ErrUnknownOutcome = errors.New("dataplane: outcome of the transaction unknown")

// DigestReader is implemented by appliers that record the applied ruleset's
// digest in the table itself, so it survives an agent restart.
type DigestReader interface {
	// StoredDigest returns the digest recorded when our table was last
	// applied, or "" when the table does not exist. It is a cheap check
	// that catches a deleted or replaced table; only comparing
	// Read().Digest() catches every edit.
	StoredDigest(ctx context.Context) (string, error)
}
