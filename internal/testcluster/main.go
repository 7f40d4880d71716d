package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// Options says what the package's cluster holds (Main).
type Options struct {
	// Seed lists manifest paths (relative to the repository root, or
	// absolute) whose objects Get seeds into the cluster right after it
	// starts (SeedFiles). Default: none.
	Seed []string
	// Config is how the control plane is started (Start).
	Config Config
}

// pkg is the test binary's one cluster: started by the first Get, stopped
// by Main.
var pkg struct {
	mu      sync.Mutex
	inMain  bool
	opts    Options
	once    sync.Once
	cluster *Cluster
	err     error
}

// ciEnv is set to "true" by CI (.ci/run runs under CI=true); there a
// cluster test that would be skipped fails.
const ciEnv = "CI"

// Main runs the package's tests (m.Run) and returns the exit code for
// os.Exit. The cluster is started by the first Get, with opts, and stopped
// (its processes and files gone) when the tests are done, or when the test
// binary receives SIGINT or SIGTERM. A failure to stop makes the run fail.
func Main(m *testing.M, opts Options) int {
	pkg.mu.Lock()
	pkg.inMain, pkg.opts = true, opts
	pkg.mu.Unlock()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "testcluster: %v: stopping the test API server\n", s)
			stopPackageCluster()
			os.Exit(1)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	<-stopped
	signal.Stop(sig)
	if err := stopPackageCluster(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// stopPackageCluster stops the cluster Get started, if any; later Gets fail.
func stopPackageCluster() error {
	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	pkg.once.Do(func() { pkg.err = errors.New("testcluster: the package's tests are over") })
	return pkg.cluster.Stop()
}

// Get returns the package's running cluster, starting it on first use.
//
// Without the binaries it skips t with a message saying how to build them,
// or fails t under CI (CI=true). If the cluster could not be started or
// seeded, every Get fails its test with the reason. Get must be called
// from a package whose TestMain runs Main (it fails t otherwise: nothing
// would stop the cluster).
func Get(t testing.TB) *Cluster {
	t.Helper()
	pkg.mu.Lock()
	inMain, opts := pkg.inMain, pkg.opts
	pkg.mu.Unlock()
	if !inMain {
		t.Fatal("testcluster.Get: the package's TestMain must run testcluster.Main (it stops the cluster)")
	}
	pkg.once.Do(func() {
		pkg.cluster, pkg.err = startSeeded(opts)
	})
	switch skip, fail, msg := decide(pkg.err, os.Getenv(ciEnv)); {
	case skip:
		t.Skip(msg)
	case fail:
		t.Fatal(msg)
	}
	return pkg.cluster
}

// decide says what Get does with the error of starting the cluster, given
// the value of $CI: skip the test (no binaries, not under CI), fail it
// (no binaries under CI, or any other error), or neither (err is nil).
func decide(err error, ci string) (skip, fail bool, msg string) {
	switch {
	case err == nil:
		return false, false, ""
	case errors.Is(err, ErrNoBinaries) && ci != "true":
		return true, false, "cluster test skipped: " + err.Error()
	case errors.Is(err, ErrNoBinaries):
		return false, true, "cluster test cannot run under CI=true: " + err.Error()
	default:
		return false, true, err.Error()
	}
}

func startSeeded(opts Options) (*Cluster, error) {
	ctx := context.Background()
	c, err := Start(ctx, opts.Config)
	if err != nil {
		return nil, err
	}
	if len(opts.Seed) > 0 {
		if err := c.SeedFiles(ctx, opts.Seed...); err != nil {
			return nil, errors.Join(err, c.Stop())
		}
	}
	return c, nil
}
