// Command velerochild is the Velero side of rigging's benchmark: it links
// Velero v1.18's plugin framework and host (clientmgmt), which cannot share
// a binary with rigging's generated protocol code. The bench program
// (../) starts it in two roles:
//
//   - as a plugin (started by a plugin host with VELERO_PLUGIN=hello): it
//     serves Velero's own velero.io/pod BackupItemAction and the null object
//     store bench.rigging.dev/null on Velero's framework. A copy named
//     plugin-NN serves only bench.rigging.dev/null-NN (the discovery
//     benchmark needs 10 binaries with distinct plugins), and the copy a
//     Velero host runs as its own internal plugins ("run-plugins") serves
//     nothing, so it does not clash with the plugin directory.
//   - as a host: `velerochild host --plugin-dir DIR [--discovery-dir DIR]`
//     answers the bench program's requests (package measure's line
//     protocol) by driving the plugins through Velero's clientmgmt.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/backup/actions"
	"github.com/vmware-tanzu/velero/pkg/plugin/clientmgmt"
	"github.com/vmware-tanzu/velero/pkg/plugin/clientmgmt/process"
	"github.com/vmware-tanzu/velero/pkg/plugin/framework"
	biav1 "github.com/vmware-tanzu/velero/pkg/plugin/velero/backupitemaction/v1"

	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/bench/measure"
)

// Names shared with the rigging side (package bench).
const (
	actionName = "velero.io/pod"
	nullStore  = "bench.rigging.dev/null"
)

func main() {
	if os.Getenv("VELERO_PLUGIN") == "hello" {
		servePlugins()
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "host" {
		fmt.Fprintln(os.Stderr, "velerochild: started by rigging's bench program (interop/cmd/bench), as a plugin or with 'host'")
		os.Exit(2)
	}
	if err := host(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "velerochild:", err)
		os.Exit(1)
	}
}

func servePlugins() {
	s := framework.NewServer()
	base := filepath.Base(os.Args[0])
	switch {
	case len(os.Args) > 1 && os.Args[1] == "run-plugins":
		// A Velero host's own internal plugins: none here.
	case strings.HasPrefix(base, "plugin-"):
		s = s.RegisterObjectStore(nullStore+"-"+strings.TrimPrefix(base, "plugin-"), newNullStore)
	default:
		s = s.RegisterBackupItemAction(actionName, func(l logrus.FieldLogger) (any, error) { return actions.NewPodAction(l), nil }).
			RegisterObjectStore(nullStore, newNullStore)
	}
	if path := os.Getenv("RIGGING_BENCH_PLUGIN_CPUPROFILE"); path != "" {
		// bench.EnvPluginProfile: a CPU profile per plugin process.
		if f, err := os.Create(fmt.Sprintf("%s.velero.%d", path, os.Getpid())); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	s.Serve()
}

// hostConfig is what the host role needs.
type hostConfig struct {
	pluginDir, discoveryDir string
	objectSize              int64
	log                     *logrus.Logger
}

// newManager discovers dir's plugins as a Velero server does and returns
// its plugin manager (log level info, a Velero server's default).
func (c *hostConfig) newManager(dir string) (clientmgmt.Manager, error) {
	reg := process.NewRegistry(dir, c.log, logrus.InfoLevel)
	if err := reg.DiscoverPlugins(); err != nil {
		return nil, fmt.Errorf("discover %s: %w", dir, err)
	}
	return clientmgmt.NewManager(c.log, logrus.InfoLevel, reg), nil
}

func host(args []string) error {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	c := &hostConfig{log: logrus.New()}
	fs.StringVar(&c.pluginDir, "plugin-dir", "", "plugin directory")
	fs.StringVar(&c.discoveryDir, "discovery-dir", "", "directory of the discovery benchmark's binaries")
	fs.Int64Var(&c.objectSize, "object-size", 256<<20, "bytes per PutObject/GetObject")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.log.SetOutput(io.Discard)
	c.log.SetLevel(logrus.InfoLevel)

	item, backup, err := fixtures()
	if err != nil {
		return err
	}
	m, err := c.newManager(c.pluginDir)
	if err != nil {
		return err
	}
	defer m.CleanupClients()
	a, err := m.GetBackupItemAction(actionName)
	if err != nil {
		return err
	}
	call := func() error { return execute(a, item, backup) }
	if err := call(); err != nil { // starts the plugin process
		return err
	}
	ops := map[string]func(int) (measure.Sample, error){
		"exec":      func(n int) (measure.Sample, error) { return measure.Calls(n, call) },
		"firstcall": func(n int) (measure.Sample, error) { return repeat(n, c.firstCall) },
		"discovery": func(n int) (measure.Sample, error) { return repeat(n, c.discover) },
	}
	for _, g := range []int{1, 8, 64} {
		ops["exec-c"+strconv.Itoa(g)] = func(n int) (measure.Sample, error) { return measure.Parallel(g, n, call) }
	}
	if err := c.objectOps(m, ops); err != nil {
		return err
	}
	return measure.ServeChild(os.Stdin, os.Stdout, ops)
}

func fixtures() (*unstructured.Unstructured, *api.Backup, error) {
	item := &unstructured.Unstructured{}
	if err := item.UnmarshalJSON(fixture.Compact(fixture.PodJSON)); err != nil {
		return nil, nil, err
	}
	b := &api.Backup{}
	if err := json.Unmarshal(fixture.Compact(fixture.BackupJSON), b); err != nil {
		return nil, nil, err
	}
	return item, b, nil
}

func execute(a biav1.BackupItemAction, item *unstructured.Unstructured, b *api.Backup) error {
	out, extra, err := a.Execute(item, b)
	if err == nil && (out == nil || len(extra) != 2) {
		err = fmt.Errorf("%s returned %d additional items, want the pod's 2 claims", actionName, len(extra))
	}
	return err
}

// repeat runs one timed operation n times and adds the samples up.
func repeat(n int, one func() (measure.Sample, error)) (measure.Sample, error) {
	var all measure.Sample
	for range n {
		s, err := one()
		if err != nil {
			return all, err
		}
		all.N += s.N
		all.Lat = append(all.Lat, s.Lat...)
		all.WallNs += s.WallNs
		all.Mallocs += s.Mallocs
		all.AllocBytes += s.AllocBytes
		all.CPUNs += s.CPUNs
		all.ChildCPUNs += s.ChildCPUNs
		all.Bytes += s.Bytes
	}
	return all, nil
}

// discover is what a Velero server does at start: run every binary of the
// directory (and itself) and ask it for its plugins. Velero has no cache.
func (c *hostConfig) discover() (measure.Sample, error) {
	return measure.Once(func() (int64, error) {
		reg := process.NewRegistry(c.discoveryDir, c.log, logrus.InfoLevel)
		return 0, reg.DiscoverPlugins()
	})
}

// firstCall times, after discovery, getting the action and its first
// Execute: the plugin process starts within.
func (c *hostConfig) firstCall() (measure.Sample, error) {
	item, b, err := fixtures()
	if err != nil {
		return measure.Sample{}, err
	}
	m, err := c.newManager(c.pluginDir)
	if err != nil {
		return measure.Sample{}, err
	}
	defer m.CleanupClients()
	t := time.Now()
	a, err := m.GetBackupItemAction(actionName)
	if err == nil {
		err = execute(a, item, b)
	}
	d := time.Since(t).Nanoseconds()
	return measure.Sample{N: 1, Lat: []int64{d}, WallNs: d}, err
}

func (c *hostConfig) objectOps(m clientmgmt.Manager, ops map[string]func(int) (measure.Sample, error)) error {
	st, err := m.GetObjectStore(nullStore)
	if err != nil {
		return err
	}
	if err := st.Init(map[string]string{}); err != nil {
		return err
	}
	size := c.objectSize
	ops["put"] = func(n int) (measure.Sample, error) {
		return repeat(n, func() (measure.Sample, error) {
			return measure.Once(func() (int64, error) { return size, st.PutObject("bench", "object", fixture.Zeros(size)) })
		})
	}
	ops["get"] = func(n int) (measure.Sample, error) {
		return repeat(n, func() (measure.Sample, error) {
			return measure.Once(func() (int64, error) {
				r, err := st.GetObject("bench", "size/"+strconv.FormatInt(size, 10))
				if err != nil {
					return 0, err
				}
				defer r.Close()
				got, err := io.Copy(io.Discard, r)
				if err == nil && got != size {
					err = fmt.Errorf("got %d bytes, want %d", got, size)
				}
				return got, err
			})
		})
	}
	return nil
}

// nullStoreImpl is package bench's NullStore on Velero's interface: PutObject
// discards the body, GetObject of "size/N" streams N zero bytes.
type nullStoreImpl struct{}

func newNullStore(logrus.FieldLogger) (any, error) { return nullStoreImpl{}, nil }

func (nullStoreImpl) Init(map[string]string) error { return nil }
func (nullStoreImpl) PutObject(_, _ string, body io.Reader) error {
	_, err := io.Copy(io.Discard, body)
	return err
}
func (nullStoreImpl) ObjectExists(string, string) (bool, error) { return true, nil }
func (nullStoreImpl) GetObject(bucket, key string) (io.ReadCloser, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(key, "size/"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: no such object", bucket, key)
	}
	return io.NopCloser(fixture.Zeros(n)), nil
}
func (nullStoreImpl) ListCommonPrefixes(string, string, string) ([]string, error) { return nil, nil }
func (nullStoreImpl) ListObjects(string, string) ([]string, error)                { return nil, nil }
func (nullStoreImpl) DeleteObject(string, string) error                           { return nil }
func (nullStoreImpl) CreateSignedURL(string, string, time.Duration) (string, error) {
	return "", nil
}
