package source

import (
	"context"
	"errors"
	"io/fs"
	"time"
)

// Commit describes the commit a snapshot was taken from. A directory
// snapshot has only Time.
type Commit struct {
	Hash    string
	Branch  string
	Subject string
	Author  string
	Time    time.Time
}

// Snapshot is one revision of the policy. It is immutable; FS stays
// readable for as long as the snapshot is referenced.
type Snapshot struct {
	// Revision is "branch@sha1:<hash>" for Git and "dir@sha256:<hash>" for
	// a directory.
	Revision string
	Commit   Commit
	// FS holds the policy files (rooted at the configured path); nil when
	// Refused is set.
	FS fs.FS
	// Refused, when set, says why this revision must not be used (for
	// example an unsigned head). It is to be treated like an invalid
	// commit: the last good revision keeps serving.
	Refused error
}

// Source produces snapshots. Implementations are owned by the controller,
// which consumes this interface.
type Source interface {
	// Run sends a snapshot on out whenever the revision changes, the first
	// one as soon as it is available, until ctx is cancelled. Transient
	// failures (network, timeouts) are logged and retried at the next poll;
	// Run returns an error only when it cannot work at all.
	Run(ctx context.Context, out chan<- Snapshot) error
	// Trigger asks for an immediate check; it never blocks.
	Trigger()
}

// Revisioner is implemented by sources that can re-create the snapshot of
// an earlier revision from local state: after a restart whose newest
// revision is invalid, the controller reloads the last good one from it.
type Revisioner interface {
	SnapshotAt(ctx context.Context, revision string) (Snapshot, error)
}

// ErrUnsigned reports a head commit without an OpenPGP signature while a
// key ring is configured.
var ErrUnsigned = errors.New("source: head commit is not signed")

// SignatureError reports a head commit whose signature does not verify
// against the configured key ring.
type SignatureError struct {
	Hash string
	Err  error
}

func (e *SignatureError) Error() string {
	return "source: signature of commit " + e.Hash + " does not verify: " + e.Err.Error()
}

func (e *SignatureError) Unwrap() error { return e.Err }

// FakeSource is a [Source] that sends what [FakeSource.Push] gives it.
type FakeSource struct {
	ch       chan Snapshot
	triggers chan struct{}
}

var _ Source = (*FakeSource)(nil)

// NewFakeSource returns a fake holding up to 16 unsent snapshots.
func NewFakeSource() *FakeSource {
	return &FakeSource{ch: make(chan Snapshot, 16), triggers: make(chan struct{}, 16)}
}

// Push queues a snapshot for Run to send.
func (f *FakeSource) Push(s Snapshot) { f.ch <- s }

// Run implements [Source].
func (f *FakeSource) Run(ctx context.Context, out chan<- Snapshot) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-f.ch:
			select {
			case out <- s:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// Trigger implements [Source]; see [FakeSource.Triggered].
func (f *FakeSource) Trigger() {
	select {
	case f.triggers <- struct{}{}:
	default:
	}
}

// Triggered returns a channel that receives once per Trigger call.
func (f *FakeSource) Triggered() <-chan struct{} { return f.triggers }
