// Package identity owns the agent's credentials on disk: the random API key,
// the ECDSA P-256 TLS key and its self-signed certificate, and the
// certificate's sha256 fingerprint that a Firewall manifest pins
// (spec.agent.fingerprint). [Init] creates them for `fwgit-agent init`; a
// later `enroll` subcommand will add a CSR next to them. Private keys are
// written with mode 0600 and never leave the host; the package never logs or
// returns a key in an error.
package identity
