package resources

import "fmt"

// IncludesExcludes is Velero's include/exclude list (pkg/util/collections):
// a string is included when it matches no exclude and the includes are empty,
// contain "*", or have a pattern it matches. Excludes win over includes.
// Entries are glob patterns as Velero's (gobwas/glob syntax: "*", "?",
// "[a-z]", "[!a]", "{a,b}", "\" escapes; "*" crosses dots), so "*" in the
// excludes excludes everything.
//
// Velero lets a malformed pattern hide every pattern sorted after it in the
// same list; here a malformed pattern matches nothing and the others still
// apply. Compile reports it as an error instead.
type IncludesExcludes struct {
	Includes []string
	Excludes []string
}

// ShouldInclude reports whether s is included.
func (ie IncludesExcludes) ShouldInclude(s string) bool {
	for _, p := range ie.Excludes {
		if g, err := compileGlob(p); err == nil && g.match(s) {
			return false
		}
	}
	if len(ie.Includes) == 0 {
		return true
	}
	for _, p := range ie.Includes {
		if p == "*" {
			return true
		}
		if g, err := compileGlob(p); err == nil && g.match(s) {
			return true
		}
	}
	return false
}

// IncludeEverything reports whether nothing is excluded and the includes are
// empty or exactly ["*"], as Velero's IncludeEverything does.
func (ie IncludesExcludes) IncludeEverything() bool {
	return len(ie.Excludes) == 0 && (len(ie.Includes) == 0 || allStar(ie.Includes))
}

// allStar reports whether every entry is "*" (Velero keeps its lists as sets,
// so ["*", "*"] is ["*"]).
func allStar(list []string) bool {
	for _, s := range list {
		if s != "*" {
			return false
		}
	}
	return true
}

// Compile parses every pattern once and returns a matcher that behaves as
// ShouldInclude without re-parsing. A malformed pattern is an error naming it.
func (ie IncludesExcludes) Compile() (*CompiledIncludesExcludes, error) {
	c := &CompiledIncludesExcludes{everything: ie.IncludeEverything()}
	for _, p := range ie.Includes {
		if p == "*" {
			c.anyInclude = true
			continue
		}
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("includes: %w", err)
		}
		c.includes = append(c.includes, g)
	}
	c.noIncludes = len(ie.Includes) == 0
	for _, p := range ie.Excludes {
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("excludes: %w", err)
		}
		c.excludes = append(c.excludes, g)
	}
	return c, nil
}

// CompiledIncludesExcludes is an IncludesExcludes with its patterns parsed.
// It is immutable and safe for concurrent use.
type CompiledIncludesExcludes struct {
	includes, excludes     []glob
	noIncludes, anyInclude bool
	everything             bool
}

// ShouldInclude reports whether s is included, as IncludesExcludes does.
func (c *CompiledIncludesExcludes) ShouldInclude(s string) bool {
	for _, g := range c.excludes {
		if g.match(s) {
			return false
		}
	}
	if c.noIncludes || c.anyInclude {
		return true
	}
	for _, g := range c.includes {
		if g.match(s) {
			return true
		}
	}
	return false
}

// IncludeEverything reports what IncludesExcludes.IncludeEverything reports.
func (c *CompiledIncludesExcludes) IncludeEverything() bool { return c.everything }
