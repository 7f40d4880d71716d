package cli

import (
	"slices"
	"strconv"
	"strings"
)

// maxSuggestions is how many names closestNames returns at most.
const maxSuggestions = 3

// closestNames returns the names of known closest to name by edit distance
// (Levenshtein, on runes), nearest first and alphabetically among equals, at
// most maxSuggestions of them, nil when none is near. Near means at most a
// third as many edits as the last segment of name has runes (what follows
// its last "/", as in velero.io/pod), and at least 2. known may hold
// duplicates. An exact match is returned too, so callers ask only about
// unknown names.
func closestNames(name string, known []string) []string {
	limit := max(2, len([]rune(name[strings.LastIndexByte(name, '/')+1:]))/3)
	type scored struct {
		name string
		dist int
	}
	var near []scored
	for _, k := range known {
		if d := editDistance(name, k); d <= limit && !slices.ContainsFunc(near, func(s scored) bool { return s.name == k }) {
			near = append(near, scored{k, d})
		}
	}
	slices.SortFunc(near, func(a, b scored) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, s := range near[:min(len(near), maxSuggestions)] {
		out = append(out, s.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b: the fewest
// rune insertions, deletions and substitutions that turn a into b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// didYouMean formats suggestions for an error or log message: ` (closest
// known: "a", "b")`, or "" when there are none.
func didYouMean(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	q := make([]string, len(suggestions))
	for i, s := range suggestions {
		q[i] = strconv.Quote(s)
	}
	return " (closest known: " + strings.Join(q, ", ") + ")"
}
