package external

import (
	"context"
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
		{"hclog json message", []string{`{"@level":"info","@message":"Executing podAction","@timestamp":"2026-11-27T10:00:00.000000Z"}`, "\n"},
			"; last plugin output: Executing podAction"},
		{"hclog json error level", []string{`{"@level":"error","@message":"cannot reach bucket"}` + "\n"},
			"; last plugin output: [ERROR] cannot reach bucket"},
		{"json without message kept raw", []string{`{"a":1}` + "\n"}, `; last plugin output: {"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := &outputTail{}
			for _, w := range tt.writes {
				if n, err := tail.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := tail.suffix(); got != tt.want {
				t.Errorf("suffix() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOutputTailNoAllocs: once its buffers exist, keeping a line costs no
// allocation (go-plugin writes every stderr line of every plugin to it).
func TestOutputTailNoAllocs(t *testing.T) {
	tail := &outputTail{}
	line := []byte(`{"@level":"info","@message":"Adding pvc data-web-0 to additionalItems","cmd":"/plugins/velero"}`)
	nl := []byte{'\n'}
	for range tailLines + 1 {
		tail.Write(line)
		tail.Write(nl)
	}
	if n := testing.AllocsPerRun(100, func() { tail.Write(line); tail.Write(nl) }); n != 0 {
		t.Errorf("allocations per line = %v, want 0", n)
	}
}

// TestHCLogLevel: go-plugin is told the lowest level the slog logger
// records, and Off when it records nothing, so it skips parsing lines that
// would be dropped.
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
			l := newHCLog(tt.log, "velero-plugin-for-aws").Named("velero-plugin-for-aws")
			if got := l.GetLevel(); got != tt.want {
				t.Errorf("GetLevel() = %v, want %v", got, tt.want)
			}
			if tt.log.Enabled(context.Background(), slog.LevelInfo) != (tt.want != hclog.Off && tt.want <= hclog.Info) {
				t.Errorf("level %v inconsistent with the slog logger", tt.want)
			}
		})
	}
}
