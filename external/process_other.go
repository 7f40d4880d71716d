//go:build !linux

package external

import (
	"errors"
	"os"
	"time"
)

// describeExit says how a reaped process ended, as the platform reports it.
func describeExit(st *os.ProcessState, _ bool) string { return st.String() }

// errNoMemoryLimit reports Options.MemoryLimit on a platform without a way
// to hold one process to it.
var errNoMemoryLimit = errors.New("plugin memory limits are only supported on Linux")

// limitMemory fails outside Linux: no portable per-process limit exists.
func limitMemory(int, int64) error { return errNoMemoryLimit }

// groupUsage reads nothing outside Linux: there is no /proc.
func groupUsage(int) (uint64, time.Duration, bool) { return 0, 0, false }

// usageMeasured reports that groupUsage reads no figures here.
const usageMeasured = false
