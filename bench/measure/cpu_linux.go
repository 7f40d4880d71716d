package measure

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on every
// Linux architecture Go supports).
const clockTick = int64(1e9 / 100)

// cpuTimes returns this process's CPU time and that of its children: the
// reaped ones (getrusage) plus the live ones (/proc/PID/stat of every
// process whose parent is this one, with their own reaped children).
func cpuTimes() (self, children int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = ru.Utime.Nano() + ru.Stime.Nano()
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = ru.Utime.Nano() + ru.Stime.Nano()
	}
	return self, children + liveChildren(os.Getpid())
}

func liveChildren(pid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces) start at
		// field 3 (state); ppid is field 4, utime..cstime fields 14-17.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 15 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != pid {
			continue
		}
		for _, k := range f[11:15] {
			v, _ := strconv.ParseInt(k, 10, 64)
			total += v * clockTick
		}
	}
	return total
}
