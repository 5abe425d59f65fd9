// Package version reports the build version of both binaries, stamped at link
// time with -ldflags "-X github.com/fwgit/fwgit/internal/version.Version=…".
package version
