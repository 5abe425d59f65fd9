// Package e2e holds the end-to-end tests of fwgit: each scenario builds a
// fresh lab with package [github.com/fwgit/fwgit/e2e/lab] (a namespace per
// firewall of examples/repo with a real fwgit-agent on real nftables, a
// controller following a local Git repository) and asserts with real
// packets and with the controller's /v1/status.
//
// The tests carry the netns build tag, like every kernel test, and skip
// themselves without CAP_NET_ADMIN, the ip and nft commands, or in -short
// mode. `make test-e2e` runs them alone; `make test` runs them with the
// rest. They build the two binaries once per run, run them as processes,
// and print the processes' logs when a scenario fails. An interrupted run
// removes its namespaces; a run that was killed has its leftovers removed
// by the next one.
package e2e
