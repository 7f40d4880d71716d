// Command serverrace races rigging against a real Velero v1.18.3 server on
// one test API server (internal/testcluster) seeded with gen-large.sh's
// objects, on one bucket type (versitygw through the real
// velero-plugin-for-aws for both; rigging's compiled-in AWS provider as a
// third row), in interleaved rounds, at each side's default client
// QPS/burst (no flag passed: 100/100 for both, Velero v1.18.3's server
// defaults and rigging's) and at one raised pair given to both:
//
//   - backup: the Velero server from Backup creation to Completed (its own
//     status timestamps) against `rigging backup create`'s wall time; items/s
//     and the peak RSS of each (Velero's server and plugin processes
//     together; rigging and its plugin processes together);
//   - restore of each one's backup into fresh namespaces: Velero's Restore
//     (status timestamps) against `rigging restore create --to-cluster`
//     (when the rigging binary has it), objects/s;
//   - bounds: the API server's own list and create throughput, measured
//     bare with client-go (no client-side limit).
//
// It needs $RIGGING_S3_* (eval "$(bash .ci/s3.sh)") and the test API
// server's binaries ($RIGGING_TESTCLUSTER_BIN or bin/testcluster). With
// --docs it writes its section into docs/benchmarks.json (key
// "server_race", ratios under "ratios") and docs/BENCHMARKS.md (between
// the serverrace markers).
//
//	go run ./cmd/serverrace --items DIR --rigging ../bin/rigging --docs ../docs
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rigging-dev/rigging/bench"
	"github.com/rigging-dev/rigging/internal/testcluster"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/interop/internal/veleroserver"
	"github.com/rigging-dev/rigging/manifest"
)

// Limits is a client QPS/burst pair given to both sides. With Defaults
// neither side is given a pair and each runs at its own default, which
// QPS and Burst then record.
type Limits struct {
	QPS      float32 `json:"qps"`
	Burst    int     `json:"burst"`
	Defaults bool    `json:"defaults,omitempty"`
}

// defaults is the setting that passes no limits: Velero v1.18.3's server
// defaults (defaultClientQPS and defaultClientBurst in its
// pkg/cmd/server/config/config.go) and rigging's --client-qps and
// --client-burst defaults, both 100/100.
var defaults = Limits{QPS: 100, Burst: 100, Defaults: true}

func (l Limits) String() string {
	if l.Defaults {
		return fmt.Sprintf("defaults (QPS %g / burst %d)", l.QPS, l.Burst)
	}
	return fmt.Sprintf("QPS %g / burst %d", l.QPS, l.Burst)
}

// flags are rigging's --client-qps and --client-burst for l: none for the
// defaults.
func (l Limits) flags() []string {
	if l.Defaults {
		return nil
	}
	return []string{"--client-qps", strconv.FormatFloat(float64(l.QPS), 'f', -1, 32), "--client-burst", strconv.Itoa(l.Burst)}
}

// server is l as veleroserver.Config's ClientQPS and ClientBurst: zero for
// the defaults (the server's own).
func (l Limits) server() (float32, int) {
	if l.Defaults {
		return 0, 0
	}
	return l.QPS, l.Burst
}

// Row names.
const (
	rowVelero         = "Velero server (velero-plugin-for-aws)"
	rowRigging        = "rigging (velero-plugin-for-aws)"
	rowRiggingBuiltin = "rigging (compiled-in AWS provider)"
)

// Sample is one measured run.
type Sample struct {
	Seconds float64 `json:"seconds"`
	Items   int     `json:"items"`
	PeakRSS int64   `json:"peak_rss_bytes,omitempty"`
}

// Row is one side's samples and medians in one setting.
type Row struct {
	Name          string   `json:"name"`
	Samples       []Sample `json:"samples"`
	MedianSeconds float64  `json:"median_seconds"`
	ItemsPerSec   float64  `json:"items_per_second"`
	MedianPeakRSS int64    `json:"median_peak_rss_bytes,omitempty"`
}

// Setting is every row of one Limits.
type Setting struct {
	Limits  Limits `json:"limits"`
	Backup  []*Row `json:"backup"`
	Restore []*Row `json:"restore"`
	// RestorePending says why rigging's restore rows are missing.
	RestorePending string `json:"restore_pending,omitempty"`
}

// Bounds are the API server's own throughput, bare.
type Bounds struct {
	ListObjectsPerSec   float64 `json:"list_objects_per_second"`
	CreateObjectsPerSec float64 `json:"create_objects_per_second"`
	CreateWorkers       int     `json:"create_workers"`
}

// Report is the race's result.
type Report struct {
	Command  string             `json:"command"`
	Date     string             `json:"date"`
	LoadAvg  string             `json:"loadavg,omitempty"`
	Objects  int                `json:"objects"`
	Rounds   int                `json:"rounds"`
	Settings []*Setting         `json:"settings"`
	Bounds   Bounds             `json:"bounds"`
	Ratios   map[string]float64 `json:"ratios"`
	Goals    map[string]string  `json:"goals"`
}

type options struct {
	items, rigging, docs string
	rounds               int
	raised               Limits
	restore              bool
	createSample         int
}

func main() {
	var o options
	flag.StringVar(&o.items, "items", "", "gen-large.sh's output directory to seed the API server with (required)")
	flag.StringVar(&o.rigging, "rigging", "", "the rigging binary (default: built from this repository)")
	flag.StringVar(&o.docs, "docs", "", "write the race into DIR/benchmarks.json and DIR/BENCHMARKS.md")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved backup rounds per setting")
	var qps float64
	flag.Float64Var(&qps, "raised-qps", 500, "the raised client QPS given to both")
	flag.IntVar(&o.raised.Burst, "raised-burst", 1000, "the raised client burst given to both")
	flag.BoolVar(&o.restore, "restore", true, "also race the restores (one per side and setting)")
	flag.IntVar(&o.createSample, "create-sample", 2000, "objects created for the bare create bound")
	render := flag.String("render", "", "only re-render --docs from the server_race of this benchmarks.json (no measuring)")
	flag.Parse()
	if *render != "" {
		if err := rerender(*render, o.docs); err != nil {
			fmt.Fprintln(os.Stderr, "serverrace:", err)
			os.Exit(1)
		}
		return
	}
	o.raised.QPS = float32(qps)
	if o.items == "" {
		fmt.Fprintln(os.Stderr, "serverrace: --items is required (testdata/manifests/gen-large.sh's output)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	testbin.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "serverrace:", err)
		os.Exit(1)
	}
	fmt.Print(rep.Markdown())
	if o.docs != "" {
		if err := writeDocs(o.docs, rep); err != nil {
			fmt.Fprintln(os.Stderr, "serverrace:", err)
			os.Exit(1)
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "serverrace: "+format+"\n", args...)
}

// race is the state of one run.
type race struct {
	o          options
	cluster    *testcluster.Cluster
	dyn        dynamic.Interface
	rest       *rest.Config
	velero     string
	aws        string
	pluginDir  string
	s3         veleroserver.S3
	namespaces []string
	objects    int
	restoreOK  bool
	work       string
	seq        int
}

func run(ctx context.Context, o options) (rep *Report, err error) {
	r := &race{o: o}
	var ok bool
	if r.s3, ok = veleroserver.S3FromEnv("rigging-serverrace-" + strconv.FormatInt(time.Now().Unix(), 10)); !ok {
		return nil, errors.New(`RIGGING_S3_ENDPOINT is not set (eval "$(bash .ci/s3.sh)")`)
	}

	if r.o.rigging == "" {
		if r.o.rigging, err = testbin.Rigging(); err != nil {
			return nil, err
		}
	}
	if r.velero, err = testbin.Velero(); err != nil {
		return nil, err
	}
	if r.aws, err = testbin.AWSPlugin(); err != nil {
		return nil, err
	}
	if r.work, err = os.MkdirTemp("", "rigging-serverrace-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.work)
	if r.pluginDir, err = testbin.PluginDir(r.work, r.aws); err != nil {
		return nil, err
	}
	help, _ := exec.Command(r.o.rigging, "restore", "create", "--help").CombinedOutput()
	r.restoreOK = strings.Contains(string(help), "--to-cluster")

	objs, err := manifest.Load(o.items)
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if obj.GetKind() == "Namespace" {
			r.namespaces = append(r.namespaces, obj.GetName())
		} else {
			r.objects++
		}
	}
	sort.Strings(r.namespaces)

	logf("starting the test API server")
	if r.cluster, err = testcluster.Start(ctx, testcluster.Config{}); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.cluster.Stop()) }()
	r.rest = r.cluster.Config()
	if r.dyn, err = dynamic.NewForConfig(r.rest); err != nil {
		return nil, err
	}
	start := time.Now()
	logf("seeding %d objects in %d namespaces", r.objects, len(r.namespaces))
	if err := r.cluster.Seed(ctx, objs); err != nil {
		return nil, err
	}
	logf("seeded in %s", time.Since(start).Round(time.Second))

	if err := r.s3.CreateBucket(ctx); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.s3.RemoveBucket(context.Background())) }()

	rep = &Report{Command: "interop/cmd/serverrace " + strings.Join(os.Args[1:], " "),
		Date: time.Now().UTC().Format(time.RFC3339), Objects: r.objects, Rounds: o.rounds,
		Ratios: map[string]float64{}, Goals: map[string]string{
			"cluster_backup_vs_velero":     ">= 10",
			"cluster_restore_vs_velero":    ">= 20",
			"cluster_backup_rss_vs_velero": "<= 0.5",
		}}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if rep.Bounds, err = r.bounds(ctx); err != nil {
		return nil, err
	}
	for _, l := range []Limits{defaults, o.raised} {
		s, err := r.setting(ctx, l)
		if err != nil {
			return nil, err
		}
		rep.Settings = append(rep.Settings, s)
	}
	rep.ratios()
	return rep, nil
}

var (
	configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrs       = []schema.GroupVersionResource{configMaps,
		{Version: "v1", Resource: "persistentvolumeclaims"}, {Version: "v1", Resource: "pods"}}
	pvs = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
)

// bounds measures the API server bare: every seeded object listed in
// pages of 500 (as both backups list), and createSample ConfigMaps created
// by 16 workers, with no client-side limit.
func (r *race) bounds(ctx context.Context) (Bounds, error) {
	var b Bounds
	start := time.Now()
	n := 0
	list := func(ri dynamic.ResourceInterface) error {
		opts := metav1.ListOptions{Limit: 500}
		for {
			l, err := ri.List(ctx, opts)
			if err != nil {
				return err
			}
			n += len(l.Items)
			if opts.Continue = l.GetContinue(); opts.Continue == "" {
				return nil
			}
		}
	}
	for _, g := range gvrs {
		for _, ns := range r.namespaces {
			if err := list(r.dyn.Resource(g).Namespace(ns)); err != nil {
				return b, err
			}
		}
	}
	if err := list(r.dyn.Resource(pvs)); err != nil {
		return b, err
	}
	b.ListObjectsPerSec = float64(n) / time.Since(start).Seconds()

	ns := "serverrace-bound"
	if _, err := r.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		metav1.CreateOptions{}); err != nil {
		return b, err
	}
	b.CreateWorkers = 16
	jobs := make(chan int)
	errs := make(chan error, b.CreateWorkers)
	var wg sync.WaitGroup
	start = time.Now()
	for range b.CreateWorkers {
		wg.Go(func() {
			for i := range jobs {
				cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": fmt.Sprintf("bound-%06d", i), "namespace": ns},
					"data":     map[string]any{"k": strings.Repeat("v", 512)}}}
				if _, err := r.dyn.Resource(configMaps).Namespace(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range r.o.createSample {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return b, fmt.Errorf("bare create bound: %w", err)
	}
	b.CreateObjectsPerSec = float64(r.o.createSample) / time.Since(start).Seconds()
	logf("bounds: list %.0f objects/s, create %.0f objects/s (%d workers)", b.ListObjectsPerSec, b.CreateObjectsPerSec, b.CreateWorkers)
	return b, nil
}

// name returns a new backup or restore name.
func (r *race) name(prefix string) string {
	r.seq++
	return fmt.Sprintf("%s-%03d", prefix, r.seq)
}

// setting runs the rounds of one Limits with a Velero server started with
// them.
func (r *race) setting(ctx context.Context, l Limits) (*Setting, error) {
	logf("%s: starting the Velero server", l)
	qps, burst := l.server()
	srv, err := veleroserver.Start(ctx, veleroserver.Config{Velero: r.velero, AWSPlugin: r.aws,
		Kubeconfig: r.cluster.Kubeconfig(), REST: r.rest, S3: r.s3, ClientQPS: qps, ClientBurst: burst})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	s := &Setting{Limits: l}
	rows := map[string]*Row{}
	for _, n := range []string{rowVelero, rowRigging, rowRiggingBuiltin} {
		rows[n] = &Row{Name: n}
		s.Backup = append(s.Backup, rows[n])
	}
	order := []string{rowVelero, rowRigging, rowRiggingBuiltin}
	var firstVelero, firstRigging string
	for round := range r.o.rounds {
		for _, side := range order {
			name := r.name("race")
			var smp Sample
			var err error
			if side == rowVelero {
				smp, err = r.veleroBackup(ctx, srv, name)
				if firstVelero == "" {
					firstVelero = name
				}
			} else {
				smp, err = r.riggingBackup(ctx, srv, l, name, side == rowRiggingBuiltin)
				if firstRigging == "" && side == rowRigging {
					firstRigging = name
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%s, round %d, %s: %w", l, round+1, side, err)
			}
			logf("%s round %d: %s backup: %.1fs, %d items, peak RSS %d MB", l, round+1, side, smp.Seconds, smp.Items, smp.PeakRSS>>20)
			rows[side].Samples = append(rows[side].Samples, smp)
		}
		// Interleaved: the next round starts with the next side.
		order = append(order[1:], order[0])
	}
	if r.o.restore {
		vr := &Row{Name: rowVelero}
		smp, err := r.veleroRestore(ctx, srv, firstVelero)
		if err != nil {
			return nil, fmt.Errorf("%s: Velero restore: %w", l, err)
		}
		logf("%s: Velero restore: %.1fs, %d items", l, smp.Seconds, smp.Items)
		vr.Samples = append(vr.Samples, smp)
		s.Restore = append(s.Restore, vr)
		if r.restoreOK {
			rr := &Row{Name: rowRigging}
			smp, err := r.riggingRestore(ctx, srv, l, firstRigging)
			switch {
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				// Recorded, and the race goes on: a failing restore is
				// a finding, not a reason to lose the other figures.
				logf("%s: rigging restore: %v", l, err)
				s.RestorePending = "rigging's restore failed: " + lastLine(err.Error())
			default:
				logf("%s: rigging restore: %.1fs, %d items", l, smp.Seconds, smp.Items)
				rr.Samples = append(rr.Samples, smp)
				s.Restore = append(s.Restore, rr)
			}
		} else {
			s.RestorePending = "this rigging has no `restore create --to-cluster` yet"
		}
	}
	for _, row := range append(slices.Clone(s.Backup), s.Restore...) {
		row.summarise()
	}
	return s, nil
}

// veleroBackup creates a Backup of the namespaces and waits for it to
// complete.
func (r *race) veleroBackup(ctx context.Context, srv *veleroserver.Server, name string) (Sample, error) {
	spec := map[string]any{"includedNamespaces": anySlice(r.namespaces), "storageLocation": veleroserver.LocationName,
		"snapshotVolumes": false}
	return r.veleroRun(ctx, srv, veleroserver.BackupsGVR, "Backup", name, spec, "itemsBackedUp")
}

// veleroRestore restores backup into fresh namespaces.
func (r *race) veleroRestore(ctx context.Context, srv *veleroserver.Server, backup string) (Sample, error) {
	name := r.name("race-restore")
	m := map[string]any{}
	for _, ns := range r.namespaces {
		m[ns] = ns + "-" + name
	}
	return r.veleroRun(ctx, srv, veleroserver.RestoresGVR, "Restore", name, map[string]any{"backupName": backup, "namespaceMapping": m}, "itemsRestored")
}

// veleroRun creates the Velero object kind name with spec, waits until it
// is final and returns Velero's own time for it (completion minus start
// timestamp), the item count status.progress.<items> and the peak RSS of
// the server and its plugins meanwhile. A phase other than Completed is an
// error.
func (r *race) veleroRun(ctx context.Context, srv *veleroserver.Server, gvr schema.GroupVersionResource, kind, name string, spec map[string]any, items string) (Sample, error) {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": srv.Namespace()},
		"spec":     spec,
	}}
	peak := veleroserver.SamplePeak(srv.PID(), 100*time.Millisecond)
	if _, err := srv.Resource(gvr).Create(ctx, o, metav1.CreateOptions{}); err != nil {
		peak.Stop()
		return Sample{}, err
	}
	o, err := r.waitFinal(ctx, srv, gvr, name)
	smp := Sample{PeakRSS: peak.Stop()}
	if err != nil {
		return smp, err
	}
	if p := veleroserver.Phase(o); p != "Completed" {
		st, _ := json.Marshal(o.Object["status"])
		return smp, fmt.Errorf("%s %s: %s", kind, name, st)
	}
	smp.Seconds, err = statusSeconds(o)
	n, _, _ := unstructured.NestedInt64(o.Object, "status", "progress", items)
	smp.Items = int(n)
	return smp, err
}

func (r *race) waitFinal(ctx context.Context, srv *veleroserver.Server, gvr schema.GroupVersionResource, name string) (*unstructured.Unstructured, error) {
	final := []string{"Completed", "PartiallyFailed", "Failed", "FailedValidation"}
	if err := srv.Wait(ctx, gvr, name, func(o *unstructured.Unstructured) (bool, error) {
		return slices.Contains(final, veleroserver.Phase(o)), nil
	}); err != nil {
		return nil, err
	}
	return srv.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
}

// statusSeconds is completionTimestamp minus startTimestamp (Velero keeps
// them to the second).
func statusSeconds(o *unstructured.Unstructured) (float64, error) {
	s, _, _ := unstructured.NestedString(o.Object, "status", "startTimestamp")
	c, _, _ := unstructured.NestedString(o.Object, "status", "completionTimestamp")
	ts, err1 := time.Parse(time.RFC3339, s)
	tc, err2 := time.Parse(time.RFC3339, c)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: status timestamps: %w", o.GetName(), err)
	}
	return tc.Sub(ts).Seconds(), nil
}

// riggingArgs are the global flags of a rigging command on the server's
// location, through the AWS plugin unless builtin.
func (r *race) riggingArgs(srv *veleroserver.Server, builtin bool) []string {
	args := []string{"--location", srv.LocationFile()}
	if !builtin {
		args = append(args, "--plugin-dir", r.pluginDir)
	}
	return args
}

// runRigging runs the rigging binary and returns its wall time and the
// peak RSS of it and its plugin processes.
func (r *race) runRigging(ctx context.Context, srv *veleroserver.Server, args []string) (time.Duration, int64, []byte, error) {
	cmd := exec.CommandContext(ctx, r.o.rigging, args...)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+srv.CredentialsFile())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, err
	}
	peak := veleroserver.SamplePeak(cmd.Process.Pid, 50*time.Millisecond)
	err := cmd.Wait()
	d := time.Since(start)
	// Sampled, not the rusage high-water mark: Linux carries the forking
	// process's peak across exec into the child's ru_maxrss.
	p := peak.Stop()
	if err != nil {
		return d, p, nil, fmt.Errorf("rigging %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return d, p, []byte(out.String()), nil
}

func (r *race) riggingBackup(ctx context.Context, srv *veleroserver.Server, l Limits, name string, builtin bool) (Sample, error) {
	args := append(r.riggingArgs(srv, builtin), "backup", "create", name, "--no-progress", "--snapshot-volumes=false",
		"--kubeconfig", r.cluster.Kubeconfig(), "--include-namespaces", strings.Join(r.namespaces, ","))
	args = append(args, l.flags()...)
	d, rss, _, err := r.runRigging(ctx, srv, args)
	if err != nil {
		return Sample{}, err
	}
	items, err := r.riggingItems(ctx, srv, name)
	return Sample{Seconds: d.Seconds(), Items: items, PeakRSS: rss}, err
}

// riggingItems is the item count `rigging backup list -o json` shows for
// backup name.
func (r *race) riggingItems(ctx context.Context, srv *veleroserver.Server, name string) (int, error) {
	_, _, out, err := r.runRigging(ctx, srv, append(r.riggingArgs(srv, true), "backup", "list", "-o", "json"))
	if err != nil {
		return 0, err
	}
	var rows []struct {
		Name  string
		Items int
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		return 0, fmt.Errorf("rigging backup list -o json: %w", err)
	}
	for _, row := range rows {
		if row.Name == name {
			return row.Items, nil
		}
	}
	return 0, fmt.Errorf("rigging backup list does not show %s", name)
}

func (r *race) riggingRestore(ctx context.Context, srv *veleroserver.Server, l Limits, backup string) (Sample, error) {
	name := r.name("race-restore")
	var pairs []string
	for _, ns := range r.namespaces {
		pairs = append(pairs, ns+":"+ns+"-"+name)
	}
	args := append(r.riggingArgs(srv, false), "restore", "create", name, "--from-backup", backup, "--to-cluster",
		"--kubeconfig", r.cluster.Kubeconfig(), "--namespace-mappings", strings.Join(pairs, ","))
	args = append(args, l.flags()...)
	d, rss, _, err := r.runRigging(ctx, srv, args)
	if err != nil {
		return Sample{}, err
	}
	items, err := r.riggingItems(ctx, srv, backup)
	return Sample{Seconds: d.Seconds(), Items: items, PeakRSS: rss}, err
}

// lastLine is the last non-empty line of s (a command's error message).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// summarise sets the row's medians.
func (row *Row) summarise() {
	var secs []float64
	var rss []int64
	items := 0
	for _, s := range row.Samples {
		secs = append(secs, s.Seconds)
		rss = append(rss, s.PeakRSS)
		items = s.Items
	}
	if len(secs) == 0 {
		return
	}
	row.MedianSeconds = median(secs)
	slices.Sort(rss)
	row.MedianPeakRSS = rss[len(rss)/2]
	if row.MedianSeconds > 0 {
		row.ItemsPerSec = float64(items) / row.MedianSeconds
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func (s *Setting) row(rows []*Row, name string) *Row {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ratios computes the named ratios at Velero's default limits (the first
// setting) and, suffixed _raised, at the raised ones.
func (rep *Report) ratios() {
	for i, s := range rep.Settings {
		suffix := ""
		if i > 0 {
			suffix = "_raised"
		}
		v, g := s.row(s.Backup, rowVelero), s.row(s.Backup, rowRigging)
		if v != nil && g != nil && g.MedianSeconds > 0 && v.MedianPeakRSS > 0 {
			rep.Ratios["cluster_backup_vs_velero"+suffix] = v.MedianSeconds / g.MedianSeconds
			rep.Ratios["cluster_backup_rss_vs_velero"+suffix] = float64(g.MedianPeakRSS) / float64(v.MedianPeakRSS)
		}
		v, g = s.row(s.Restore, rowVelero), s.row(s.Restore, rowRigging)
		if v != nil && g != nil && v.ItemsPerSec > 0 {
			rep.Ratios["cluster_restore_vs_velero"+suffix] = g.ItemsPerSec / v.ItemsPerSec
		}
	}
}

// Markdown renders the report.
func (rep *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### rigging against a real Velero server\n\n")
	fmt.Fprintf(&b, "`%s` on %s (load %s): %d objects of gen-large.sh's mix on the test API server (kube-apiserver and etcd on loopback), one versitygw bucket; medians of %d interleaved backup rounds, one restore per side.\n\n",
		rep.Command, rep.Date, rep.LoadAvg, rep.Objects, rep.Rounds)
	for _, s := range rep.Settings {
		fmt.Fprintf(&b, "#### %s (both sides)\n\n", s.Limits)
		b.WriteString("| backup | median | items | items/s | peak RSS |\n|---|---|---|---|---|\n")
		for _, r := range s.Backup {
			fmt.Fprintf(&b, "| %s | %.2f s | %d | %.0f | %d MB |\n", r.Name, r.MedianSeconds, itemsOf(r), r.ItemsPerSec, r.MedianPeakRSS>>20)
		}
		if len(s.Restore) > 0 {
			b.WriteString("\n| restore into fresh namespaces | time | items | objects/s | peak RSS |\n|---|---|---|---|---|\n")
			for _, r := range s.Restore {
				fmt.Fprintf(&b, "| %s | %.2f s | %d | %.1f | %d MB |\n", r.Name, r.MedianSeconds, itemsOf(r), r.ItemsPerSec, r.MedianPeakRSS>>20)
			}
		}
		if s.RestorePending != "" {
			fmt.Fprintf(&b, "\nrigging's restore: not measured (%s).\n", s.RestorePending)
		}
		b.WriteString("\n")
	}
	b.WriteString("| ratio | value | goal |\n|---|---|---|\n")
	keys := make([]string, 0, len(rep.Ratios))
	for k := range rep.Ratios {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %.2f | %s |\n", k, rep.Ratios[k], rep.Goals[strings.TrimSuffix(k, "_raised")])
	}
	fmt.Fprintf(&b, "\n**Bounds** (the API server bare, client-go, no client-side limit): list %.0f objects/s (pages of 500); create %.0f objects/s (%d workers).",
		rep.Bounds.ListObjectsPerSec, rep.Bounds.CreateObjectsPerSec, rep.Bounds.CreateWorkers)
	if len(rep.Settings) > 0 {
		d := rep.Settings[0].Limits
		fmt.Fprintf(&b, " At %s a client makes at most %g requests/s after its burst: a list of %d objects in pages of 500 needs at least %d requests, a restore one create per object (%d creates take at least %.0f s at that QPS).",
			d, d.QPS, rep.Objects, (rep.Objects+499)/500, rep.Objects, float64(max(rep.Objects-d.Burst, 0))/float64(d.QPS))
	}
	b.WriteString("\n")
	return b.String()
}

func itemsOf(r *Row) int {
	if len(r.Samples) == 0 {
		return 0
	}
	return r.Samples[len(r.Samples)-1].Items
}

// Region markers of the race's section of BENCHMARKS.md.
const (
	beginMarker = "<!-- serverrace:begin -->"
	endMarker   = "<!-- serverrace:end -->"
)

// rerender writes docs (or prints) the race saved in path's server_race.
func rerender(path, docs string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc benchmarksFile
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if doc.ServerRace == nil {
		return fmt.Errorf("%s: no server_race", path)
	}
	if docs == "" {
		fmt.Print(doc.ServerRace.Markdown())
		return nil
	}
	return writeDocs(docs, doc.ServerRace)
}

// benchmarksFile is docs/benchmarks.json: bench's report (written by
// interop/cmd/bench, its layout kept) with the race under server_race.
type benchmarksFile struct {
	bench.Report
	ServerRace *Report `json:"server_race,omitempty"`
}

// writeDocs puts the report into dir/benchmarks.json (key server_race; its
// ratios merged into ratios) and its region of dir/BENCHMARKS.md.
func writeDocs(dir string, rep *Report) error {
	path := filepath.Join(dir, "benchmarks.json")
	var doc benchmarksFile
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	doc.ServerRace = rep
	if doc.Ratios == nil {
		doc.Ratios = map[string]float64{}
	}
	for k, v := range rep.Ratios {
		doc.Ratios[k] = v
	}
	j, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(j, '\n'), 0o644); err != nil {
		return err
	}
	return bench.UpdateRegion(filepath.Join(dir, "BENCHMARKS.md"), beginMarker, endMarker, rep.Markdown())
}
