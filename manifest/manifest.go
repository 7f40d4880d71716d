// Package manifest reads Kubernetes objects from the files users hand over:
// multi-document YAML, JSON (one object, several concatenated objects, or an
// array), and `kind: List` (or any `*List` kind with items) as
// `kubectl get -o yaml|json` prints it, from files, directories or stdin.
//
// Every error names the source (the file, or "<stdin>") and the document
// that failed, counted from 1, with the line of the file it starts on (YAML);
// a YAML parser's line is a line of the file too. A user can find the broken
// object in a directory of hundreds of files.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// Stdin is the path that names standard input in Load and LoadFrom.
const Stdin = "-"

// StdinSource is the source name errors use for standard input.
const StdinSource = "<stdin>"

// ErrNoManifests reports a directory that holds no manifest file.
var ErrNoManifests = errors.New("no manifest files (.yaml, .yml, .json)")

// Error is a problem with one document of one source. Doc is 0 when the
// problem is not tied to a document (a read error, say).
type Error struct {
	Source string // the file name, or StdinSource
	Doc    int    // 1-based number of the document in the source, 0 if none
	Line   int    // 1-based line of the source where the document starts (YAML only), 0 if unknown
	Item   int    // 0-based index in a List's items, -1 if not in a List
	Err    error
}

// Error implements error: "shop.yaml: document 3 (line 57): items[2]: object has no kind".
func (e *Error) Error() string { return e.Where() + ": " + e.Err.Error() }

// Where is Error without the underlying error: the source, the document and
// its line, and the list item, as in "shop.yaml: document 3 (line 57): items[2]".
func (e *Error) Where() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Doc > 0 {
		fmt.Fprintf(&b, ": document %d", e.Doc)
		if e.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", e.Line)
		}
	}
	if e.Item >= 0 {
		fmt.Fprintf(&b, ": items[%d]", e.Item)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Decode reads every object in r. source names r in errors. Documents that
// are empty or hold only comments are skipped; a document that is not an
// object, or an object without apiVersion or kind, is an error. A list
// (kind "List" or any kind ending in "List" that has an "items" array) is
// replaced by its items, each of which must be a full object. The objects
// come back in input order; numbers are int64 where integral, as
// Kubernetes' own decoders give them.
func Decode(r io.Reader, source string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	err := eachDocument(r, source, func(v any, doc, line int) error {
		objs, err := fromValue(v, source, doc, line)
		out = append(out, objs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Documents calls f with each document of r that is not empty, decoded as
// Decode decodes it (maps, slices, strings, bool, int64 where integral,
// float64) but not required to be an object: for YAML or JSON files that
// hold something other than Kubernetes objects. doc is the document's number
// (from 1) and line the line of r it starts on (0 for JSON); together they
// make an Error's Where. Malformed input gives an *Error; f's errors are
// returned as they are, and stop the reading.
func Documents(r io.Reader, source string, f func(v any, doc, line int) error) error {
	return eachDocument(r, source, func(v any, doc, line int) error {
		if v == nil {
			return nil // an empty or comment-only document
		}
		return f(v, doc, line)
	})
}

// eachDocument calls f with the value of each document of r (a YAML stream,
// or a stream of JSON values), its number from 1 and the line it starts on
// (0 for JSON). Malformed input gives an *Error; f's errors are returned as
// they are.
//
// A YAML document in the block style tools write is decoded straight into
// its value (decodeBlockYAML); any other goes through sigs.k8s.io/yaml to
// JSON. JSON is decoded by the item codec (internal/ujson), which gives
// what Kubernetes' JSON decoding gives, at a fraction of its cost; that
// decoding reports the errors.
func eachDocument(r io.Reader, source string, f func(v any, doc, line int) error) error {
	br := bufio.NewReader(r)
	first, err := firstNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return &Error{Source: source, Item: -1, Err: err}
	}
	if first == '{' || first == '[' {
		dec := json.NewDecoder(br)
		for doc := 1; ; doc++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if err == io.EOF {
					return nil
				}
				return &Error{Source: source, Doc: doc, Item: -1, Err: fmt.Errorf("invalid JSON: %w", err)}
			}
			v, err := decodeJSON(raw, source, doc, 0)
			if err != nil {
				return err
			}
			if err := f(v, doc, 0); err != nil {
				return err
			}
		}
	}
	s := newDocScanner(br)
	var box ujson.Boxer // one per source: its slabs serve every document
	for doc := 1; ; doc++ {
		data, line, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &Error{Source: source, Doc: doc, Line: line, Item: -1, Err: err}
		}
		v, ok := decodeBlockYAML(string(data), &box)
		if !ok {
			js, err := yaml.YAMLToJSON(data)
			if err != nil {
				return &Error{Source: source, Doc: doc, Line: line, Item: -1, Err: fmt.Errorf("invalid YAML: %w", fileLines(err, line))}
			}
			if v, err = decodeJSON(js, source, doc, line); err != nil {
				return err
			}
		}
		if err := f(v, doc, line); err != nil {
			return err
		}
	}
}

// firstNonSpace peeks at the first byte that is not white space.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // a UTF-8 byte order mark: let the YAML path handle it
			_ = br.UnreadByte()
			return b, nil
		}
		if err := br.UnreadByte(); err != nil {
			return 0, err
		}
		return b, nil
	}
}

// yamlLine matches the line numbers a YAML parser puts in its errors.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// lineError is a YAML parser's error with its line numbers, which count from
// the start of the document, turned into lines of the source.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// fileLines rewrites the "line N" of err, a parser error on a document that
// starts on line start of the source, as lines of the source.
func fileLines(err error, start int) error {
	if start <= 1 {
		return err
	}
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, convErr := strconv.Atoi(m[len("line "):])
		if convErr != nil {
			return m
		}
		return "line " + strconv.Itoa(start+n-1)
	})
	return &lineError{msg: msg, err: err}
}

// decodeJSON decodes one document's JSON with the item codec; on an error
// it decodes it again with Kubernetes' decoder, whose message it reports.
func decodeJSON(js []byte, source string, doc, line int) (any, error) {
	v, err := ujson.UnmarshalValue(js)
	if err == nil {
		return v, nil
	}
	var ref any
	if rerr := utiljson.Unmarshal(js, &ref); rerr != nil {
		err = rerr
	}
	return nil, &Error{Source: source, Doc: doc, Line: line, Item: -1, Err: fmt.Errorf("invalid JSON: %w", err)}
}

// fromValue turns one document's value into objects, expanding lists.
func fromValue(v any, source string, doc, line int) ([]*unstructured.Unstructured, error) {
	fail := func(item int, err error) error {
		return &Error{Source: source, Doc: doc, Line: line, Item: item, Err: err}
	}
	switch v := v.(type) {
	case nil:
		return nil, nil // an empty or comment-only document
	case []any:
		return objects(v, fail)
	case map[string]any:
		if items, ok := listItems(v); ok {
			return objects(items, fail)
		}
		u, err := object(v)
		if err != nil {
			return nil, fail(-1, err)
		}
		return []*unstructured.Unstructured{u}, nil
	default:
		return nil, fail(-1, fmt.Errorf("document is a %T, not an object", v))
	}
}

// listItems returns the items of a list object: kind "List" or "<Kind>List"
// with an "items" member that is an array (or null, for an empty list).
func listItems(m map[string]any) ([]any, bool) {
	kind, _ := m["kind"].(string)
	if !strings.HasSuffix(kind, "List") {
		return nil, false
	}
	raw, present := m["items"]
	if !present {
		return nil, false
	}
	if raw == nil {
		return []any{}, true
	}
	items, ok := raw.([]any)
	return items, ok
}

// objects turns the items of a list (or a JSON array) into objects; fail
// names the failing item.
func objects(items []any, fail func(item int, err error) error) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(items))
	for i, it := range items {
		u, err := object(it)
		if err != nil {
			return nil, fail(i, err)
		}
		out = append(out, u)
	}
	return out, nil
}

func object(v any) (*unstructured.Unstructured, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object (a %T)", v)
	}
	u := &unstructured.Unstructured{Object: m}
	switch {
	case u.GetKind() == "":
		return nil, errors.New("object has no kind")
	case u.GetAPIVersion() == "":
		return nil, fmt.Errorf("%s %q has no apiVersion", u.GetKind(), u.GetName())
	}
	return u, nil
}

// docScanner splits a YAML stream into documents at "---" separator lines
// (which may carry a trailing comment), keeping the line each document starts
// on for error messages. Unlike a bufio.Scanner it has no line length limit.
type docScanner struct {
	br   *bufio.Reader
	line int // lines consumed so far
	eof  bool
	buf  []byte // the document being read; reused
	long []byte // a line longer than br's buffer; reused
}

func newDocScanner(br *bufio.Reader) *docScanner { return &docScanner{br: br} }

// next returns the next document's bytes (valid until the next call) and
// its first line (1-based), or io.EOF after the last one. Documents made
// only of separators are skipped.
func (s *docScanner) next() ([]byte, int, error) {
	s.buf = s.buf[:0]
	start := 0
	for !s.eof {
		l, err := s.readLine()
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return nil, s.line + 1, err
		}
		if len(l) == 0 {
			break
		}
		s.line++
		if isSeparator(l) {
			if len(s.buf) > 0 {
				return s.buf, start, nil
			}
			continue
		}
		if len(s.buf) == 0 {
			start = s.line
		}
		s.buf = append(s.buf, l...)
	}
	if len(s.buf) > 0 {
		return s.buf, start, nil
	}
	return nil, 0, io.EOF
}

// readLine returns the next line with its line break (valid until the next
// call), io.EOF with the last one when it has none.
func (s *docScanner) readLine() ([]byte, error) {
	l, err := s.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return l, err
	}
	s.long = append(s.long[:0], l...)
	for err == bufio.ErrBufferFull {
		l, err = s.br.ReadSlice('\n')
		s.long = append(s.long, l...)
	}
	return s.long, err
}

func isSeparator(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(l[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// Load reads the objects of every path in order. A path is a file (decoded
// whatever its extension), a directory (every .yaml, .yml and .json file
// below it, recursively, in lexical order, skipping names that start with
// "."), or Stdin ("-") for standard input. A directory without manifest files
// is an error wrapping ErrNoManifests. See Decode for the accepted formats.
func Load(paths ...string) ([]*unstructured.Unstructured, error) {
	return LoadFrom(os.Stdin, paths...)
}

// LoadFrom is Load with stdin read from the given reader.
func LoadFrom(stdin io.Reader, paths ...string) ([]*unstructured.Unstructured, error) {
	return LoadWith(stdin, paths, func(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) { return obj, nil })
}

// LoadWith is LoadFrom with each object turned into what conv makes of it
// as soon as it is decoded, by the goroutine that decoded it: a caller that
// keeps objects in a compact form (their JSON, say) never holds the decoded
// objects of more than a few documents at once. The results come in the
// order LoadFrom gives the objects. An error of conv stops the loading; it
// is returned as an *Error naming the object's source and document.
func LoadWith[T any](stdin io.Reader, paths []string, conv func(*unstructured.Unstructured) (T, error)) ([]T, error) {
	var out []T
	stdinUsed := false
	for _, p := range paths {
		if p == Stdin {
			if stdinUsed {
				return nil, errors.New(`standard input ("-") given more than once`)
			}
			stdinUsed = true
			objs, err := decodeWith(stdin, StdinSource, conv)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := Files(p)
		if err != nil {
			return nil, err
		}
		if out, err = decodeFiles(out, files, conv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeWith is Decode with conv applied to each object as it comes.
func decodeWith[T any](r io.Reader, source string, conv func(*unstructured.Unstructured) (T, error)) ([]T, error) {
	var out []T
	err := eachDocument(r, source, func(v any, doc, line int) error {
		objs, err := fromValue(v, source, doc, line)
		if err != nil {
			return err
		}
		for i, o := range objs {
			t, err := conv(o)
			if err != nil {
				item := -1
				if len(objs) > 1 || isList(v) {
					item = i
				}
				return &Error{Source: source, Doc: doc, Line: line, Item: item, Err: err}
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// isList reports whether a document's value is a list of objects (whose
// items an Error names).
func isList(v any) bool {
	switch v := v.(type) {
	case []any:
		return true
	case map[string]any:
		_, ok := listItems(v)
		return ok
	}
	return false
}

// decodeFiles appends the objects of files, in order, to out, each turned
// by conv. The files are decoded at the same time, one per CPU
// (GOMAXPROCS); the error is that of the first file in order that fails, as
// reading them one by one gives.
func decodeFiles[T any](out []T, files []string, conv func(*unstructured.Unstructured) (T, error)) ([]T, error) {
	type result struct {
		objs []T
		err  error
	}
	results := make([]result, len(files))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				objs, err := decodeFile(files[i], conv)
				results[i] = result{objs, err}
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, r.objs...)
		results[i] = result{}
	}
	return out, nil
}

// Files returns the manifest files Load reads for path: path itself when it
// is a file, the manifest files below it when it is a directory.
func Files(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrNoManifests)
	}
	return files, nil
}

func decodeFile[T any](path string, conv func(*unstructured.Unstructured) (T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeWith(f, path, conv)
}
