// Package schema is the public, versioned contract of a fwgit policy
// repository. The manifests live in [github.com/fwgit/fwgit/schema/v1], the
// loader in schema/load and the rule language in schema/fwrule. Every YAML
// document carries apiVersion and kind; a future v2 would live beside v1 with
// a conversion. schema imports only the standard library, the YAML decoder and
// internal/diag.
package schema
