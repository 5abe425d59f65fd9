// Package agent assembles fwgit-agent, the daemon on every firewall: it
// restores the persisted ruleset, then serves the HTTPS API (agent/server)
// in front of the guarded path to the kernel (agent/safety) and checks for
// drift on an interval. [New] builds an [Agent] from an
// agentconfig.Config and its dependencies (the dataplane.Applier, logger
// and clock); [Agent.Run] owns and joins every goroutine until its context
// ends.
//
// Safety guarantees, all enforced below this package: the agent owns one
// table (`table inet fwgit` by default) and touches nothing else; every
// ruleset is applied as one kernel transaction, so a failed apply leaves the
// previous one running; the failsafe rules (API port from ALLOWED_IPS, SSH
// from MGMT_CIDRS) are always at the top of the input chain; a ruleset sent
// with a confirm timeout rolls back unless confirmed; and the agent only
// ever applies the declarative IR (protocol version [agentapi.Version], IR
// version nft.IRVersion), never a script. This package does no kernel work
// itself and must not import controller code.
package agent
