// Command demo is `make demo`: it builds a lab of network namespaces from
// examples/repo with package e2e/lab (a namespace and a real fwgit-agent
// per firewall, a controller following a local bare Git repository, a
// veth from the host to the lab carrying 198.18.0.0/15 addresses only),
// then walks through convergence, real traffic allowed and dropped, a
// change with its plan, a broken commit that is refused, and its fix. It
// leaves the lab running and prints how to explore it.
//
//	demo up   [-bin DIR] [-dir DIR] [-policy DIR]
//	demo down [-dir DIR]
//
// `make demo-down` (demo down) stops the processes, deletes the
// namespaces and the host link, and removes the directory. Interrupting
// `demo up` does the same. Run as root.
package main
