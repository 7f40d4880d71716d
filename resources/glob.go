package resources

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// glob is a compiled pattern in the syntax Velero's include/exclude lists
// accept (github.com/gobwas/glob without separators): "*" matches any run of
// characters, dots and slashes included; "?" one character; "[abc]", "[a-z]"
// and "[!abc]" a character class; "{a,b}" one of the alternatives (which may
// hold patterns themselves); "\" escapes the next character.
type glob struct {
	// alts are the brace-free patterns the pattern expands to; the glob
	// matches when any of them does.
	alts []string
	// literal is set when the pattern has no special character at all.
	literal bool
	pattern string
}

var errBadPattern = errors.New("malformed pattern")

// compileGlob parses pattern. A malformed pattern (an unclosed "[" or "{", a
// trailing "\") is an error naming it.
func compileGlob(pattern string) (glob, error) {
	if !strings.ContainsAny(pattern, `*?[]{}\`) {
		return glob{literal: true, pattern: pattern}, nil
	}
	alts, err := expandBraces(pattern)
	if err != nil {
		return glob{}, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	for _, a := range alts {
		// Validate classes and escapes once, so match never meets a
		// malformed pattern.
		if err := validateRest(a); err != nil {
			return glob{}, fmt.Errorf("pattern %q: %w", pattern, err)
		}
	}
	return glob{alts: alts, pattern: pattern}, nil
}

// match reports whether s matches the pattern.
func (g glob) match(s string) bool {
	if g.literal {
		return s == g.pattern
	}
	for _, a := range g.alts {
		if matchSimple(a, s) {
			return true
		}
	}
	return false
}

// expandBraces expands the first top-level "{…}" of p, recursively, into the
// list of brace-free patterns it stands for.
func expandBraces(p string) ([]string, error) {
	open := -1
	depth := 0
	var commas []int
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
			if i >= len(p) {
				return nil, fmt.Errorf("%w: trailing \\", errBadPattern)
			}
		case '[':
			end := classEnd(p, i)
			if end < 0 {
				return nil, fmt.Errorf("%w: unclosed [", errBadPattern)
			}
			i = end
		case '{':
			if depth == 0 {
				open = i
				commas = commas[:0]
			}
			depth++
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		case '}':
			if depth == 0 {
				return nil, fmt.Errorf("%w: } without {", errBadPattern)
			}
			depth--
			if depth > 0 {
				continue
			}
			prefix, suffix := p[:open], p[i+1:]
			var out []string
			start := open + 1
			for _, c := range append(commas, i) {
				rest, err := expandBraces(prefix + p[start:c] + suffix)
				if err != nil {
					return nil, err
				}
				out = append(out, rest...)
				start = c + 1
			}
			return out, nil
		}
	}
	if depth > 0 {
		return nil, fmt.Errorf("%w: unclosed {", errBadPattern)
	}
	return []string{p}, nil
}

// classEnd returns the index of the "]" closing the class that opens at
// p[i], or -1.
func classEnd(p string, i int) int {
	j := i + 1
	if j < len(p) && p[j] == '!' {
		j++
	}
	if j < len(p) && p[j] == ']' { // a leading "]" is a member
		j++
	}
	for ; j < len(p); j++ {
		switch p[j] {
		case '\\':
			j++
		case ']':
			return j
		}
	}
	return -1
}

// matchSimple matches s against a valid brace-free pattern, backtracking
// over the last "*" only (enough, since "*" matches any run).
func matchSimple(p, s string) bool {
	var starP, starS = -1, 0
	pi, si := 0, 0
	for {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				starP, starS = pi, si
				continue
			case '?':
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					pi++
					si += n
					continue
				}
			case '[':
				end := classEnd(p, pi)
				if si < len(s) {
					r, n := utf8.DecodeRuneInString(s[si:])
					if ok, _ := inClass(p[pi+1:end], r); ok {
						pi = end + 1
						si += n
						continue
					}
				}
			case '\\':
				r, n := utf8.DecodeRuneInString(p[pi+1:])
				if si < len(s) && strings.HasPrefix(s[si:], string(r)) {
					pi += 1 + n
					si += n
					continue
				}
			default:
				r, n := utf8.DecodeRuneInString(p[pi:])
				if si < len(s) && strings.HasPrefix(s[si:], string(r)) {
					pi += n
					si += n
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last "*" swallow one more character.
		if starP < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP, starS
	}
}

// validateRest reports a malformed class or escape in a brace-free pattern.
func validateRest(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 >= len(p) {
				return fmt.Errorf("%w: trailing \\", errBadPattern)
			}
			i++
		case '[':
			end := classEnd(p, i)
			if end < 0 {
				return fmt.Errorf("%w: unclosed [", errBadPattern)
			}
			if _, err := inClass(p[i+1:end], 0); err != nil {
				return err
			}
			i = end
		}
	}
	return nil
}

// inClass reports whether r is in the class body (without the brackets).
func inClass(body string, r rune) (bool, error) {
	negate := strings.HasPrefix(body, "!")
	if negate {
		body = body[1:]
	}
	if body == "" {
		return false, fmt.Errorf("%w: empty character class", errBadPattern)
	}
	matched := false
	for body != "" {
		lo, n := classRune(body)
		body = body[n:]
		hi := lo
		if len(body) >= 2 && body[0] == '-' {
			var m int
			hi, m = classRune(body[1:])
			body = body[1+m:]
			if hi < lo {
				return false, fmt.Errorf("%w: character range %c-%c is reversed", errBadPattern, lo, hi)
			}
		}
		if lo <= r && r <= hi {
			matched = true
		}
	}
	return matched != negate, nil
}

// classRune decodes one (possibly escaped) rune of a class body.
func classRune(s string) (rune, int) {
	if s[0] == '\\' && len(s) > 1 {
		r, n := utf8.DecodeRuneInString(s[1:])
		return r, 1 + n
	}
	return utf8.DecodeRuneInString(s)
}
