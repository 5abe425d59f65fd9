// Package controller wires the fwgit controller together and owns its
// goroutines. Policy flows one way:
//
//	source ──snapshot──▶ load ──▶ model ──▶ compile ──▶ Policy (last good)
//	(Git / dir)           schema/load  controller/model  controller/compile
//	                                                          │ enqueue every firewall name
//	                                                          ▼
//	status ◀── reconcile.Firewall ◀── reconcile.Loop (keyed queue, backoff, resync)
//	(bbolt)      │ observe / apply / confirm / verify
//	  │          ▼
//	  │        fleet (HTTPS, pinned) ──▶ agents
//	  ▼
//	api: /v1/status, /v1/firewalls/{name}, /v1/revision, /hooks/git, /metrics,
//	     /healthz, /readyz, plus mounted endpoint sets (FWAPI, console)
//
// A new snapshot is loaded, validated and compiled; a revision with errors
// (or a refused signature) never replaces the last good [api.Policy]: it is
// recorded with its diagnostics and every firewall is re-enqueued so its
// status shows Stalled/InvalidRevision while the last good ruleset keeps
// serving. A valid revision is compiled incrementally against the previous
// one and every firewall name is enqueued; the reconciler does the rest,
// level-triggered, one worker per firewall at a time.
//
// [Controller.Run] owns and joins every goroutine (errgroup) and stops when
// its context is cancelled. The controller does not parse flags or read the
// environment (cmd/fwgit does), and it never imports agent packages. Pull
// mode and enrollment plug in through [Deps.AgentHandler] on the
// agent-facing listener; the FWAPI read endpoints through [Deps.Mounts].
package controller
