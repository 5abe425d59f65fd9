// Package ca owns the controller's certificate authority for pull-mode
// agents: an ECDSA P-256 key and a self-signed CA certificate kept in one
// file (mode 0600) in the controller's state directory, created at first use
// and loaded afterwards ([LoadOrCreate]). It issues the agent-facing
// listener's server certificate ([CA.ServerCertificate]) and signs agents'
// client certificates from their certificate requests ([CA.SignClient])
// after [CheckCSR] has verified the request. Its fingerprint ([CA.Fingerprint],
// "sha256:" over the CA certificate's DER) is what enrollment tokens pin.
//
// The package does no networking and never logs; private keys appear in no
// error or output. It must not import agent code.
package ca
