// Command fwgit-agent runs on every firewall: it serves the agent API over
// HTTPS and applies rulesets to its own nftables table.
package main

import (
	"fmt"
	"os"
)

func main() { os.Exit(run()) }

func run() int {
	fmt.Fprintln(os.Stderr, "fwgit-agent: not implemented yet")
	return 1
}
