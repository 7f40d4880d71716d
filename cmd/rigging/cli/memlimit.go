package cli

import (
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the share of the cgroup's memory limit that rigging
// sets as the Go runtime's soft memory limit when GOMEMLIMIT is not set.
const memoryLimitShare = 0.9

// noCgroupLimit is at or above what cgroup v1 reports for "no limit".
const noCgroupLimit = 1 << 62

// defaultMemoryLimit returns the soft memory limit rigging runs with when
// the environment sets none (getenv("GOMEMLIMIT") == ""): 90% of the
// memory limit of the cgroup the process runs in (cgroup v2 memory.max, or
// v1 memory.limit_in_bytes), read through readFile. A backup holds its
// items in memory; near the container's limit the collector then works
// harder instead of the kernel killing the process. It returns 0 (leave
// Go's default, no limit) when GOMEMLIMIT is set, when there is no cgroup
// limit, or when it cannot be read.
func defaultMemoryLimit(getenv func(string) string, readFile func(string) ([]byte, error)) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	data, err := readFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	limit := int64(0)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = path.Join("/sys/fs/cgroup", parts[2], "memory.max")
		case strings.Contains(","+parts[1]+",", ",memory,"):
			file = path.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		b, err := readFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= noCgroupLimit { // "max", or v1's "no limit"
			continue
		}
		if limit == 0 || n < limit {
			limit = n
		}
	}
	return int64(float64(limit) * memoryLimitShare)
}

// setDefaultMemoryLimit applies defaultMemoryLimit to the running process.
func setDefaultMemoryLimit() {
	if n := defaultMemoryLimit(os.Getenv, os.ReadFile); n > 0 {
		debug.SetMemoryLimit(n)
	}
}

// The garbage collector's target while `backup create` reads (with
// --from; from a cluster, only once the lists are done: they make garbage,
// each page's body and its decoding, that a fivefold growth lets pile up)
// and backs up its input (backupGCTarget). The input's objects are in a spool,
// outside the heap: what stays in it per object (the index's entry, the
// pipeline's item, the resource list's name) is about 1 KiB, and a few
// hundred bytes while the manifests are read, so small that Go's default
// (a collection each time the heap doubles) collects three times as often
// as with the objects in the heap; a collection every fivefold growth, held
// under a limit of backupMemoryBase and backupMemoryPerItem per object once
// the objects are counted, collects about as often as before the spool
// and keeps the peak of 100 000 generated objects at 2.5 KiB per object
// over the process's baseline (docs/BENCHMARKS.md). The base keeps the
// limit clear of a small backup's live heap: 16 MiB made the collector run
// near-continuously at 10 000 objects. From a cluster, whose Lookup
// caches decoded objects besides the input's, the live heap during a
// backup of 10 000 objects is 40-55 MB: the limit binds there too, at a
// CPU cost (docs/BENCHMARKS.md, "a backup of a cluster spooled").
const (
	backupGCPercent     = 400
	backupMemoryBase    = 64 << 20
	backupMemoryPerItem = 2 << 10
)

// backupGCTarget returns the GOGC and the soft memory limit that a backup
// of items spooled objects runs with, and ok false when the environment
// sets GOGC or GOMEMLIMIT (the user's choice stands, as Go reads it). The
// limit is the lower of current (the limit in force: defaultMemoryLimit's,
// or none, math.MaxInt64) and backupMemoryBase + items ×
// backupMemoryPerItem; items < 0 (not counted yet: the manifests are being
// read) leaves it current.
func backupGCTarget(getenv func(string) string, items int, current int64) (gcPercent int, limit int64, ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0, 0, false
	}
	limit = current
	if items >= 0 {
		if n := backupMemoryBase + int64(items)*backupMemoryPerItem; current <= 0 || n < current {
			limit = n
		}
	}
	return backupGCPercent, limit, true
}

// setBackupGCTarget applies backupGCTarget to the running process (items
// < 0: before the input is read), the limit raised by held, the bytes of
// the objects' JSON the spool keeps in the heap.
func setBackupGCTarget(items int, held int64) {
	cur := debug.SetMemoryLimit(-1)
	if pct, limit, ok := backupGCTarget(os.Getenv, items, cur); ok {
		if limit != cur {
			limit += held
		}
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(pct)
	}
}

// clearBackupGCTarget puts Go's default collection pace back (GOGC 100)
// where setBackupGCTarget(-1, 0) changed it: for an input whose objects
// all stayed in the heap (the spool's memory allowance, backupSpoolMemory,
// or none at all), the default is what keeps its peak low at no CPU cost.
func clearBackupGCTarget() {
	if _, _, ok := backupGCTarget(os.Getenv, -1, 0); ok {
		debug.SetGCPercent(100)
	}
}

// backupSpoolMemory is the JSON the spool of `backup create` from a
// cluster keeps in the heap before it writes to its file
// (resources.Spool.SetMemory): 10 000 generated objects as a cluster
// serves them fit, and their backup is then as fast as with no spool (the
// spool and its GC target cost 25-30% of its wall time, docs/BENCHMARKS.md);
// at 100 000 objects it is 0.5 KiB per object. A backup whose objects all
// fit keeps Go's default collection pace; one that spills gets the GC
// target above. With --from the objects leave the heap from the first (the
// GC target from the start of the read would let a heap of held objects
// grow fivefold).
const backupSpoolMemory = 48 << 20
