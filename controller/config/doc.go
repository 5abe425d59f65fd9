// Package config defines the controller's own settings: the YAML file given
// to `fwgit controller --config`, its defaults and its validation. It is not
// the policy repository's schema (that is schema/v1), and it reads no flags
// or environment variables; cmd/fwgit does that. Secrets are read from files
// named here into [Secret] values, which redact themselves in logs.
package config
