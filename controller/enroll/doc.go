// Package enroll owns enrollment of pull-mode agents: short-lived,
// use-limited enrollment tokens and the POST /api/v1/enroll endpoint that
// redeems one for a client certificate signed by the controller's CA
// (package ca).
//
// A token's secret is shown once, inside the encoded token
// (agentapi.EnrollToken); the [Store] keeps only its SHA-256, with the
// firewall name, expiry, remaining uses and creation time, in a bbolt file
// of its own (enroll.db) in the controller's state directory. The store
// opens that file for each operation and closes it at once, so `fwgit token
// create|list|revoke` work beside a running controller: bbolt's file lock
// is held for one short transaction at a time. Redeeming checks the hash in
// constant time and consumes one use in the same transaction.
//
// The package never logs or returns a secret, and its refusals do not tell a
// client whether a token was unknown, expired, used up or revoked (the log
// says, by token id). It must not import agent code.
package enroll
