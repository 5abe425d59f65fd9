// Package pull is the agent's side of pull mode, for firewalls the
// controller cannot reach (behind NAT): the agent dials the controller.
//
// [Enroll] redeems an enrollment token (agentapi.EnrollToken): it generates
// an ECDSA P-256 key on the host, sends only a certificate request, verifies
// the controller by the CA fingerprint the token pins (the chain must lead
// to that CA; verification is never skipped), and stores the signed client
// certificate with its key (pull.pem, mode 0600), the CA (pull-ca.crt) and
// the controller's URL (pull.json) in the agent's configuration directory.
//
// [Loop] then keeps the firewall on its desired ruleset over mutual TLS:
// it long-polls GET /api/v1/agents/{name}/desired with If-None-Match set to
// the digest it runs, applies what comes through a small [Applier] (the
// agent's safety.Guard), reports its state after every apply and
// periodically, confirms a commit-confirm ruleset only after reaching the
// controller again over a new connection, renews its certificate when two
// thirds of its life have passed, and reconnects forever with capped
// exponential backoff and jitter. It never changes the ruleset because the
// controller is away: only a desired ruleset that arrived is applied.
//
// The package does no kernel work itself and must not import controller
// code; private keys never leave the host and appear in no log or error.
package pull
