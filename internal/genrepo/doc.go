// Package genrepo writes synthetic policy repositories of a chosen size for
// benchmarks and scale tests: firewalls with addresses, tags and agents, Tag
// declarations, global and owned rules in realistic variety, a Settings
// object and a small Test. The output is deterministic for a seed and
// always validates without errors or warnings.
//
// genrepo only produces bytes; [Files.WriteDir] is its one file-system
// write, and it never reads or deletes anything.
package genrepo
