// Package measure holds the timing primitives of rigging's benchmark
// harness: batches of timed calls with allocation and CPU accounting, their
// aggregation into results, interleaved rounds over several cases, and a
// line protocol that lets a child process run cases for an orchestrator.
//
// It depends on the standard library only, so a benchmark child that links
// Velero's generated protocol code (which cannot share a binary with
// rigging's) can use it too.
package measure

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is what one batch of operations measured. Times are nanoseconds.
type Sample struct {
	// N is the number of operations in the batch.
	N int `json:"n"`
	// Lat holds each operation's latency when they were timed one by one
	// (empty for parallel batches).
	Lat []int64 `json:"lat,omitempty"`
	// WallNs is the batch's wall time.
	WallNs int64 `json:"wall_ns"`
	// Mallocs and AllocBytes count heap allocations in this process during
	// the batch (runtime.MemStats deltas, so other goroutines count too).
	Mallocs    uint64 `json:"mallocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	// CPUNs is this process's CPU time (user+system) during the batch;
	// ChildCPUNs is that of its child processes (plugins), live or reaped.
	CPUNs      int64 `json:"cpu_ns"`
	ChildCPUNs int64 `json:"child_cpu_ns"`
	// Bytes is the payload moved (object streams), for MB/s.
	Bytes int64 `json:"bytes,omitempty"`
}

type snapshot struct {
	mallocs, bytes uint64
	cpu, child     int64
	wall           time.Time
}

func take() snapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	self, child := cpuTimes()
	return snapshot{mallocs: ms.Mallocs, bytes: ms.TotalAlloc, cpu: self, child: child, wall: time.Now()}
}

func (s snapshot) since(start snapshot, n int) Sample {
	return Sample{
		N: n, WallNs: s.wall.Sub(start.wall).Nanoseconds(),
		Mallocs: s.mallocs - start.mallocs, AllocBytes: s.bytes - start.bytes,
		CPUNs: s.cpu - start.cpu, ChildCPUNs: s.child - start.child,
	}
}

// Calls runs fn n times on one goroutine, timing each call.
func Calls(n int, fn func() error) (Sample, error) {
	lat := make([]int64, n)
	runtime.GC()
	start := take()
	for i := range n {
		t := time.Now()
		if err := fn(); err != nil {
			return Sample{}, fmt.Errorf("call %d: %w", i, err)
		}
		lat[i] = time.Since(t).Nanoseconds()
	}
	s := take().since(start, n)
	s.Lat = lat
	return s, nil
}

// Parallel runs n calls of fn spread over g goroutines and measures the
// batch as a whole.
func Parallel(g, n int, fn func() error) (Sample, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, g)
	runtime.GC()
	start := take()
	for w := range g {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := fn(); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	s := take().since(start, n)
	return s, errors.Join(errs...)
}

// Once times one operation that reports the payload bytes it moved.
func Once(fn func() (int64, error)) (Sample, error) {
	runtime.GC()
	start := take()
	t := time.Now()
	b, err := fn()
	d := time.Since(t).Nanoseconds()
	s := take().since(start, 1)
	s.Lat, s.Bytes = []int64{d}, b
	return s, err
}

// Result aggregates the samples of one case. Its JSON is one entry of
// docs/benchmarks.json's "results".
type Result struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	P50Ns       float64 `json:"p50_ns"`
	P99Ns       float64 `json:"p99_ns"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	OpsPerS     float64 `json:"ops_per_s"`
	MBPerS      float64 `json:"mb_per_s"`
	// Extras beyond the required keys.
	BytesPerOp      float64 `json:"alloc_bytes_per_op"`
	CPUNsPerOp      float64 `json:"cpu_ns_per_op"`       // this process (the host)
	ChildCPUNsPerOp float64 `json:"child_cpu_ns_per_op"` // its children (plugin processes)
	Ops             int     `json:"ops"`
	Goroutines      int     `json:"goroutines,omitempty"`
}

// Aggregate merges the samples of one case. ns_per_op is total wall time
// over total operations (for parallel batches that is the inverse of the
// throughput, not a latency); percentiles come from the per-call latencies.
func Aggregate(name string, samples []Sample) Result {
	r := Result{Name: name}
	var wall, cpu, child, bytes int64
	var mallocs, ab uint64
	var lat []int64
	for _, s := range samples {
		r.Ops += s.N
		wall += s.WallNs
		cpu += s.CPUNs
		child += s.ChildCPUNs
		bytes += s.Bytes
		mallocs += s.Mallocs
		ab += s.AllocBytes
		lat = append(lat, s.Lat...)
	}
	if r.Ops == 0 || wall == 0 {
		return r
	}
	n := float64(r.Ops)
	r.NsPerOp = float64(wall) / n
	r.OpsPerS = n / (float64(wall) / 1e9)
	r.AllocsPerOp = float64(mallocs) / n
	r.BytesPerOp = float64(ab) / n
	r.CPUNsPerOp = float64(cpu) / n
	r.ChildCPUNsPerOp = float64(child) / n
	if bytes > 0 {
		r.MBPerS = float64(bytes) / 1e6 / (float64(wall) / 1e9)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50Ns = float64(percentile(lat, 0.50))
		r.P99Ns = float64(percentile(lat, 0.99))
	}
	return r
}

// percentile returns the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p float64) int64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Case is one thing to measure: Run performs a batch of n operations.
type Case struct {
	Name string
	Run  func(n int) (Sample, error)
}

// Interleave runs rounds rounds; each round runs one batch of n operations
// of every case in turn, so that slow phases of a shared machine hit all
// cases alike. A failing case stops the run with an error naming it.
func Interleave(cases []Case, rounds, n int) ([]Result, error) {
	samples := make([][]Sample, len(cases))
	for range rounds {
		for i, c := range cases {
			s, err := c.Run(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	out := make([]Result, len(cases))
	for i, c := range cases {
		out[i] = Aggregate(c.Name, samples[i])
	}
	return out, nil
}
