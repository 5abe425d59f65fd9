package safety

import (
	"errors"
	"fmt"
)

// Sentinel errors of [Guard]; the API layer maps them to status codes with
// errors.Is.
var (
	// ErrBusy reports that another apply, rollback or repair holds the
	// kernel. The agent never interleaves two; the caller retries.
	ErrBusy = errors.New("safety: apply in progress")
	// ErrStale reports a generation below the applied one with another
	// digest.
	ErrStale = errors.New("safety: stale generation")
	// ErrNotPending reports a confirm while nothing awaits confirmation.
	ErrNotPending = errors.New("safety: nothing awaits confirmation")
	// ErrPendingMismatch reports a confirm for another generation than the
	// pending one.
	ErrPendingMismatch = errors.New("safety: another generation awaits confirmation")
	// ErrConfirmLate reports a confirm that came after the deadline; the
	// ruleset has been rolled back.
	ErrConfirmLate = errors.New("safety: confirm came after the deadline")
	// ErrInvalidRequest is matched by every [*RequestError].
	ErrInvalidRequest = errors.New("safety: invalid ruleset request")
)

// Codes of [RequestError], sent to the client as the error code.
const (
	CodeUnsupportedVersion = "UnsupportedVersion"
	CodeDigestMismatch     = "DigestMismatch"
	CodeInvalidRuleset     = "InvalidRuleset"
	CodeWrongTable         = "WrongTable"
)

// RequestError is a ruleset request the agent refuses before touching the
// kernel. Code is one of the Code constants; Msg is safe to show the client.
type RequestError struct {
	Code string
	Msg  string
	Err  error
}

func (e *RequestError) Error() string { return e.Msg }

// Unwrap returns the underlying cause, such as an nft.ValidationError.
func (e *RequestError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidRequest) hold.
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

// ApplyError is a kernel transaction that failed. The previous ruleset is
// still in place; Err holds the kernel's (or the applier's) message.
type ApplyError struct{ Err error }

func (e *ApplyError) Error() string { return "applying ruleset: " + e.Err.Error() }

// Unwrap returns the applier's error.
func (e *ApplyError) Unwrap() error { return e.Err }

// PersistError reports a ruleset that is running in the kernel but could not
// be written to the state directory: after a restart the agent would
// re-apply the older one. A later apply of the same digest retries the
// write.
type PersistError struct{ Err error }

func (e *PersistError) Error() string {
	return fmt.Sprintf("ruleset applied but not persisted: %v", e.Err)
}

// Unwrap returns the store's error.
func (e *PersistError) Unwrap() error { return e.Err }
