// Package atomicfile writes files so that a reader or a crash sees the old
// contents or the new ones, never a mix: temporary file in the same
// directory, fsync, rename, fsync of the directory. It owns nothing else and
// never removes a file it did not create.
package atomicfile
