// Package nettest holds test helpers for fwgit's real-kernel tests: skipping
// without the needed privileges and tools ([Require]), fresh network
// namespaces removed when the test ends ([NewNS], [NewPair]), running the
// nft command in a namespace ([NFT], [LoadNFT], [NFTList]) and a
// google/nftables connection bound to a namespace ([NFTConn]).
//
// It is imported only from _test.go files, usually ones built with the
// netns tag. It must not be used by the binaries: every helper takes a
// [testing.TB] and fails or skips the test rather than returning errors.
package nettest
