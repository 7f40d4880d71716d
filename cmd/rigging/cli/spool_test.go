package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// fakeSource lists external plugins without starting anything.
type fakeSource []manager.Info

func (f fakeSource) Plugins() []manager.Info { return f }
func (fakeSource) Open(context.Context, rigging.Kind, rigging.Name) (any, error) {
	return nil, rigging.ErrPluginNotFound
}
func (fakeSource) Close() error { return nil }

// TestServedByProcess: backup and restore spool their uploads exactly when
// the location's ObjectStore resolves to a plugin process.
func TestServedByProcess(t *testing.T) {
	reg := registry.New()
	registry.RegisterIn(reg, "rigging.dev/builtin-store", func(*slog.Logger) (rigging.ObjectStore, error) { return nil, nil })
	registry.RegisterIn(reg, "velero.io/aws", func(*slog.Logger) (rigging.ObjectStore, error) { return nil, nil })
	ext := fakeSource{
		{Kind: rigging.KindObjectStore, Name: "velero.io/aws", Source: "/plugins/velero-plugin-for-aws"},
		{Kind: rigging.KindObjectStore, Name: "example.io/vendor", Source: "/plugins/vendor"},
		{Kind: rigging.KindBackupItemAction, Name: "example.io/action", Source: "/plugins/vendor"},
	}
	for _, tc := range []struct {
		provider      string
		preferBuiltin bool
		want          bool
	}{
		{provider: "rigging.dev/builtin-store", want: false},
		{provider: "example.io/vendor", want: true},
		{provider: "aws", want: true},                       // the external one shadows the built-in
		{provider: "aws", preferBuiltin: true, want: false}, // unless the built-in is preferred
		{provider: "example.io/action", want: false},        // not an ObjectStore
		{provider: "example.io/missing", want: false},       // resolves nowhere: Open reports it
		{provider: "Not A Name", want: false},               // invalid: Open reports it
	} {
		m := manager.New(manager.Options{Registry: reg, External: ext, PreferBuiltin: tc.preferBuiltin, Logger: slog.New(slog.DiscardHandler)})
		if got := servedByProcess(m, tc.provider); got != tc.want {
			t.Errorf("servedByProcess(%q, preferBuiltin %v) = %v; want %v", tc.provider, tc.preferBuiltin, got, tc.want)
		}
		m.Close()
	}
}

// TestStorePutFromPipe: `echo … | rigging store put KEY -` reads stdin that
// is a pipe (an *os.File that cannot seek) to the end and stores it.
func TestStorePutFromPipe(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	want := strings.Repeat("through a pipe\n", 10_000) // more than a pipe's buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(pw, want)
		wrote <- errors.Join(err, pw.Close())
	}()
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"store", "put", "backups/p/piped.txt", "-"}, pr, &out, &errb)
	pr.Close()
	if err := <-wrote; err != nil {
		t.Errorf("write the pipe: %v", err)
	}
	if code != ExitOK {
		t.Fatalf("store put from a pipe: exit %d, stderr:\n%s", code, errb.String())
	}
	if got := runOK(t, "", "store", "get", "backups/p/piped.txt"); got != want {
		t.Errorf("get returned %d bytes, want the %d piped", len(got), len(want))
	}
}
