package external

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter re-emits go-plugin's logging through slog. go-plugin parses
// each line a plugin writes to stderr (hclog JSON or plain text) and logs it
// through a logger named after the binary: those lines keep the plugin's
// level and attributes (rigging's SDK adds plugin=<name> and kind=<kind>)
// and gain binary=<file name>. go-plugin's own chatter (process started,
// exited, ...) is logged at debug.
type hclogAdapter struct {
	log    *slog.Logger
	name   string // "" for go-plugin's own logger
	binary string
	args   []any
}

func newHCLog(l *slog.Logger, binary string) hclog.Logger {
	return &hclogAdapter{log: l, binary: binary}
}

// outputTail keeps the last lines a plugin process wrote to stderr, to
// explain a failed start or a crash in the error itself. It is go-plugin's
// ClientConfig.Stderr: go-plugin writes every raw stderr line to it (the
// line, then its newline) before it decides whether to parse and log the
// line, so the tail is complete even when logging is off. Lines are kept
// in a fixed ring of reused buffers: no allocation per line.
type outputTail struct {
	mu      sync.Mutex
	cur     []byte // the line being written (until its newline)
	ring    [tailLines][]byte
	next, n int // ring position of the next line, lines held
}

const (
	tailLines   = 6
	tailLineMax = 512 // bytes kept of a longer line
)

// Write implements io.Writer: it takes p as part of the current line, and
// ends the line at each newline.
func (t *outputTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			t.cur = appendCapped(t.cur, rest)
			break
		}
		t.cur = appendCapped(t.cur, rest[:i])
		t.endLineLocked()
		rest = rest[i+1:]
	}
	return len(p), nil
}

func appendCapped(dst, p []byte) []byte {
	if room := tailLineMax + 1 - len(dst); len(p) > room { // one byte over marks the cut
		p = p[:max(room, 0)]
	}
	return append(dst, p...)
}

func (t *outputTail) endLineLocked() {
	line := t.cur
	t.cur = t.cur[:0]
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	t.ring[t.next] = append(t.ring[t.next][:0], line...)
	t.next = (t.next + 1) % tailLines
	t.n = min(t.n+1, tailLines)
}

// add records one whole line (tests and callers outside go-plugin's pipe).
func (t *outputTail) add(line string) {
	if t == nil {
		return
	}
	_, _ = t.Write([]byte(line + "\n"))
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
	cut := len(line) > tailLineMax
	if cut {
		line = line[:tailLineMax]
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
	// go-plugin logs the plugin's stderr through a logger named after the
	// binary; its other named loggers ("stdio", ...) are its own chatter.
	if a.name == a.binary { // a line from the plugin itself
		switch level {
		case hclog.Trace:
			lv = slog.LevelDebug - 4
		case hclog.Info:
			lv = slog.LevelInfo
		case hclog.Warn:
			lv = slog.LevelWarn
		case hclog.Error:
			lv = slog.LevelError
		}
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

// GetLevel returns the lowest hclog level the slog logger records, or Off
// when it records nothing: go-plugin then neither parses nor prepares the
// plugin's stderr lines that would be dropped (a Velero-framework plugin
// writes a few per call). It is read once per plugin process, when
// go-plugin starts reading its stderr; the stderr tail does not depend on it.
func (a *hclogAdapter) GetLevel() hclog.Level {
	ctx := context.Background()
	for _, l := range [...]struct {
		h hclog.Level
		s slog.Level
	}{{hclog.Trace, slog.LevelDebug - 4}, {hclog.Debug, slog.LevelDebug}, {hclog.Info, slog.LevelInfo},
		{hclog.Warn, slog.LevelWarn}, {hclog.Error, slog.LevelError}} {
		if a.log.Enabled(ctx, l.s) {
			return l.h
		}
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
