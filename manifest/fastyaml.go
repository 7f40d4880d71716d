package manifest

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// decodeBlockYAML decodes doc, one YAML document, when it is written in the
// block style that kubectl, Helm and most tools write: block mappings with
// plain keys, block sequences (also at their key's indentation), plain,
// single- and double-quoted scalars on one line, literal block scalars
// (|, |-, |+), empty flow collections ({} and []) and comments. It returns
// the tree sigs.k8s.io/yaml's YAMLToJSON followed by Kubernetes' JSON
// decoding gives (maps, slices, strings, bool, int64, nil), with ok true.
//
// Anything outside that subset, or whose meaning it does not settle
// without doubt (a plain scalar that YAML 1.1 might read as a float, an
// octal or a timestamp, a key that is not a plain string, a duplicate key,
// anchors, tags, flow collections with content, folded or multi-line
// scalars, tabs, CR, invalid UTF-8, malformed input), gives ok false and
// the caller decodes the document with the general parser, which also
// reports the errors. The strings of the tree are slices of doc.
func decodeBlockYAML(doc string, box *ujson.Boxer) (v any, ok bool) {
	if !printable(doc) {
		return nil, false
	}
	p := &blockParser{unterminated: !strings.HasSuffix(doc, "\n"), box: box,
		lines: make([]string, 0, strings.Count(doc, "\n")+1)}
	for len(doc) > 0 {
		i := strings.IndexByte(doc, '\n')
		var l string
		if i < 0 {
			l, doc = doc, ""
		} else {
			l, doc = doc[:i], doc[i+1:]
		}
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...") {
			return nil, false // a document marker, maybe with content
		}
		p.lines = append(p.lines, l)
	}
	defer func() {
		if r := recover(); r != nil {
			if _, bail := r.(bailout); !bail {
				panic(r)
			}
			v, ok = nil, false
		}
	}()
	i, ind := p.skip()
	if i < 0 || ind != 0 {
		return nil, false
	}
	text := p.lines[i][ind:]
	if text[0] == '%' || strings.HasPrefix(text, "- ") || text == "-" {
		return nil, false
	}
	m := p.mapping(0)
	if p.i != len(p.lines) {
		if j, _ := p.skip(); j >= 0 {
			return nil, false // something left at a shallower indentation
		}
	}
	return m, true
}

// printable reports valid UTF-8 made only of characters YAML allows, but
// tab, CR and the byte order mark (left to the parser).
func printable(doc string) bool {
	ascii := true
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c < 0x20 && c != '\n' || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(doc) {
		return false
	}
	for _, r := range doc {
		if r >= 0x80 && r <= 0x9f || r == 0xfeff || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

// bailout is the panic value that ends decodeBlockYAML with ok false.
type bailout struct{}

func bail() { panic(bailout{}) }

// blockParser walks a document's lines.
type blockParser struct {
	lines []string
	i     int // the next line to read
	// unterminated: the last line has no line break.
	unterminated bool
	box          *ujson.Boxer
}

// skip moves past blank and comment lines and returns the index and
// indentation of the next line with content, or -1 at the end.
func (p *blockParser) skip() (int, int) {
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		ind := indentOf(l)
		if ind == len(l) || l[ind] == '#' {
			continue
		}
		return p.i, ind
	}
	return -1, 0
}

func indentOf(l string) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}

// node reads the value that starts on the next content line, which must be
// more indented than parent (or, for a sequence under a mapping key, at
// parent's indentation when seqAtParent). No such line: null.
func (p *blockParser) node(parent int, seqAtParent bool) any {
	i, ind := p.skip()
	if i < 0 || ind < parent || (ind == parent && !(seqAtParent && isSeqItem(p.lines[i][ind:]))) {
		return nil
	}
	text := p.lines[i][ind:]
	if isSeqItem(text) {
		return p.sequence(ind)
	}
	if ind == parent {
		bail()
	}
	if _, _, isKey := splitKey(text); isKey {
		return p.mapping(ind)
	}
	bail() // a scalar alone on its line (multi-line plain scalars are not handled)
	return nil
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// mapping reads the entries at indentation ind.
func (p *blockParser) mapping(ind int) map[string]any {
	m := map[string]any{}
	for {
		i, li := p.skip()
		if i < 0 || li < ind {
			return m
		}
		text := p.lines[i][li:]
		if li > ind {
			bail()
		}
		if isSeqItem(text) {
			return m // the caller's sequence, or an error the general parser reports
		}
		key, rest, isKey := splitKey(text)
		if !isKey {
			bail()
		}
		if _, dup := m[key]; dup {
			bail()
		}
		p.i++
		m[key] = p.value(rest, ind, true)
	}
}

// sequence reads the items at indentation ind.
func (p *blockParser) sequence(ind int) []any {
	out := []any{}
	for {
		i, li := p.skip()
		if i < 0 || li < ind {
			return out
		}
		text := p.lines[i][li:]
		if li > ind {
			bail()
		}
		if !isSeqItem(text) {
			return out
		}
		rest := strings.TrimLeft(text[1:], " ")
		if rest == "" || rest[0] == '#' {
			p.i++
			out = append(out, p.node(ind, false))
			continue
		}
		// "- key: v" or "- - x": a collection whose indentation is that of
		// its first entry, on this line.
		inner := li + (len(text) - len(rest))
		if _, _, isKey := splitKey(rest); isKey {
			p.lines[i] = strings.Repeat(" ", inner) + rest
			out = append(out, p.mapping(inner))
			continue
		}
		if isSeqItem(rest) {
			p.lines[i] = strings.Repeat(" ", inner) + rest
			out = append(out, p.sequence(inner))
			continue
		}
		p.i++
		out = append(out, p.value(rest, ind, false))
	}
}

// splitKey splits "key: rest" or "key:" with a plain key (YAML limits a
// key on one line to 1024 characters; longer ones are left to the parser).
func splitKey(text string) (key, rest string, ok bool) {
	if text == "" || strings.ContainsRune(`"'?&*!|>%@{}[]#,:`+"`", rune(text[0])) || isSeqItem(text) {
		return "", "", false // an indicator (a '-' before anything but a space starts a plain key)
	}
	i := strings.Index(text, ": ")
	switch {
	case i >= 0:
		key, rest = text[:i], strings.TrimLeft(text[i+2:], " ")
	case strings.HasSuffix(text, ":"):
		key = text[:len(text)-1]
	default:
		return "", "", false
	}
	if key == "" || len(key) > 1000 || strings.HasSuffix(key, " ") || strings.Contains(key, " #") || key == "<<" {
		return "", "", false
	}
	if _, isString := resolvePlain(key); !isString {
		return "", "", false
	}
	return key, rest, true
}

// value reads a value that starts with rest on the line just read (rest ""
// or a comment: on the next lines), in a collection at indentation ind.
func (p *blockParser) value(rest string, ind int, inMapping bool) any {
	if rest == "" || rest[0] == '#' {
		return p.node(ind, inMapping)
	}
	switch rest[0] {
	case '|':
		return p.box.String(p.literal(rest[1:], ind))
	case '"':
		s, after := doubleQuoted(rest)
		p.endOfLine(after)
		return p.box.String(s)
	case '\'':
		s, after := singleQuoted(rest)
		p.endOfLine(after)
		return p.box.String(s)
	case '{', '[':
		if len(rest) >= 2 && rest[1] == closing(rest[0]) {
			p.endOfLine(rest[2:])
			if rest[0] == '{' {
				return map[string]any{}
			}
			return []any{}
		}
		bail()
	}
	if strings.ContainsRune("&*!%@`>?,]}:", rune(rest[0])) || isSeqItem(rest) {
		bail()
	}
	s := rest
	if c := strings.Index(s, " #"); c >= 0 {
		s = s[:c]
	}
	s = strings.TrimRight(s, " ")
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
		bail()
	}
	// A continuation line would make a multi-line plain scalar.
	if i, li := p.skip(); i >= 0 && li > ind {
		bail()
	}
	v, _ := resolvePlain(s)
	return p.boxed(v)
}

// boxed returns v, a string or an int64 boxed by p.box.
func (p *blockParser) boxed(v any) any {
	switch v := v.(type) {
	case string:
		return p.box.String(v)
	case int64:
		return p.box.Int64(v)
	}
	return v
}

func closing(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// endOfLine checks that only spaces and a comment follow a quoted scalar or
// an empty collection.
func (p *blockParser) endOfLine(after string) {
	after = strings.TrimLeft(after, " ")
	if after != "" && after[0] != '#' {
		bail()
	}
}

// literal reads a literal block scalar's lines; header is what follows '|'.
func (p *blockParser) literal(header string, ind int) string {
	chomp := byte(0)
	if header != "" && (header[0] == '-' || header[0] == '+') {
		chomp, header = header[0], header[1:]
	}
	if h := strings.TrimLeft(header, " "); h != "" && (h[0] != '#' || h == header) {
		bail() // an indentation indicator, or anything else
	}
	// The block's indentation is that of its first non-blank line.
	blockInd := -1
	end := p.i
	for j := p.i; j < len(p.lines); j++ {
		l := p.lines[j]
		li := indentOf(l)
		if li == len(l) {
			if blockInd < 0 && li > ind+1 {
				bail() // leading blank lines longer than the block's indentation: rare, left to the parser
			}
			continue
		}
		if blockInd < 0 {
			if li <= ind {
				break
			}
			blockInd = li
		}
		if li < blockInd {
			break
		}
		end = j + 1
	}
	var b strings.Builder
	for j := p.i; j < end; j++ {
		l := p.lines[j]
		if len(l) > blockInd {
			b.WriteString(l[blockInd:])
		}
		b.WriteByte('\n')
	}
	// Trailing blank lines with more spaces than the block's indentation
	// would be content: rare, left to the parser.
	for j := end; j < len(p.lines) && indentOf(p.lines[j]) == len(p.lines[j]); j++ {
		if blockInd >= 0 && len(p.lines[j]) > blockInd {
			bail()
		}
	}
	if end == len(p.lines) && p.unterminated {
		bail() // the last line break is not there to clip
	}
	p.i = end
	s := b.String()
	switch chomp {
	case '-':
		return strings.TrimRight(s, "\n")
	case '+':
		bail() // keep: rare, left to the parser
	}
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return s + "\n"
}

// doubleQuoted reads a double-quoted scalar that ends on its line; it
// returns the string and what follows the closing quote.
func doubleQuoted(s string) (string, string) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return s[1:i], s[i+1:]
		case '\\':
			return unescape(s)
		}
	}
	bail() // not closed on its line
	return "", ""
}

// unescape is doubleQuoted for a scalar with escapes.
func unescape(s string) (string, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return b.String(), s[i+1:]
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i++; i >= len(s) {
			bail()
		}
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+4 >= len(s) {
				bail()
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil || (r >= 0xD800 && r <= 0xDFFF) {
				bail()
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			bail()
		}
	}
	bail()
	return "", ""
}

// singleQuoted reads a single-quoted scalar that ends on its line.
func singleQuoted(s string) (string, string) {
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			bail() // an escaped quote: rare, left to the parser
		}
		return s[1:i], s[i+1:]
	}
	bail()
	return "", ""
}

// resolvePlain gives a plain scalar's value as YAML 1.1 (go-yaml v2, which
// sigs.k8s.io/yaml uses) reads it, then Kubernetes' JSON decoding: null,
// bool, int64 or string; isString reports a string. Scalars it would read
// otherwise, or that it cannot settle here (floats, octal and other
// integer forms, infinities, merge keys), bail out.
func resolvePlain(s string) (v any, isString bool) {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil, false
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true, false
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false, false
	case "<<", "=":
		bail()
	}
	c := s[0]
	if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.') {
		return s, true
	}
	if isDecimal(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, false
		}
		bail() // beyond int64
	}
	// go-yaml tries a timestamp, then an integer in any base (with '_'),
	// an unsigned one, a float, a binary number, .inf and .nan; what none
	// of them reads is a string.
	if numericLike(s) {
		bail()
	}
	return s, true
}

// yamlFloat is go-yaml v2's float syntax.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// numericLike reports whether go-yaml v2 might read the plain scalar s
// (which starts with a digit, a sign or a dot) as anything but a string: a
// timestamp candidate (four digits and '-'), an integer in Go's base-0
// syntax once '_' are removed, a float, infinity or NaN.
func numericLike(s string) bool {
	if len(s) > 4 && s[4] == '-' && isDigits(s[:4]) {
		return true
	}
	p := strings.ReplaceAll(s, "_", "")
	if yamlFloat.MatchString(p) {
		return true
	}
	switch strings.ToLower(strings.TrimLeft(p, "+-")) {
	case ".inf", ".nan":
		return true
	}
	p = strings.TrimLeft(p, "+-")
	if len(p) > 2 && p[0] == '0' {
		digits := ""
		switch p[1] {
		case 'x', 'X':
			digits = "0123456789abcdefABCDEF"
		case 'o', 'O':
			digits = "01234567"
		case 'b', 'B':
			digits = "01"
		}
		if digits != "" && strings.Trim(p[2:], digits) == "" {
			return true
		}
	}
	return isDigits(p)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isDecimal matches -?(0|[1-9][0-9]*).
func isDecimal(s string) bool {
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
