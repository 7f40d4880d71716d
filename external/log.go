package external

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// hclogAdapter re-emits go-plugin's own logging (process started, exited,
// ...) through slog, at debug. The lines a plugin writes to stderr do not
// come through it: go-plugin is told that the plugin's logger is off (see
// GetLevel) and hands the raw lines to pluginOutput instead, which parses
// and re-emits them.
type hclogAdapter struct {
	log    *slog.Logger
	name   string // "" for go-plugin's own logger
	binary string
	args   []any
}

func newHCLog(l *slog.Logger, binary string) hclog.Logger {
	return &hclogAdapter{log: l, binary: binary}
}

// pluginOutput is go-plugin's ClientConfig.Stderr for one plugin process:
// go-plugin writes every raw line the plugin writes to stderr to it (the
// line, then its newline; a line longer than its 64 KiB buffer in parts).
// It keeps the last lines (the tail, quoted in errors about a failed start
// or a crash) and re-emits each line through slog, as go-plugin would have:
// hclog JSON lines keep the plugin's level, message and attributes (rigging's
// SDK adds plugin=<name> and kind=<kind>; keys are sorted) and gain
// binary=<file name>; other lines are logged at debug, or at the level a
// "[WARN]"-style prefix names, and a Go panic's lines at error.
//
// It reads a JSON line's level before parsing it and skips lines the logger
// would drop; the lines it logs are parsed with internal/ujson. A plugin of
// Velero's framework writes a few lines per call (four per Execute of
// velero.io/pod), so this is on every call's path.
type pluginOutput struct {
	log    *slog.Logger
	binary string
	tail   outputTail

	wmu       sync.Mutex // Write: go-plugin writes from one goroutine, but be safe
	cur       []byte     // the line being written (until its newline)
	cut       bool       // cur was flushed early: the rest of the line is text
	inPanic   bool       // a "panic: " line was seen: what follows is its trace
	minLevel  slog.Level // the lowest level log records
	logsLines bool       // log records some level at all
}

// maxLogLine is the longest line re-emitted whole; a longer one is logged
// in parts, as text.
const maxLogLine = 64 << 10

// levels are hclog's levels, lowest first: their names in JSON lines, in
// upper case between brackets as prefixes of text lines ("[WARN] …"), and
// the slog levels they are logged at.
var levels = [...]struct {
	name   string
	prefix string
	h      hclog.Level
	s      slog.Level
}{
	{"trace", "[TRACE]", hclog.Trace, slog.LevelDebug - 4},
	{"debug", "[DEBUG]", hclog.Debug, slog.LevelDebug},
	{"info", "[INFO]", hclog.Info, slog.LevelInfo},
	{"warn", "[WARN]", hclog.Warn, slog.LevelWarn},
	{"error", "[ERROR]", hclog.Error, slog.LevelError},
}

// lowestLevel returns the index in levels of the lowest level l records,
// or -1 when it records none of them.
func lowestLevel(l *slog.Logger) int {
	for i, lv := range levels {
		if l.Enabled(context.Background(), lv.s) {
			return i
		}
	}
	return -1
}

func newPluginOutput(l *slog.Logger, binary string) *pluginOutput {
	o := &pluginOutput{log: l, binary: binary}
	if i := lowestLevel(l); i >= 0 {
		o.minLevel, o.logsLines = levels[i].s, true
	}
	return o
}

// Write implements io.Writer: it takes p as part of the current line and
// ends the line at each newline.
func (o *pluginOutput) Write(p []byte) (int, error) {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			o.cur = append(o.cur, rest...)
			if len(o.cur) > maxLogLine {
				o.flush(false)
			}
			break
		}
		o.cur = append(o.cur, rest[:i]...)
		o.flush(true)
		rest = rest[i+1:]
	}
	return len(p), nil
}

// flush hands the current line (or, when !end, the part of a long line
// written so far) to the tail and the logger.
func (o *pluginOutput) flush(end bool) {
	line := o.cur
	if !o.cut {
		o.tail.keep(line, !end)
	}
	if o.logsLines {
		o.emit(line, o.cut || !end)
	}
	o.cur = o.cur[:0]
	o.cut = !end
	if cap(o.cur) > 2*maxLogLine {
		o.cur = nil // do not hold on to a huge line's buffer
	}
}

// emit logs one line; text forces the plain-text treatment (parts of a
// line too long to parse).
func (o *pluginOutput) emit(line []byte, text bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	ctx := context.Background()
	if !text && line[0] == '{' {
		lv, ok := jsonLevel(line)
		if ok && lv < o.minLevel {
			return // dropped anyway: not worth parsing
		}
		if m, err := ujson.Unmarshal(line); err == nil {
			msg, _ := m["@message"].(string)
			if !ok {
				// JSON but not hclog's: verbatim, at debug (as go-plugin).
				o.log.LogAttrs(ctx, slog.LevelDebug, string(line), slog.String("binary", o.binary))
				return
			}
			o.log.LogAttrs(ctx, lv, msg, o.attrs(m)...)
			return
		}
	}
	lv, prefixed := slog.LevelDebug, false
	for _, l := range levels {
		if bytes.HasPrefix(line, []byte(l.prefix)) {
			lv, prefixed = l.s, true
			break
		}
	}
	switch {
	case prefixed:
	case bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: ")):
		o.inPanic = true
		lv = slog.LevelError
	case o.inPanic:
		lv = slog.LevelError
	}
	if lv >= o.minLevel {
		o.log.LogAttrs(ctx, lv, string(line), slog.String("binary", o.binary))
	}
}

// attrs are a parsed hclog line's attributes, sorted by key, after
// binary: hclog's own keys are left out, and so is a "level" that repeats
// "@level" (logrus's JSON formatter, used by Velero's framework, writes
// both).
func (o *pluginOutput) attrs(m map[string]any) []slog.Attr {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		switch k {
		case "@message", "@level", "@timestamp", "timestamp":
			continue
		case "level":
			if lv, ok := v.(string); ok && lv == m["@level"] {
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	attrs = append(attrs, slog.String("binary", o.binary))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	return attrs
}

// jsonLevel reads the "@level" member of an hclog JSON line without
// parsing the line. ok is false when there is none or it names no level.
func jsonLevel(line []byte) (slog.Level, bool) {
	const key = `"@level":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0, false
	}
	v := line[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return 0, false
	}
	name := v[:j]
	if string(name) == "warning" {
		return slog.LevelWarn, true
	}
	for _, l := range levels {
		if string(name) == l.name {
			return l.s, true
		}
	}
	return 0, false
}

// outputTail keeps the last lines a plugin process wrote to stderr, to
// explain a failed start or a crash in the error itself. Lines are kept in
// a fixed ring of reused buffers: no allocation per line.
type outputTail struct {
	mu      sync.Mutex
	ring    [tailLines][]byte
	next, n int // ring position of the next line, lines held
	// watch makes keep look for a failed allocation in each line (with a
	// memory limit only: it costs a scan of every line); oom and fault
	// record what it found (see sawOutOfMemory).
	watch, oom, fault bool
}

const (
	tailLines   = 6
	tailLineMax = 512 // bytes kept of a longer line
)

// keep records one line (its first tailLineMax bytes, and whether it was
// cut); blank lines are skipped.
func (t *outputTail) keep(line []byte, cut bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watch && line[0] != '{' { // an hclog JSON line is a log record, not a crash
		t.oom = t.oom || outOfMemory(line)
		t.fault = t.fault || bytes.HasPrefix(line, runtimeFault)
	}
	buf := append(t.ring[t.next][:0], line[:min(len(line), tailLineMax)]...)
	if cut || len(line) > tailLineMax {
		buf = append(buf, 0) // marks a cut line (NUL never ends a kept line otherwise)
	}
	t.ring[t.next] = buf
	t.next = (t.next + 1) % tailLines
	t.n = min(t.n+1, tailLines)
}

// outOfMemory reports a line in which a runtime says an allocation failed:
// Go's "fatal error: out of memory" and "runtime: out of memory", the C
// library's "Cannot allocate memory" (ENOMEM), C++'s std::bad_alloc.
func outOfMemory(line []byte) bool {
	for _, s := range [...]string{"out of memory", "annot allocate memory", "bad_alloc"} {
		if bytes.Contains(line, []byte(s)) {
			return true
		}
	}
	return false
}

// runtimeFault begins the crash report of a fault inside Go's runtime (a
// fault in a goroutine's code is reported as a panic instead). Go's
// runtime faults so when one of its own allocations fails under a data
// limit.
var runtimeFault = []byte("SIGSEGV: segmentation violation")

// sawOutOfMemory reports whether any line recorded said an allocation
// failed (oom, see outOfMemory) or that Go's runtime faulted (fault, see
// runtimeFault), even one no longer held.
func (t *outputTail) sawOutOfMemory() (oom, fault bool) {
	if t == nil {
		return false, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.oom, t.fault
}

// add records one whole line (tests and callers outside go-plugin's pipe).
func (t *outputTail) add(line string) {
	if t != nil {
		t.keep([]byte(line), false)
	}
}

// suffix returns "; last plugin output: a | b" or "" when there was none.
// hclog JSON lines are shown as their message.
func (t *outputTail) suffix() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		return ""
	}
	lines := make([]string, 0, t.n)
	for i := range t.n {
		lines = append(lines, tailText(t.ring[(t.next-t.n+i+tailLines)%tailLines]))
	}
	return "; last plugin output: " + strings.Join(lines, " | ")
}

// tailText is the readable form of one kept line: an hclog JSON line's
// message (with its level unless info), otherwise the line itself; cut
// lines end in "…".
func tailText(line []byte) string {
	cut := len(line) > 0 && line[len(line)-1] == 0
	if cut {
		line = line[:len(line)-1]
	}
	if !cut && len(line) > 0 && line[0] == '{' {
		var e struct {
			Message string `json:"@message"`
			Level   string `json:"@level"`
		}
		if json.Unmarshal(line, &e) == nil && e.Message != "" {
			if e.Level != "" && e.Level != "info" {
				return "[" + strings.ToUpper(e.Level) + "] " + e.Message
			}
			return e.Message
		}
	}
	if cut {
		return string(line) + "…"
	}
	return string(line)
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lv := slog.LevelDebug
	// The logger named after the binary is the plugin's. Its level is Off,
	// so go-plugin reports only its stderr read errors through it, at
	// error; the lines themselves go to pluginOutput, which logs them. It
	// still passes each part of a line longer than its buffer to Debug,
	// whatever the level: those parts are dropped here, as pluginOutput
	// has logged them already. Its other named loggers ("stdio", ...) are
	// its own chatter.
	if a.name == a.binary {
		if level < hclog.Error {
			return
		}
		lv = slog.LevelError
	} else if level >= hclog.Error {
		lv = slog.LevelWarn
	}
	ctx := context.Background()
	if !a.log.Enabled(ctx, lv) {
		return
	}
	all := append([]any{"binary", a.binary}, a.args...)
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "timestamp" {
			continue // the plugin's own clock; the record has the host's
		}
		all = append(all, args[i], args[i+1])
	}
	a.log.Log(ctx, lv, msg, all...)
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }
func (a *hclogAdapter) IsTrace() bool                 { return a.log.Enabled(context.Background(), slog.LevelDebug-4) }
func (a *hclogAdapter) IsDebug() bool                 { return a.log.Enabled(context.Background(), slog.LevelDebug) }
func (a *hclogAdapter) IsInfo() bool                  { return a.log.Enabled(context.Background(), slog.LevelInfo) }
func (a *hclogAdapter) IsWarn() bool                  { return a.log.Enabled(context.Background(), slog.LevelWarn) }
func (a *hclogAdapter) IsError() bool                 { return a.log.Enabled(context.Background(), slog.LevelError) }
func (a *hclogAdapter) ImpliedArgs() []any            { return a.args }
func (a *hclogAdapter) Name() string                  { return a.name }
func (a *hclogAdapter) SetLevel(hclog.Level)          {}

// GetLevel is Off for the logger go-plugin reads the plugin's stderr
// through, so that go-plugin neither parses nor logs those lines
// (pluginOutput does, cheaper), and otherwise the lowest hclog level the
// slog logger records (Off when it records nothing).
func (a *hclogAdapter) GetLevel() hclog.Level {
	if a.name == a.binary {
		return hclog.Off
	}
	if i := lowestLevel(a.log); i >= 0 {
		return levels[i].h
	}
	return hclog.Off
}

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.args = append(append([]any{}, a.args...), args...)
	return &c
}

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.Log(hclog.Debug, string(p))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
