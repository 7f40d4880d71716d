package backup

import (
	"context"
	"log/slog"
	"slices"
)

// itemLog is the backup log seen from one item (or one call): its records
// carry attrs (the item's resource, namespace and name), as Velero's item
// logger's do. Records go out with attrs added to each one, which writes
// the same text as a logger made With them but without building that
// logger (a handler and its preformatted attributes) for every item; paths
// that need a *slog.Logger (warnings, errors, exclusions) get one, made
// once, from logger.
type itemLog struct {
	base  *slog.Logger
	attrs []slog.Attr
	with  *slog.Logger // base with attrs; nil until logger is called
}

// newItemLog returns base seen with attrs.
func newItemLog(base *slog.Logger, attrs ...slog.Attr) *itemLog {
	return &itemLog{base: base, attrs: attrs}
}

// logger returns base with attrs.
func (l *itemLog) logger() *slog.Logger {
	if l.with == nil {
		l.with = l.base
		if len(l.attrs) > 0 {
			l.with = slog.New(l.base.Handler().WithAttrs(l.attrs))
		}
	}
	return l.with
}

// info logs msg at level Info with the item's attributes, then extra.
func (l *itemLog) info(msg string, extra ...slog.Attr) {
	if l.with != nil {
		l.with.LogAttrs(context.Background(), slog.LevelInfo, msg, extra...)
		return
	}
	if !l.base.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := l.attrs
	if len(extra) > 0 {
		attrs = append(slices.Clip(l.attrs), extra...)
	}
	l.base.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
}
