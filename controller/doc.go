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
//	api: /v1/status, /v1/firewalls/{name}, /v1/revision, /v1/trace, /hooks/git,
//	     /metrics, /healthz, /readyz, the FWAPI read endpoints (controller/fwapi)
//	     and, in front of them with its own login, the console (controller/ui)
//	pull: pullserver on the agent-facing listener: enrollment (controller/ca,
//	     controller/enroll) and long-polls from agents behind NAT
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
// environment (cmd/fwgit does), and it never imports agent packages. The
// FWAPI endpoints, the console and pull mode are built in; [Deps.Mounts]
// and [Deps.AgentHandler] let tests and embedders add or replace handlers.
package controller
