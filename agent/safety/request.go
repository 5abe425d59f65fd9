package safety

import (
	"fmt"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// CheckRequest verifies a ruleset request before anything reaches the
// kernel: the protocol and IR versions, the table, the structure of the IR
// ([nft.Ruleset.Validate]) and its digest, recomputed and compared. It
// returns a [*RequestError] naming the first problem.
func CheckRequest(req *agentapi.RulesetRequest, table string) error {
	switch {
	case req == nil:
		return &RequestError{Code: CodeInvalidRuleset, Msg: "no request"}
	case req.Version != agentapi.Version:
		return &RequestError{Code: CodeUnsupportedVersion, Msg: fmt.Sprintf("protocol version %d is not supported (this agent speaks %d)", req.Version, agentapi.Version)}
	case req.Ruleset == nil:
		return &RequestError{Code: CodeInvalidRuleset, Msg: "no ruleset (send an empty one to delete the table)"}
	case req.Ruleset.Version != nft.IRVersion:
		return &RequestError{Code: CodeUnsupportedVersion, Msg: fmt.Sprintf("ruleset IR version %d is not supported (this agent accepts %d)", req.Ruleset.Version, nft.IRVersion)}
	case req.Ruleset.Table != table:
		return &RequestError{Code: CodeWrongTable, Msg: fmt.Sprintf("ruleset is for table %q; this agent owns table %q", req.Ruleset.Table, table)}
	case req.ConfirmTimeoutMS < 0:
		return &RequestError{Code: CodeInvalidRuleset, Msg: "confirmTimeoutMs is negative"}
	case req.ConfirmTimeoutMS > MaxConfirmTimeout.Milliseconds():
		return &RequestError{Code: CodeInvalidRuleset, Msg: fmt.Sprintf("confirmTimeoutMs is above %d", MaxConfirmTimeout.Milliseconds())}
	}
	if err := req.Ruleset.Validate(); err != nil {
		return &RequestError{Code: CodeInvalidRuleset, Msg: err.Error(), Err: err}
	}
	if got := req.Ruleset.Digest(); got != req.Digest {
		return &RequestError{Code: CodeDigestMismatch, Msg: fmt.Sprintf("digest %q does not match the ruleset's %s", clip(req.Digest, 80), got)}
	}
	return nil
}

// clip shortens a client-supplied string for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
