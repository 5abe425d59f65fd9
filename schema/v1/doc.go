// Package v1 defines the fwgit/v1 manifests of a policy repository: Firewall,
// Rule, Tag, Test and Settings, with their documented defaults and the JSON
// Schema that editors use to complete and check them.
//
// v1 is a public, versioned contract. It imports only the standard library and
// internal/diag. It performs no I/O: reading files is schema/load's job.
package v1
