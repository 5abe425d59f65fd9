package safety

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// CodeInvalidContent is the [RequestError] code of a body that is not a
// well-formed request document.
const CodeInvalidContent = "InvalidContent"

// DecodeRequest parses the JSON body of PUT /ruleset strictly: unknown
// fields and trailing data are errors. When it fails, the versions are
// looked at, so that a document from a newer controller gets "version N is
// not supported" rather than an unknown-field error. It does not check the
// content; [CheckRequest] does. Errors are [*RequestError]s.
func DecodeRequest(data []byte) (*agentapi.RulesetRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req agentapi.RulesetRequest
	err := dec.Decode(&req)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the document")
		}
	}
	if err == nil {
		return &req, nil
	}
	var head struct {
		Version int `json:"version"`
		Ruleset *struct {
			Version int `json:"version"`
		} `json:"ruleset"`
	}
	if json.Unmarshal(data, &head) == nil {
		if head.Version != agentapi.Version {
			return nil, versionError(head.Version)
		}
		if head.Ruleset != nil && head.Ruleset.Version != nft.IRVersion {
			return nil, irVersionError(head.Ruleset.Version)
		}
	}
	return nil, &RequestError{Code: CodeInvalidContent, Msg: "invalid JSON: " + err.Error(), Err: err}
}

func versionError(v int) error {
	return &RequestError{Code: CodeUnsupportedVersion, Msg: fmt.Sprintf("protocol version %d is not supported (this agent speaks %d)", v, agentapi.Version)}
}

func irVersionError(v int) error {
	return &RequestError{Code: CodeUnsupportedVersion, Msg: fmt.Sprintf("ruleset IR version %d is not supported (this agent accepts %d)", v, nft.IRVersion)}
}

// CheckRequest verifies a ruleset request before anything reaches the
// kernel: the protocol and IR versions, the table, the structure of the IR
// ([nft.Ruleset.Validate]) and its digest, recomputed and compared. It
// returns a [*RequestError] naming the first problem.
func CheckRequest(req *agentapi.RulesetRequest, table string) error {
	switch {
	case req == nil:
		return &RequestError{Code: CodeInvalidRuleset, Msg: "no request"}
	case req.Version != agentapi.Version:
		return versionError(req.Version)
	case req.Ruleset == nil:
		return &RequestError{Code: CodeInvalidRuleset, Msg: "no ruleset (send an empty one to delete the table)"}
	case req.Ruleset.Version != nft.IRVersion:
		return irVersionError(req.Ruleset.Version)
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
