package external

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// describeExit says how a reaped process ended: "exit status 3", or the
// signal that killed it by name and meaning, with a note on what usually
// sends it. byHost: rigging sent the SIGKILL.
func describeExit(st *os.ProcessState, byHost bool) string {
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return st.String()
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	case !ws.Signaled():
		return st.String()
	}
	sig := ws.Signal()
	if sig == syscall.SIGKILL && byHost {
		return hostKill
	}
	msg := "killed by signal " + signalName(sig)
	if ws.CoreDump() {
		msg += ", core dumped"
	}
	if sig == syscall.SIGKILL {
		msg += ": not sent by rigging; the kernel's OOM killer or a container memory limit may have ended it"
	}
	return msg
}

// signalName is "SIGSEGV (segmentation fault)": the name a user looks up,
// then the C library's description.
func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "SIGABRT", syscall.SIGALRM: "SIGALRM", syscall.SIGBUS: "SIGBUS",
		syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL",
		syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
		syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGSYS: "SIGSYS",
		syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP", syscall.SIGUSR1: "SIGUSR1",
		syscall.SIGUSR2: "SIGUSR2", syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
	}
	name, ok := names[sig]
	if !ok {
		name = "signal " + strconv.Itoa(int(sig))
	}
	return name + " (" + sig.String() + ")"
}

// limitMemory sets the data limit (RLIMIT_DATA: heap, anonymous and
// private writable mappings) of process pid to limit bytes, soft and
// hard, so that neither the plugin nor what it starts can raise it. An
// allocation past it fails (a Go plugin dies with "out of memory").
// RLIMIT_AS would count the address space Go's runtime reserves without
// using it (over 1 GiB) and stop every Go plugin at start.
func limitMemory(pid int, limit int64) error {
	lim := syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_DATA, uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e != 0 {
		return fmt.Errorf("prlimit RLIMIT_DATA %d: %w", limit, e)
	}
	return nil
}

// groupUsage sums the resident memory (VmRSS, bytes) and CPU time (user
// and system) of every live process in process group pgid, read from
// /proc. ok is false when the group has no process left.
func groupUsage(pgid int) (rss uint64, cpu time.Duration, ok bool) {
	dir, err := os.Open("/proc")
	if err != nil {
		return 0, 0, false
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(-1)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		group, ticks, err := readStat(pid)
		if err != nil || group != pgid {
			continue
		}
		ok = true
		cpu += time.Duration(ticks) * time.Second / userHZ
		rss += readRSS(pid)
	}
	return rss, cpu, ok
}

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on every
// Linux architecture Go supports).
const userHZ = 100

// readStat returns the process group and the user plus system time (in
// USER_HZ ticks) of process pid from /proc/PID/stat.
func readStat(pid int) (pgrp int, ticks uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	pgrp, err = strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: pgrp: %w", pid, err)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: times: %v %v", pid, err1, err2)
	}
	return pgrp, ut + st, nil
}

// readRSS returns VmRSS (bytes) of process pid, 0 when it has none (a
// zombie) or cannot be read.
func readRSS(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// usageMeasured reports that groupUsage reads real figures here.
const usageMeasured = true
