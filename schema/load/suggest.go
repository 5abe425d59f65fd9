package load

import "strings"

// suggest returns the option closest to s by edit distance, ignoring case,
// when it is close enough to be a likely typo; otherwise "".
func suggest(s string, options []string) string {
	best, bestDist := "", -1
	ls := strings.ToLower(s)
	for _, o := range options {
		d := editDistance(ls, strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	limit := max(1, min(3, len(s)/3))
	if bestDist < 0 || bestDist > limit || best == s {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and transpositions of
// neighbours each count one, so "nmae" is one edit from "name".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
