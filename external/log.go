package external

import (
	"context"
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
	tail   *outputTail
}

func newHCLog(l *slog.Logger, binary string, tail *outputTail) hclog.Logger {
	return &hclogAdapter{log: l, binary: binary, tail: tail}
}

// outputTail keeps the last lines a plugin process wrote to stderr, to
// explain a failed start or a crash in the error itself.
type outputTail struct {
	mu    sync.Mutex
	lines []string
}

const tailLines = 6

func (t *outputTail) add(line string) {
	if t == nil || strings.TrimSpace(line) == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line) > 512 {
		line = line[:512] + "…"
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
}

// suffix returns "; last plugin output: a | b" or "" when there was none.
func (t *outputTail) suffix() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "; last plugin output: " + strings.Join(t.lines, " | ")
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lv := slog.LevelDebug
	// go-plugin logs the plugin's stderr through a logger named after the
	// binary; its other named loggers ("stdio", ...) are its own chatter.
	if a.name == a.binary { // a line from the plugin itself
		a.tail.add(msg)
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

// GetLevel is Trace so that go-plugin forwards every line; slog filters.
func (a *hclogAdapter) GetLevel() hclog.Level { return hclog.Trace }

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
