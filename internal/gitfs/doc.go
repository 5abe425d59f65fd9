// Package gitfs reads one commit of a Git repository as an [io/fs.FS],
// without checking it out. It resolves revisions (branch, tag, HEAD, full or
// abbreviated hash, and go-git's revision syntax such as HEAD~1) and
// describes the resolved commit, including its revision in Flux form
// "branch@sha1:<hash>".
//
// gitfs only reads: it never fetches, writes objects, moves references or
// touches the working tree. It works on bare and non-bare repositories.
package gitfs
