// Command bench is `make bench`: it runs the project's benchmarks that
// carry a goal (the rule parser, validate and compile on the generated
// 1,000-firewall repository, the planner, the agent's apply against
// `nft -f` side by side, the agent's re-apply and memory, the controller's
// convergence with 200 agents and its memory with 1,000 firewalls, the web
// console), prints one table of figure, goal and pass or fail, and writes
// it with the machine it ran on to BENCHMARKS.md.
//
//	go run ./hack/bench [-out BENCHMARKS.md]
//
// Each benchmark package is compiled once into a temporary directory and
// run with a fixed iteration count, so the whole run takes a few minutes.
// The kernel benchmarks (apply against nft, the agent's memory) need root
// and are reported as skipped without it. bench only measures; it fails
// (exit 1) when a benchmark cannot run, not when a goal is missed.
package main
