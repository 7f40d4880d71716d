package bench

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/rigging-dev/rigging/bench/measure"
)

// Report is what a run measured: the JSON of docs/benchmarks.json.
type Report struct {
	Machine Machine          `json:"machine"`
	Results []measure.Result `json:"results"`
	// Ratios holds the keys of Targets that this run could compute.
	Ratios map[string]float64 `json:"ratios"`
	// Missing says, for each key of Targets not in Ratios, why.
	Missing map[string]string `json:"missing,omitempty"`
	// Command is the command line that produced the report.
	Command string `json:"command,omitempty"`
	// Memory holds the peak RSS rows (MeasureMemory), when measured.
	Memory []MemoryRow `json:"memory,omitempty"`
}

// Machine describes where a report was measured.
type Machine struct {
	CPU     string `json:"cpu"`
	CPUs    int    `json:"cpus"`
	OS      string `json:"os"`
	Kernel  string `json:"kernel,omitempty"`
	Go      string `json:"go"`
	LoadAvg string `json:"loadavg,omitempty"` // at the start of the run
	Date    string `json:"date"`
}

// ThisMachine describes the machine running the process.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Date: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// Result returns the result named name.
func (r *Report) Result(name string) (measure.Result, bool) {
	for _, x := range r.Results {
		if x.Name == name {
			return x, true
		}
	}
	return measure.Result{}, false
}

// Target is one ratio of docs/benchmarks.json and the goal it measures.
type Target struct {
	Key string
	// Number is the target number (1-8).
	Number int
	// Want is the bound; AtMost says whether the ratio must stay at or
	// below it (else at or above).
	Want   float64
	AtMost bool
	// Means says in words what the ratio is.
	Means string
	// compute returns the ratio from a report, or why it cannot.
	compute func(r *Report) (float64, string)
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	if t.AtMost {
		return v <= t.Want
	}
	return v >= t.Want
}

// Per-call ratios use the medians (p50) of the interleaved per-call
// latencies: on a shared machine they are far steadier than means.
// Throughput ratios use operations (or MB) per second over whole batches.
func p50(name string) func(r *Report) (float64, string) {
	return func(r *Report) (float64, string) {
		x, ok := r.Result(name)
		if !ok || x.P50Ns == 0 {
			return 0, why(name)
		}
		return x.P50Ns, ""
	}
}

func field(name string, f func(measure.Result) float64) func(r *Report) (float64, string) {
	return func(r *Report) (float64, string) {
		x, ok := r.Result(name)
		if !ok || f(x) == 0 {
			return 0, why(name)
		}
		return f(x), ""
	}
}

func why(name string) string {
	switch {
	case strings.Contains(name, "velero"):
		return "needs " + name + ", which only the interop bench program measures (make bench)"
	case strings.HasPrefix(name, "backup"):
		return "needs " + name + ": no items given (make bench generates gen-large.sh's 10 000)"
	}
	return "needs " + name + ", not measured in this run"
}

func ratio(a, b func(r *Report) (float64, string)) func(r *Report) (float64, string) {
	return func(r *Report) (float64, string) {
		x, w := a(r)
		if w != "" {
			return 0, w
		}
		y, w := b(r)
		if w != "" {
			return 0, w
		}
		return x / y, ""
	}
}

func diff(a, b func(r *Report) (float64, string)) func(r *Report) (float64, string) {
	return func(r *Report) (float64, string) {
		x, w := a(r)
		if w != "" {
			return 0, w
		}
		y, w := b(r)
		if w != "" {
			return 0, w
		}
		return x - y, ""
	}
}

func mean(name string) func(r *Report) (float64, string) {
	return field(name, func(x measure.Result) float64 { return x.NsPerOp })
}

// allocs is allocations per operation to two decimals: the MemStats
// counters also see the few allocations of background goroutines (plugin
// process monitors, the runtime), which add a few ten-thousandths per call
// to 250 000 in-process calls.
func allocs(name string) func(r *Report) (float64, string) {
	return func(r *Report) (float64, string) {
		x, ok := r.Result(name)
		if !ok {
			return 0, why(name)
		}
		return math.Round(x.AllocsPerOp*100) / 100, ""
	}
}
func opsPerS(name string) func(r *Report) (float64, string) {
	return field(name, func(x measure.Result) float64 { return x.OpsPerS })
}
func mbPerS(name string) func(r *Report) (float64, string) {
	return field(name, func(x measure.Result) float64 { return x.MBPerS })
}

// Targets are the ratios of docs/benchmarks.json, in the order.
var Targets = []Target{
	{Key: "inproc_vs_direct_ns", Number: 1, Want: 100, AtMost: true, Means: "ns the Manager adds to a direct call (p50 - p50)",
		compute: diff(p50(InProcess), p50(Direct))},
	{Key: "inproc_allocs", Number: 1, Want: 1, AtMost: true, Means: "allocations the Manager adds per call",
		compute: diff(allocs(InProcess), allocs(Direct))},
	{Key: "velero_vs_inproc", Number: 1, Want: 1000, Means: "Velero→Velero p50 / rigging in-process p50",
		compute: ratio(p50(VeleroVelero), p50(InProcess))},
	{Key: "velero_vs_rpc", Number: 2, Want: 2.5, Means: "Velero→Velero p50 / rigging→rigging p50",
		compute: ratio(p50(VeleroVelero), p50(RiggingRigging))},
	{Key: "rpc_vs_grpc_floor", Number: 2, Want: 1.5, AtMost: true, Means: "rigging→rigging p50 / raw gRPC unary p50",
		compute: ratio(p50(RiggingRigging), p50(FloorGRPC))},
	{Key: "host_allocs_fewer_than_velero", Number: 2, Want: 3, Means: "Velero host allocs / rigging host allocs per call",
		compute: ratio(allocs(VeleroVelero), allocs(RiggingRigging))},
	{Key: "rigginghost_vs_velerohost", Number: 3, Want: 1.3, Means: "Velero host p50 / rigging host p50, same Velero-framework plugin",
		compute: ratio(p50(VeleroVelero), p50(RiggingVelero))},
	{Key: "c8_vs_velero", Number: 4, Want: 3, Means: "rigging→rigging calls/s / Velero→Velero calls/s, 8 goroutines",
		compute: ratio(opsPerS(Parallel(RiggingRigging, 8)), opsPerS(Parallel(VeleroVelero, 8)))},
	{Key: "put_vs_velero", Number: 5, Want: 2, Means: "PutObject MB/s rigging→rigging / Velero→Velero",
		compute: ratio(mbPerS(Put(RiggingRigging)), mbPerS(Put(VeleroVelero)))},
	{Key: "get_vs_velero", Number: 5, Want: 2, Means: "GetObject MB/s rigging→rigging / Velero→Velero",
		compute: ratio(mbPerS(Get(RiggingRigging)), mbPerS(Get(VeleroVelero)))},
	{Key: "discovery_warm_vs_velero", Number: 6, Want: 40, Means: "Velero discovery time / rigging warm (cached) discovery time, 10 binaries",
		compute: ratio(mean(DiscoveryVelero), mean(DiscoveryWarm))},
	{Key: "discovery_cold_vs_velero", Number: 6, Want: 1.5, Means: "Velero discovery time / rigging cold discovery time, 10 binaries",
		compute: ratio(mean(DiscoveryVelero), mean(DiscoveryCold))},
	{Key: "firstcall_vs_velero", Number: 7, Want: 1, Means: "Velero first-call time / rigging first-call time",
		compute: ratio(mean(FirstCallVelero), mean(FirstCall))},
	{Key: "backup_items_per_s", Number: 8, Want: 5000, Means: "items/s of the 10 000-item backup in-process (filesystem store)",
		compute: opsPerS(BackupInProcess)},
	{Key: "backup_inproc_vs_rpc", Number: 8, Want: 20, Means: "all-RPC backup time / in-process backup time",
		compute: ratio(mean(BackupRPC), mean(BackupInProcess))},
	{Key: "backup_workers_speedup", Number: 15, Want: 1.8, Means: "items/s of the in-process backup with 2 item-block workers / with 1, an action waiting 1 ms per item (SleepAction)",
		compute: ratio(opsPerS(BackupSleep2), opsPerS(BackupSleep1))},
}

// Bound is a ratio that bounds a target: the same measurement with one
// side doing only the work no implementation can avoid (the ideal host,
// bench.IdealCall; the backup floor, RunFloor). It is reported next to the
// targets, not in docs/benchmarks.json's ratios.
type Bound struct {
	Number  int    // the target number
	Means   string // the ratio, in words
	Limits  string // what it bounds
	compute func(r *Report) (float64, string)
}

// Bounds are the bounds the harness measures.
var Bounds = []Bound{
	{Number: 2, Means: "ideal host → rigging plugin p50 / raw gRPC unary p50",
		Limits:  "`rpc_vs_grpc_floor` cannot go below it: the plugin's side alone (item JSON decode and encode, the action, its gRPC server)",
		compute: ratio(p50(Ideal("rigging")), p50(FloorGRPC))},
	{Number: 3, Means: "Velero→Velero p50 / ideal host → Velero-framework plugin p50",
		Limits:  "`rigginghost_vs_velerohost` cannot exceed it: no host does less per call than the ideal one",
		compute: ratio(p50(VeleroVelero), p50(Ideal("velero")))},
	{Number: 8, Means: "all-RPC backup time / backup floor time (items encoded and written as the tarball, nothing else)",
		Limits:  "`backup_inproc_vs_rpc` cannot exceed it: the in-process backup does at least the floor's work",
		compute: ratio(mean(BackupRPC), mean(BackupFloor))},
}

func (r *Report) computeRatios() {
	r.Ratios = map[string]float64{}
	r.Missing = map[string]string{}
	for _, t := range Targets {
		v, w := t.compute(r)
		if w != "" {
			r.Missing[t.Key] = w
			continue
		}
		r.Ratios[t.Key] = v
	}
}

// Recompute recomputes the ratios from the results (after results were
// added).
func (r *Report) Recompute() { r.computeRatios() }

func fmtNs(ns float64) string {
	switch {
	case ns == 0:
		return "–"
	case ns < 10_000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 10_000_000:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
}
