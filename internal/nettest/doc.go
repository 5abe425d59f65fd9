// Package nettest holds test helpers for fwgit's real-kernel tests: skipping
// without the needed privileges and tools ([Require]), fresh network
// namespaces removed when the test ends ([NewNS], [NewPair]), reading a
// table back with the nft command ([NFTList]) and a google/nftables
// connection bound to a namespace ([NFTConn]).
//
// It is imported only from _test.go files, usually ones built with the
// netns tag. It must not be used by the binaries: every helper takes a
// [testing.TB] and fails or skips the test rather than returning errors.
package nettest
