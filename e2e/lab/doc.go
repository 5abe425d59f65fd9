// Package lab builds a complete fwgit installation in network namespaces:
// one namespace per firewall of a policy repository, each running a real
// fwgit-agent on real nftables, a namespace for the controller holding the
// repository's controller addresses, an "internet" namespace, all joined
// by a bridge in a "lab" namespace, a local bare Git repository holding
// the policy, and a real `fwgit controller` following it. The end-to-end
// tests (package e2e) and `make demo` (hack/demo) drive it.
//
// The lab only ever touches what it creates: namespaces whose names start
// with its own prefix, processes it started (tracked by PID), its working
// directory and, when asked, one veth pair between the host and the lab
// carrying 198.18.0.0/15 addresses only. Every address lives in
// 198.18.0.0/15 and fd00::/8. Close removes all of it; [Down] does the same
// from the state file for a lab left running by an earlier process.
//
// lab is test infrastructure: it runs binaries and shells out to ip, nft
// and git, and is imported by no production package.
package lab
