package archive

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Log is the per-backup (or per-restore) log Velero uploads as NAME-logs.gz,
// and the counter that turns its warnings and errors into the results file:
// a record at level Warn or Error goes to Results, under the namespace named
// by its "namespace" attribute (Cluster when the attribute is "", Velero
// when it is absent), as Velero's log counter hook does. The text goes to a
// temporary file, so a long log is never held in memory.
type Log struct {
	file    *os.File
	buf     *bufio.Writer // in front of file; flushed by Reader
	handler slog.Handler
	mu      sync.Mutex
	results Results
	closed  bool
}

// NewLog creates the log in a temporary file under dir ("" for the system
// temporary directory), at level (records below it are dropped, but
// warnings and errors are always counted).
func NewLog(dir string, level slog.Level) (*Log, error) {
	f, err := os.CreateTemp(dir, "rigging-log-*")
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	// Records reach the file through a buffer: a backup logs a few lines
	// per item, and a write to the file for each would cost more than
	// formatting them.
	l := &Log{file: f, buf: bufio.NewWriterSize(f, 64<<10)}
	l.handler = slog.NewTextHandler(&lockedWriter{w: l.buf, mu: &l.mu}, &slog.HandlerOptions{Level: level})
	return l, nil
}

// Logger returns a logger writing to the log.
func (l *Log) Logger() *slog.Logger { return slog.New(&countingHandler{log: l, next: l.handler}) }

// Results returns a copy of the warnings and errors counted so far.
func (l *Log) Results() Results {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Results{Errors: copyResult(l.results.Errors), Warnings: copyResult(l.results.Warnings)}
}

// Reader returns the log text written so far, from the start. Call it after
// the last record; the log must not be closed yet.
func (l *Log) Reader() (io.Reader, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Reading through the same file needs the buffer flushed, not the file
	// synced to disk.
	if err := l.buf.Flush(); err != nil {
		return nil, fmt.Errorf("write log file: %w", err)
	}
	st, err := l.file.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log file: %w", err)
	}
	return io.NewSectionReader(l.file, 0, st.Size()), nil
}

// Close removes the temporary file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	name := l.file.Name()
	err := l.file.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}

func (l *Log) count(r slog.Record, attrs []slog.Attr) {
	if r.Level < slog.LevelWarn {
		return
	}
	var ns *string
	var parts []string
	visit := func(a slog.Attr) {
		switch a.Key {
		case "namespace":
			s := a.Value.String()
			ns = &s
		case "resource", "name", "plugin", "item", "operation", "error":
			parts = append(parts, a.Key+": "+a.Value.String())
		}
	}
	for _, a := range attrs {
		visit(a)
	}
	r.Attrs(func(a slog.Attr) bool { visit(a); return true })
	msg := r.Message
	if len(parts) > 0 {
		msg = strings.Join(parts, " ") + " message: " + r.Message
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res := &l.results.Warnings
	if r.Level >= slog.LevelError {
		res = &l.results.Errors
	}
	if ns == nil {
		res.AddVelero(msg)
	} else {
		res.Add(*ns, msg)
	}
}

type countingHandler struct {
	log   *Log
	next  slog.Handler
	attrs []slog.Attr
}

func (h *countingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn || h.next.Enabled(ctx, level)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.log.count(r, h.attrs)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &countingHandler{log: h.log, next: h.next.WithAttrs(attrs), attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{log: h.log, next: h.next.WithGroup(name), attrs: h.attrs}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func copyResult(r Result) Result {
	out := Result{Velero: append([]string(nil), r.Velero...), Cluster: append([]string(nil), r.Cluster...)}
	if r.Namespaces != nil {
		out.Namespaces = make(map[string][]string, len(r.Namespaces))
		for k, v := range r.Namespaces {
			out.Namespaces[k] = append([]string(nil), v...)
		}
	}
	return out
}
