package fwrule

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
	"sync"
)

// The grammar of spec/fwrule.md §2, written with the same nonterminals and
// productions as upstream's jison grammar so that the LALR(1) automaton built
// from it has the same states and lookahead sets. That matters for errors:
// which token a syntax error is reported at, whether a value check runs
// before a syntax error (a reduction needs a valid lookahead first), and the
// "expected" list all follow from the LALR(1) table.

// Nonterminals are numbered after the terminals.
const (
	nAccept = int(numTerms) + iota
	nStart
	nTargetList
	nAction
	nProtocol
	nPrioLevel
	nAny
	nAll
	nTargetOrList
	nTarget
	nIPv4
	nIPv4Subnet
	nIPv6
	nIPv6Subnet
	nTag
	nVM
	nUUID
	nTagString
	nPortList
	nPorts
	nTypeList
	nPortAndList
	nPort
	nPortAll
	nPortNumber
	nPortNumbers
	nPortRange
	nTypeAndList
	nType
	nTypeAll
	nICMPType
	nICMPCode
	numSyms
)

// prodID names the productions whose semantic actions do something.
type prodID int

const (
	pAccept prodID = iota
	pRule
	pRulePrio
	pPrioLevel
	pTLAny
	pTLAll
	pTLParen
	pTLTarget
	pOrFirst
	pOrNext
	pTIPv4
	pTIPv4Sub
	pTIPv6
	pTIPv6Sub
	pTTag
	pTVM
	pAllVMs
	pAllVMsParen
	pAnyBare
	pAnyParen
	pIPv4
	pIPv4Sub
	pIPv6
	pIPv6Sub
	pVM
	pUUID
	pTag
	pTagValue
	pTagString
	pTagWord
	pBlock
	pAllow
	pTCPList
	pTCPPorts
	pUDPList
	pUDPPorts
	pICMP
	pICMP6
	pAH
	pESP
	pPLParen
	pPLPort
	pPLAllParen
	pPLAll
	pAndFirst
	pAndNext
	pPort
	pPorts
	pPortAll
	pPortNumber
	pRangeWord
	pRangeDash
	pNumsFirst
	pNumsNext
	pTyLParen
	pTyLType
	pTyLAllParen
	pTyLAll
	pTyAndFirst
	pTyAndNext
	pTypeCode
	pType
	pTypeAll
	pICMPType
	pICMPCode
	numProds
)

type production struct {
	lhs int
	rhs []int
}

func t(x term) int { return int(x) }

// productions is indexed by prodID.
var productions = [numProds]production{
	pAccept:      {nAccept, []int{nStart}},
	pRule:        {nStart, []int{t(tFROM), nTargetList, t(tTO), nTargetList, nAction, nProtocol, t(tEOF)}},
	pRulePrio:    {nStart, []int{t(tFROM), nTargetList, t(tTO), nTargetList, nAction, nProtocol, t(tPRIORITY), nPrioLevel, t(tEOF)}},
	pPrioLevel:   {nPrioLevel, []int{t(tWORD)}},
	pTLAny:       {nTargetList, []int{nAny}},
	pTLAll:       {nTargetList, []int{nAll}},
	pTLParen:     {nTargetList, []int{t(tLParen), nTargetOrList, t(tRParen)}},
	pTLTarget:    {nTargetList, []int{nTarget}},
	pOrFirst:     {nTargetOrList, []int{nTarget}},
	pOrNext:      {nTargetOrList, []int{nTargetOrList, t(tOR), nTarget}},
	pTIPv4:       {nTarget, []int{nIPv4}},
	pTIPv4Sub:    {nTarget, []int{nIPv4Subnet}},
	pTIPv6:       {nTarget, []int{nIPv6}},
	pTIPv6Sub:    {nTarget, []int{nIPv6Subnet}},
	pTTag:        {nTarget, []int{nTag}},
	pTVM:         {nTarget, []int{nVM}},
	pAllVMs:      {nAll, []int{t(tALL), t(tVMS)}},
	pAllVMsParen: {nAll, []int{t(tLParen), t(tALL), t(tVMS), t(tRParen)}},
	pAnyBare:     {nAny, []int{t(tANY)}},
	pAnyParen:    {nAny, []int{t(tLParen), t(tANY), t(tRParen)}},
	pIPv4:        {nIPv4, []int{t(tIP), t(tIPV4ADDR)}},
	pIPv4Sub:     {nIPv4Subnet, []int{t(tSUBNET), t(tIPV4ADDR), t(tCIDRSUFFIX)}},
	pIPv6:        {nIPv6, []int{t(tIP), t(tIPV6ADDR)}},
	pIPv6Sub:     {nIPv6Subnet, []int{t(tSUBNET), t(tIPV6ADDR), t(tCIDRSUFFIX)}},
	pVM:          {nVM, []int{t(tVM), nUUID}},
	pUUID:        {nUUID, []int{t(tWORD)}},
	pTag:         {nTag, []int{t(tTAG), nTagString}},
	pTagValue:    {nTag, []int{t(tTAG), nTagString, t(tEq), nTagString}},
	pTagString:   {nTagString, []int{t(tSTRING)}},
	pTagWord:     {nTagString, []int{t(tWORD)}},
	pBlock:       {nAction, []int{t(tBLOCK)}},
	pAllow:       {nAction, []int{t(tALLOW)}},
	pTCPList:     {nProtocol, []int{t(tTCP), nPortList}},
	pTCPPorts:    {nProtocol, []int{t(tTCP), nPorts}},
	pUDPList:     {nProtocol, []int{t(tUDP), nPortList}},
	pUDPPorts:    {nProtocol, []int{t(tUDP), nPorts}},
	pICMP:        {nProtocol, []int{t(tICMP), nTypeList}},
	pICMP6:       {nProtocol, []int{t(tICMP6), nTypeList}},
	pAH:          {nProtocol, []int{t(tAH)}},
	pESP:         {nProtocol, []int{t(tESP)}},
	pPLParen:     {nPortList, []int{t(tLParen), nPortAndList, t(tRParen)}},
	pPLPort:      {nPortList, []int{nPort}},
	pPLAllParen:  {nPortList, []int{t(tLParen), nPortAll, t(tRParen)}},
	pPLAll:       {nPortList, []int{nPortAll}},
	pAndFirst:    {nPortAndList, []int{nPort}},
	pAndNext:     {nPortAndList, []int{nPortAndList, t(tAND), nPort}},
	pPort:        {nPort, []int{t(tPORT), nPortNumber}},
	pPorts:       {nPorts, []int{t(tPORTS), nPortNumbers}},
	pPortAll:     {nPortAll, []int{t(tPORT), t(tALL)}},
	pPortNumber:  {nPortNumber, []int{t(tWORD)}},
	pRangeWord:   {nPortRange, []int{t(tWORD)}},
	pRangeDash:   {nPortRange, []int{t(tWORD), t(tDash), t(tWORD)}},
	pNumsFirst:   {nPortNumbers, []int{nPortRange}},
	pNumsNext:    {nPortNumbers, []int{nPortNumbers, t(tComma), nPortRange}},
	pTyLParen:    {nTypeList, []int{t(tLParen), nTypeAndList, t(tRParen)}},
	pTyLType:     {nTypeList, []int{nType}},
	pTyLAllParen: {nTypeList, []int{t(tLParen), nTypeAll, t(tRParen)}},
	pTyLAll:      {nTypeList, []int{nTypeAll}},
	pTyAndFirst:  {nTypeAndList, []int{nType}},
	pTyAndNext:   {nTypeAndList, []int{nTypeAndList, t(tAND), nType}},
	pTypeCode:    {nType, []int{t(tTYPE), nICMPType, t(tCODE), nICMPCode}},
	pType:        {nType, []int{t(tTYPE), nICMPType}},
	pTypeAll:     {nTypeAll, []int{t(tTYPE), t(tALL)}},
	pICMPType:    {nICMPType, []int{t(tWORD)}},
	pICMPCode:    {nICMPCode, []int{t(tWORD)}},
}

// Action encoding in the parse table: 0 is an error, a positive value v
// shifts to state v-1, a negative value -p-1 reduces production p.
type lrTable struct {
	action   [][numTerms]int16
	gotos    [][numSyms]int16
	defaults []int16 // reduce without a lookahead (jison's defaultActions); 0 = none
}

var (
	tableOnce sync.Once
	table     *lrTable
	tableErr  error
)

func getTable() (*lrTable, error) {
	tableOnce.Do(func() { table, tableErr = buildLALR() })
	return table, tableErr
}

type item struct{ prod, dot int }

// buildLALR builds the LALR(1) automaton: the LR(0) item sets, then the
// lookaheads by propagation to a fixed point, then the action table.
func buildLALR() (*lrTable, error) {
	prodsOf := make([][]int, numSyms)
	for p, pr := range productions {
		prodsOf[pr.lhs] = append(prodsOf[pr.lhs], p)
	}
	// FIRST sets; the grammar has no empty productions.
	first := make([]uint64, numSyms)
	for x := 0; x < int(numTerms); x++ {
		first[x] = 1 << x
	}
	for changed := true; changed; {
		changed = false
		for _, pr := range productions {
			f := first[pr.lhs] | first[pr.rhs[0]]
			if f != first[pr.lhs] {
				first[pr.lhs], changed = f, true
			}
		}
	}
	isNT := func(x int) bool { return x >= int(numTerms) }

	// LR(0) automaton.
	closure0 := func(kernel []item) []item {
		seen := map[item]bool{}
		out := append([]item(nil), kernel...)
		for _, it := range kernel {
			seen[it] = true
		}
		for i := 0; i < len(out); i++ {
			rhs := productions[out[i].prod].rhs
			if out[i].dot < len(rhs) && isNT(rhs[out[i].dot]) {
				for _, p := range prodsOf[rhs[out[i].dot]] {
					if it := (item{p, 0}); !seen[it] {
						seen[it] = true
						out = append(out, it)
					}
				}
			}
		}
		return out
	}
	key := func(k []item) string {
		var b strings.Builder
		for _, it := range k {
			fmt.Fprintf(&b, "%d.%d;", it.prod, it.dot)
		}
		return b.String()
	}
	var kernels [][]item
	var trans []map[int]int
	index := map[string]int{}
	addState := func(k []item) int {
		sort.Slice(k, func(i, j int) bool {
			if k[i].prod != k[j].prod {
				return k[i].prod < k[j].prod
			}
			return k[i].dot < k[j].dot
		})
		ks := key(k)
		if s, ok := index[ks]; ok {
			return s
		}
		index[ks] = len(kernels)
		kernels = append(kernels, k)
		trans = append(trans, map[int]int{})
		return len(kernels) - 1
	}
	addState([]item{{int(pAccept), 0}})
	for s := 0; s < len(kernels); s++ {
		cl := closure0(kernels[s])
		next := map[int][]item{}
		var order []int
		for _, it := range cl {
			rhs := productions[it.prod].rhs
			if it.dot < len(rhs) {
				x := rhs[it.dot]
				if _, ok := next[x]; !ok {
					order = append(order, x)
				}
				next[x] = append(next[x], item{it.prod, it.dot + 1})
			}
		}
		for _, x := range order {
			trans[s][x] = addState(next[x])
		}
	}

	// Lookaheads of kernel items, propagated to a fixed point.
	la := make([]map[item]uint64, len(kernels))
	for s := range la {
		la[s] = map[item]uint64{}
	}
	la[0][item{int(pAccept), 0}] = 1 << tEnd
	closure1 := func(s int) map[item]uint64 {
		out := map[item]uint64{}
		var work []item
		for _, it := range kernels[s] {
			out[it] = la[s][it]
			work = append(work, it)
		}
		for len(work) > 0 {
			it := work[len(work)-1]
			work = work[:len(work)-1]
			rhs := productions[it.prod].rhs
			if it.dot >= len(rhs) || !isNT(rhs[it.dot]) {
				continue
			}
			f := out[it]
			if it.dot+1 < len(rhs) {
				f = first[rhs[it.dot+1]]
			}
			for _, p := range prodsOf[rhs[it.dot]] {
				ni := item{p, 0}
				old, ok := out[ni]
				if !ok || old|f != old {
					out[ni] = old | f
					work = append(work, ni)
				}
			}
		}
		return out
	}
	for changed := true; changed; {
		changed = false
		for s := range kernels {
			for it, l := range closure1(s) {
				rhs := productions[it.prod].rhs
				if it.dot >= len(rhs) {
					continue
				}
				to := trans[s][rhs[it.dot]]
				ni := item{it.prod, it.dot + 1}
				if old := la[to][ni]; old|l != old {
					la[to][ni] = old | l
					changed = true
				}
			}
		}
	}

	tb := &lrTable{
		action:   make([][numTerms]int16, len(kernels)),
		gotos:    make([][numSyms]int16, len(kernels)),
		defaults: make([]int16, len(kernels)),
	}
	for s := range kernels {
		for x, to := range trans[s] {
			if isNT(x) {
				tb.gotos[s][x] = int16(to + 1)
			} else {
				tb.action[s][x] = int16(to + 1)
			}
		}
		for it, l := range closure1(s) {
			if it.dot != len(productions[it.prod].rhs) {
				continue
			}
			for l != 0 {
				x := bits.TrailingZeros64(l)
				l &^= 1 << x
				if tb.action[s][x] != 0 {
					return nil, fmt.Errorf("fwrule grammar: conflict in state %d on %s", s, termNames[x])
				}
				tb.action[s][x] = int16(-it.prod - 1)
			}
		}
		// jison reduces without reading a lookahead when a state's only
		// entry (actions and gotos together) is a reduction.
		n, last := 0, int16(0)
		for _, a := range tb.action[s] {
			if a != 0 {
				n++
				last = a
			}
		}
		for _, g := range tb.gotos[s] {
			if g != 0 {
				n++
			}
		}
		if n == 1 && last < 0 {
			tb.defaults[s] = last
		}
	}
	return tb, nil
}
