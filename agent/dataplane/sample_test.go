package dataplane

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/agent/dataplane/dataplanetest"
)

// Short names for the test rulesets.
var (
	sampleRuleset   = dataplanetest.Sample
	manyRules       = dataplanetest.ManyRules
	manyCIDRs       = dataplanetest.ManyCIDRs
	realisticPolicy = dataplanetest.Realistic
)

// cmpIR compares IR values, whose prefixes have unexported fields.
var cmpIR = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
