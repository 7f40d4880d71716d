package external

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestOutputTail: the tail takes go-plugin's raw stderr writes (a line,
// then its newline, or a long line in parts), keeps the last six non-blank
// lines, cuts long ones and shows hclog JSON lines as their message.
func TestOutputTail(t *testing.T) {
	long := strings.Repeat("x", 700)
	huge := strings.Repeat("y", maxLogLine+10)
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"nothing", nil, ""},
		{"blank lines only", []string{"  ", "\n", "\n"}, ""},
		{"line then newline", []string{"panic: boom", "\n"}, "; last plugin output: panic: boom"},
		{"several lines in one write", []string{"a\nb\n\nc\n"}, "; last plugin output: a | b | c"},
		{"line in parts", []string{"par", "tial", "\n"}, "; last plugin output: partial"},
		{"unterminated line not shown", []string{"done\n", "half"}, "; last plugin output: done"},
		{"last six kept", []string{"1\n2\n3\n4\n5\n6\n7\n8\n"}, "; last plugin output: 3 | 4 | 5 | 6 | 7 | 8"},
		{"long line cut", []string{long, "\n"}, "; last plugin output: " + long[:tailLineMax] + "…"},
		{"line longer than the log buffer kept once", []string{huge, "\n", "next\n"},
			"; last plugin output: " + huge[:tailLineMax] + "… | next"},
		{"hclog json message", []string{`{"@level":"info","@message":"Executing podAction","@timestamp":"2026-11-27T10:00:00.000000Z"}`, "\n"},
			"; last plugin output: Executing podAction"},
		{"hclog json error level", []string{`{"@level":"error","@message":"cannot reach bucket"}` + "\n"},
			"; last plugin output: [ERROR] cannot reach bucket"},
		{"json without message kept raw", []string{`{"a":1}` + "\n"}, `; last plugin output: {"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, logger := range []*slog.Logger{slog.New(slog.DiscardHandler), slog.New(&recordHandler{})} {
				o := newPluginOutput(logger, "plugin")
				for _, w := range tt.writes {
					if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
						t.Fatalf("Write(%q) = %d, %v", w, n, err)
					}
				}
				if got := o.tail.suffix(); got != tt.want {
					t.Errorf("suffix() = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestPluginOutputLogs: each stderr line is re-emitted as go-plugin would
// have logged it: hclog JSON with its level, message and sorted attributes,
// text at debug or at the level its prefix names, a panic's lines at error;
// lines below the logger's level are dropped.
func TestPluginOutputLogs(t *testing.T) {
	type rec struct {
		level slog.Level
		msg   string
		attrs string
	}
	tests := []struct {
		name  string
		level slog.Level
		lines []string
		want  []rec
	}{
		{"hclog json", slog.LevelDebug, []string{`{"@level":"warn","@message":"slow bucket","@timestamp":"2026-11-27T10:00:00.000000Z","plugin":"velero.io/aws","@module":"aws","n":3}`},
			[]rec{{slog.LevelWarn, "slow bucket", "binary=velero-plugin-for-aws @module=aws n=3 plugin=velero.io/aws"}}},
		{"logrus duplicate level dropped", slog.LevelDebug, []string{`{"@level":"info","@message":"Executing podAction","level":"info","logSource":"pod_action.go:51"}`},
			[]rec{{slog.LevelInfo, "Executing podAction", "binary=velero-plugin-for-aws logSource=pod_action.go:51"}}},
		{"below the level: dropped", slog.LevelInfo, []string{`{"@level":"debug","@message":"detail"}`, "plain text"}, nil},
		{"trace", slog.LevelDebug - 4, []string{`{"@level":"trace","@message":"t"}`}, []rec{{slog.LevelDebug - 4, "t", "binary=velero-plugin-for-aws"}}},
		{"json without level verbatim at debug", slog.LevelDebug, []string{`{"msg":"x"}`}, []rec{{slog.LevelDebug, `{"msg":"x"}`, "binary=velero-plugin-for-aws"}}},
		{"broken json is text", slog.LevelDebug, []string{`{"@level":"error","@message":`}, []rec{{slog.LevelDebug, `{"@level":"error","@message":`, "binary=velero-plugin-for-aws"}}},
		{"prefixed text", slog.LevelDebug, []string{"[WARN] disk almost full", "[ERROR] gone", "[INFO] hi", "plain"},
			[]rec{{slog.LevelWarn, "[WARN] disk almost full", "binary=velero-plugin-for-aws"}, {slog.LevelError, "[ERROR] gone", "binary=velero-plugin-for-aws"},
				{slog.LevelInfo, "[INFO] hi", "binary=velero-plugin-for-aws"}, {slog.LevelDebug, "plain", "binary=velero-plugin-for-aws"}}},
		{"panic and its trace at error", slog.LevelWarn, []string{"panic: runtime error", "", "goroutine 1 [running]:"},
			[]rec{{slog.LevelError, "panic: runtime error", "binary=velero-plugin-for-aws"}, {slog.LevelError, "goroutine 1 [running]:", "binary=velero-plugin-for-aws"}}},
		{"nothing enabled", slog.LevelError + 4, []string{`{"@level":"error","@message":"x"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordHandler{level: tt.level}
			o := newPluginOutput(slog.New(h), "velero-plugin-for-aws")
			for _, l := range tt.lines {
				o.Write([]byte(l))
				o.Write([]byte("\n"))
			}
			var got []rec
			for _, r := range h.recs {
				var a []string
				r.Attrs(func(at slog.Attr) bool { a = append(a, at.Key+"="+at.Value.String()); return true })
				got = append(got, rec{r.Level, r.Message, strings.Join(a, " ")})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("records %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestPluginOutputNoAllocsWhenDropped: a line the logger drops costs no
// allocation (go-plugin writes every stderr line of every plugin to it).
func TestPluginOutputNoAllocsWhenDropped(t *testing.T) {
	o := newPluginOutput(slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelWarn})), "plugin")
	line := []byte(`{"@level":"info","@message":"Adding pvc data-web-0 to additionalItems","cmd":"/plugins/velero"}`)
	nl := []byte{'\n'}
	for range tailLines + 1 {
		o.Write(line)
		o.Write(nl)
	}
	if n := testing.AllocsPerRun(100, func() { o.Write(line); o.Write(nl) }); n != 0 {
		t.Errorf("allocations per line = %v, want 0", n)
	}
}

// TestHCLogLevel: go-plugin's logger for the plugin's stderr is off
// (pluginOutput handles those lines); its other loggers report the lowest
// level the slog logger records, and Off when it records nothing.
func TestHCLogLevel(t *testing.T) {
	tests := []struct {
		name string
		log  *slog.Logger
		want hclog.Level
	}{
		{"discard", slog.New(slog.DiscardHandler), hclog.Off},
		{"info", slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelInfo})), hclog.Info},
		{"debug", slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelDebug})), hclog.Debug},
		{"trace", slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelDebug - 4})), hclog.Trace},
		{"error", slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelError})), hclog.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newHCLog(tt.log, "velero-plugin-for-aws")
			if got := root.Named("stdio").GetLevel(); got != tt.want {
				t.Errorf("GetLevel() = %v, want %v", got, tt.want)
			}
			if got := root.Named("velero-plugin-for-aws").GetLevel(); got != hclog.Off {
				t.Errorf("plugin logger GetLevel() = %v, want Off", got)
			}
			if tt.log.Enabled(context.Background(), slog.LevelInfo) != (tt.want != hclog.Off && tt.want <= hclog.Info) {
				t.Errorf("level %v inconsistent with the slog logger", tt.want)
			}
		})
	}
}

// BenchmarkPluginOutputLine: the host's cost of one log line of a
// Velero-framework plugin (velero.io/pod writes four per Execute), logged
// (info) and dropped (warn).
//
//	go test -run '^$' -bench PluginOutputLine -benchmem ./external/
func BenchmarkPluginOutputLine(b *testing.B) {
	line := []byte(`{"@level":"info","@message":"Adding pvc web-content to additionalItems","cmd":"/plugins/velero-bench-plugins","level":"info","logSource":"/root/go/pkg/mod/github.com/vmware-tanzu/velero@v1.18.3/pkg/util/actionhelpers/pod_helper.go:43","pluginName":"velero-bench-plugins","@logSourceSetBy":"plugin"}`)
	nl := []byte{'\n'}
	for _, lv := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run(lv.String(), func(b *testing.B) {
			o := newPluginOutput(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: lv})), "velero-bench-plugins")
			b.ReportAllocs()
			for b.Loop() {
				o.Write(line)
				o.Write(nl)
			}
		})
	}
}

// TestPluginLoggerDoesNotRepeatLongLines: go-plugin hands each part of a
// stderr line longer than its buffer to the plugin's logger at debug even
// though that logger is off (and writes the parts to pluginOutput, which
// logs them); only its read errors must come through the adapter, or every
// long line is logged twice.
func TestPluginLoggerDoesNotRepeatLongLines(t *testing.T) {
	h := &recordHandler{level: slog.LevelDebug}
	l := newHCLog(slog.New(h), "velero-plugin-for-aws").Named("velero-plugin-for-aws")
	part := strings.Repeat("x", 100)
	// What go-plugin's logStderr does for a line in two parts.
	l.Debug(part)
	l.Debug(part)
	if len(h.recs) != 0 {
		t.Fatalf("the plugin's logger logged %d records of raw stderr, want 0 (pluginOutput logs them)", len(h.recs))
	}
	l.Error("reading plugin stderr", "error", io.ErrUnexpectedEOF)
	if len(h.recs) != 1 || h.recs[0].Level != slog.LevelError {
		t.Fatalf("read error: records %v, want one at error", h.recs)
	}
}
