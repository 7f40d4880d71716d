package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/registry"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args     []string
		level    string
		features []string
	}{
		{nil, "", nil},
		{[]string{"--log-level=debug", "--features=EnableCSI,EnableAPIGroupVersions"}, "debug", []string{"EnableCSI", "EnableAPIGroupVersions"}},
		{[]string{"run-plugins", "--log-level", "warning", "--uploader-type=kopia", "--client-qps", "20", "--features", "A"}, "warning", []string{"A"}},
		{[]string{"-log-level=trace", "--unknown", "--log-format=json"}, "trace", nil},
		{[]string{"--log-level"}, "", nil},
	}
	for _, tt := range tests {
		f := ParseFlags(tt.args)
		if f.LogLevel != tt.level || !slices.Equal(f.Features, tt.features) {
			t.Errorf("ParseFlags(%q) = %+v, want level %q features %q", tt.args, f, tt.level, tt.features)
		}
	}
}

func TestLoggerIsHCLogJSON(t *testing.T) {
	for _, tt := range []struct {
		level string
		log   func(*slog.Logger)
		want  string // "" = filtered
	}{
		{"info", func(l *slog.Logger) { l.Info("hello", "k", "v") }, "info"},
		{"info", func(l *slog.Logger) { l.Debug("hidden") }, ""},
		{"debug", func(l *slog.Logger) { l.Debug("shown") }, "debug"},
		{"warning", func(l *slog.Logger) { l.Warn("w") }, "warn"},
		{"trace", func(l *slog.Logger) { l.Log(context.Background(), LevelTrace, "t") }, "trace"},
		{"error", func(l *slog.Logger) { l.Error("e") }, "error"},
	} {
		var buf bytes.Buffer
		tt.log(NewLogger(&buf, tt.level))
		if tt.want == "" {
			if buf.Len() != 0 {
				t.Errorf("level %s: logged %s", tt.level, buf.String())
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", buf.String())
		}
		if m["@level"] != tt.want || m["@message"] == nil || m["@timestamp"] == nil {
			t.Errorf("level %s: line %s", tt.level, buf.String())
		}
	}
}

// TestLazyHandlerOncePerKindName: concurrent first calls create one
// instance per (kind, name), unlike Velero's unlocked map.
func TestLazyHandlerOncePerKindName(t *testing.T) {
	var created atomic.Int32
	reg := registry.New()
	registry.RegisterIn(reg, "example.com/a", func(*slog.Logger) (rigging.DeleteItemAction, error) {
		created.Add(1)
		return dia{}, nil
	})
	m := newMux(ServeOptions{Registry: reg})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := handlerFor[rigging.DeleteItemAction](m, rigging.KindDeleteItemAction, "example.com/a"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Errorf("factory ran %d times, want 1", n)
	}
	if _, err := handlerFor[rigging.DeleteItemAction](m, rigging.KindDeleteItemAction, "example.com/missing"); err == nil {
		t.Error("unknown plugin accepted")
	}
	if _, err := handlerFor[rigging.DeleteItemAction](m, rigging.KindDeleteItemAction, "Bad_Name/x"); err == nil {
		t.Error("invalid name accepted")
	}
}

func TestListPluginsOrder(t *testing.T) {
	reg := registry.New()
	registry.RegisterIn(reg, "example.com/z", func(*slog.Logger) (rigging.DeleteItemAction, error) { return dia{}, nil })
	registry.RegisterIn(reg, "example.com/b", func(*slog.Logger) (rigging.DeleteItemAction, error) { return dia{}, nil })
	registry.RegisterIn(reg, "example.com/s", func(*slog.Logger) (rigging.ObjectStore, error) { return nil, nil })
	registry.RegisterIn(reg, "example.com/b", func(*slog.Logger) (rigging.BackupItemAction, error) { return nil, nil })
	res, err := listerServer{newMux(ServeOptions{Registry: reg, Command: "/plugins/x"})}.ListPlugins(context.Background(), &generated.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Plugins {
		if p.Command != "/plugins/x" {
			t.Errorf("command = %q", p.Command)
		}
		got = append(got, p.Kind+" "+p.Name)
	}
	want := []string{"BackupItemAction example.com/b", "ObjectStore example.com/s", "DeleteItemAction example.com/b", "DeleteItemAction example.com/z"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q (Velero's kind order, names sorted)", got, want)
	}
}

type dia struct{}

func (dia) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}
func (dia) Execute(context.Context, *rigging.DeleteItemActionExecuteInput) error { return nil }
