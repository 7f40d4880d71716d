package conformance_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging"
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/registry"
)

var bins = map[string]string{
	"builtins":   "github.com/rigging-dev/rigging/internal/testbin/servebuiltins",
	"testplugin": "../internal/testplugin/cmd/testplugin",
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rigging-conformance")
	if err != nil {
		panic(err)
	}
	for name, pkg := range bins {
		out := filepath.Join(dir, name)
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			panic("build " + pkg + ": " + err.Error() + "\n" + string(b))
		}
		bins[name] = out
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// parity runs the suite on every plugin of reg, directly, over in-memory
// gRPC and across the subprocess bin, and fails on any difference.
func parity(t *testing.T, reg *registry.Registry, bin string, config func(rigging.Kind, rigging.Name) (map[string]string, string)) {
	ctx := context.Background()
	cat, err := external.OpenBinary(ctx, bin, external.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	entries := reg.All()
	if len(entries) == 0 {
		t.Fatal("no plugins registered")
	}
	for _, e := range entries {
		t.Run(string(e.Kind)+"/"+string(e.Name), func(t *testing.T) {
			cfg, skip := config(e.Kind, e.Name)
			if skip != "" {
				t.Skip(skip)
			}
			mem, stop, err := conformance.InMemory(reg, e.Kind, e.Name, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			rep, err := conformance.Run(ctx, conformance.Options{Kind: e.Kind, Name: e.Name, Config: cfg},
				conformance.Direct(reg, e.Kind, e.Name, quietLogger()), mem, conformance.Subprocess(cat, e.Kind, e.Name))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Error(rep)
			}
			if n := len(rep.Outcomes["direct"]); n < 2 {
				t.Errorf("only %d cases ran", n)
			}
		})
	}
}

// TestBuiltinParity runs the suite on every built-in (registry.Default with
// builtin/all imported).
func TestBuiltinParity(t *testing.T) {
	root := t.TempDir()
	parity(t, registry.Default, bins["builtins"], func(kind rigging.Kind, name rigging.Name) (map[string]string, string) {
		switch {
		case kind == rigging.KindObjectStore && name == "rigging.dev/filesystem":
			return map[string]string{"root": root, "bucket": "conformance"}, ""
		case kind == rigging.KindObjectStore || kind == rigging.KindVolumeSnapshotter:
			return nil, "needs an S3 server: the same suite runs on velero.io/aws in providers/aws TestParity"
		}
		return nil, ""
	})
}

// TestTestPluginParity runs the suite on the test plugins, whose behaviour
// is known, so the suite's own cases are exercised on every kind.
func TestTestPluginParity(t *testing.T) {
	reg := registry.New()
	testplugin.Register(reg)
	root := t.TempDir()
	parity(t, reg, bins["testplugin"], func(kind rigging.Kind, _ rigging.Name) (map[string]string, string) {
		if kind == rigging.KindObjectStore {
			return map[string]string{"root": root}, ""
		}
		return nil, ""
	})
}

// TestDifferenceDetected checks that the suite reports a transport that
// behaves differently.
func TestDifferenceDetected(t *testing.T) {
	reg := registry.New()
	testplugin.Register(reg)
	other := registry.New()
	registry.RegisterIn(other, testplugin.IBA, func(*slog.Logger) (rigging.ItemBlockAction, error) { return liar{}, nil })
	rep, err := conformance.Run(context.Background(), conformance.Options{Kind: rigging.KindItemBlockAction, Name: testplugin.IBA},
		conformance.Direct(reg, rigging.KindItemBlockAction, testplugin.IBA, nil),
		conformance.Transport{Name: "liar", Open: conformance.Direct(other, rigging.KindItemBlockAction, testplugin.IBA, nil).Open})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.String(), "DIFF AppliesTo") {
		t.Errorf("difference not reported:\n%s", rep)
	}
}

type liar struct{ rigging.ItemBlockAction }

func (liar) Name() string { return testplugin.IBA }
func (liar) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"everything"}}, nil
}
