// Package testbin builds the binaries the interop tests run as separate
// processes: the test plugins of this module, the rigging command and the
// real velero-plugin-for-aws. Velero's generated protocol code and rigging's
// cannot share a process, so every cross-implementation test runs one side
// as a subprocess built here.
//
// Binaries go to $RIGGING_INTEROP_BIN when it is set (kept between runs, so
// an unchanged binary is not linked again), else to a directory that lives
// as long as the test process.
package testbin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// AWSPluginModule is the real Velero AWS plugin the tests install.
const AWSPluginModule = "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@v1.14.3"

var (
	dirOnce sync.Once
	dir     string
	dirErr  error

	mu    sync.Mutex
	built = map[string]*result{}
)

type result struct {
	once sync.Once
	path string
	err  error
}

// Dir returns the directory binaries are built into.
func Dir() (string, error) {
	dirOnce.Do(func() {
		if d := os.Getenv("RIGGING_INTEROP_BIN"); d != "" {
			dir, dirErr = filepath.Abs(d)
			if dirErr == nil {
				dirErr = os.MkdirAll(dir, 0o755)
			}
			return
		}
		dir, dirErr = os.MkdirTemp("", "rigging-interop-bin-")
	})
	return dir, dirErr
}

// Cleanup removes the temporary binary directory (not $RIGGING_INTEROP_BIN).
// TestMain calls it after the tests.
func Cleanup() {
	if dir != "" && os.Getenv("RIGGING_INTEROP_BIN") == "" {
		os.RemoveAll(dir)
	}
}

// ModuleRoot returns the interop module's directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// RepoRoot returns the rigging repository's root (the main module).
func RepoRoot() string { return filepath.Join(ModuleRoot(), "..") }

// once builds the binary name at most once per process with build.
func once(name string, build func(out string) error) (string, error) {
	mu.Lock()
	r, ok := built[name]
	if !ok {
		r = &result{}
		built[name] = r
	}
	mu.Unlock()
	r.once.Do(func() {
		d, err := Dir()
		if err != nil {
			r.err = err
			return
		}
		out := filepath.Join(d, name)
		start := time.Now()
		if err := build(out); err != nil {
			r.err = fmt.Errorf("build %s: %w", name, err)
			return
		}
		fmt.Fprintf(os.Stderr, "testbin: %s ready in %s\n", name, time.Since(start).Round(time.Millisecond))
		r.path = out
	})
	return r.path, r.err
}

func run(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, out.String())
	}
	return nil
}

// Interop builds a main package of this module (path relative to the
// module root, like "cmd/velero-test-plugin") and returns the binary's path.
func Interop(pkg string) (string, error) {
	return once(filepath.Base(pkg), func(out string) error {
		return run(ModuleRoot(), nil, "build", "-o", out, "./"+pkg)
	})
}

// Rigging builds the rigging command from the main module.
func Rigging() (string, error) {
	return once("rigging", func(out string) error {
		return run(RepoRoot(), nil, "build", "-o", out, "./cmd/rigging")
	})
}

// AWSPlugin installs the real velero-plugin-for-aws with go install.
func AWSPlugin() (string, error) {
	return once("velero-plugin-for-aws", func(out string) error {
		return run(os.TempDir(), []string{"GOBIN=" + filepath.Dir(out), "GOFLAGS=-buildvcs=false"}, "install", AWSPluginModule)
	})
}

// PluginDir makes a fresh plugin directory under parent holding a copy of
// each binary (a copy, not a link, as an operator installs plugins), and
// returns it. The directory and the copies are writable by their owner only.
func PluginDir(parent string, binaries ...string) (string, error) {
	d := filepath.Join(parent, "plugins")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	for _, b := range binaries {
		data, err := os.ReadFile(b)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(d, filepath.Base(b)), data, 0o755); err != nil {
			return "", err
		}
	}
	return d, nil
}

// VeleroCommand is the package of Velero's own command, built from this
// module (which requires Velero v1.18.3 and names the command as a tool,
// so its dependencies stay in go.mod).
const VeleroCommand = "github.com/vmware-tanzu/velero/cmd/velero"

// Velero builds the velero command (`velero server`, `velero install`),
// stamped with its version as Velero's release build does. Its server's
// controller-runtime manager gets no metrics address from Velero, so it
// would listen on controller-runtime's default :8080 on every interface;
// the build sets that default to a free loopback port instead.
func Velero() (string, error) {
	return once("velero", func(out string) error {
		return run(ModuleRoot(), nil, "build", "-ldflags",
			"-X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=v1.18.3 -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=127.0.0.1:0",
			"-o", out, VeleroCommand)
	})
}
