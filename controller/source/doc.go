// Package source owns where policy comes from: it turns a Git branch (or a
// local directory, for development) into immutable [Snapshot]s, each a
// revision ("main@sha1:<hash>", "dir@sha256:<hash>"), its commit and a
// read-only fs.FS. [Git] clones into the state directory, checks the remote
// head on every poll and on [Git.Trigger] (the webhook), and fetches only
// when the head moved (Flux's LastObservedCommit); it can require the head
// commit to carry a valid OpenPGP signature. [Dir] watches a directory with
// fsnotify. [FakeSource] hands out snapshots a test gives it.
//
// source does not parse policy: loading, validation and compilation happen
// downstream. A head that fails signature verification is still reported,
// as a snapshot with Refused set, so status can show why it was refused.
package source
