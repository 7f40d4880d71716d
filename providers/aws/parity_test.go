package aws

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/conformance"
	"github.com/rigging-dev/rigging/providers/aws/ebs"
	"github.com/rigging-dev/rigging/registry"
)

var (
	serveOnce sync.Once
	serveBin  string
	serveErr  error
)

// pluginBinary builds internal/testbin/serveaws once per test run and returns its
// path: a plugin binary serving velero.io/aws, for the subprocess transport.
func pluginBinary(t testing.TB) string {
	t.Helper()
	serveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rigging-aws-plugin")
		if err != nil {
			serveErr = err
			return
		}
		serveBin = filepath.Join(dir, "serveaws")
		if out, err := exec.Command("go", "build", "-o", serveBin, "github.com/rigging-dev/rigging/internal/testbin/serveaws").CombinedOutput(); err != nil {
			serveErr = &buildError{err: err, out: string(out)}
		}
	})
	if serveErr != nil {
		t.Fatalf("build the plugin binary: %v", serveErr)
	}
	return serveBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if serveBin != "" {
		os.RemoveAll(filepath.Dir(serveBin))
	}
	os.Exit(code)
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestParity runs the conformance suite on velero.io/aws directly, over
// in-memory gRPC and across a plugin subprocess: the ObjectStore against the
// S3 test server, the VolumeSnapshotter's PV cases (which send no EC2
// request).
func TestParity(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	bucket := e.bucket(t)
	cat, err := external.OpenBinary(ctx, pluginBinary(t), external.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	name := rigging.MustParseName(Name)
	for _, tc := range []struct {
		kind   rigging.Kind
		config map[string]string
	}{
		{rigging.KindObjectStore, e.config(t, bucket, nil)},
		{rigging.KindVolumeSnapshotter, map[string]string{ebs.KeyRegion: "us-east-1", ebs.KeyCredentialsFile: e.credentialsFile(t, "AKIDPARITY", "parity-secret")}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			mem, stop, err := conformance.InMemory(registry.Default, tc.kind, name, quiet())
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			rep, err := conformance.Run(ctx, conformance.Options{Kind: tc.kind, Name: name, Config: tc.config, Bucket: bucket},
				conformance.Direct(registry.Default, tc.kind, name, quiet()), mem, conformance.Subprocess(cat, tc.kind, name))
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
