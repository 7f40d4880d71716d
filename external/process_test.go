package external

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/internal/proctest"
	"github.com/rigging-dev/rigging/manager"
)

// TestDeathSaysHow: when the plugin process dies under a call, the error
// says how: its exit status, or the signal that killed it (with a note on
// SIGKILL's usual senders), then its last stderr lines; the next call runs
// in a restarted process.
func TestDeathSaysHow(t *testing.T) {
	tests := []struct {
		pod  string
		want []string
		not  string
	}{
		{"exit", []string{"the plugin process died (exit status 3)"}, "signal"},
		{"crash", []string{"(exit status 2)", "test plugin crashed outside a handler"}, ""},
		{"signal-kill", []string{"(killed by signal SIGKILL (killed): not sent by rigging; the kernel's OOM killer or a container memory limit may have ended it)"}, ""},
		{"signal-segv", []string{"(killed by signal SIGSEGV (segmentation fault)"}, "OOM"},
		{"signal-abrt", []string{"(killed by signal SIGABRT (aborted)"}, "OOM"},
		{"signal-term", []string{"(killed by signal SIGTERM (terminated))"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.pod, func(t *testing.T) {
			c := discover(t, Options{Dir: pluginDir(t, nil)})
			a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
			err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod(tt.pod, 0), Backup: backup()})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v\nwant it to say %q", err, w)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("error = %v\nshould not say %q", err, tt.not)
			}
			if !errors.Is(err, rigging.ErrPluginUnavailable) || errors.Is(err, ErrMemoryLimit) {
				t.Errorf("error = %v: want ErrPluginUnavailable, not ErrMemoryLimit", err)
			}
			if err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0), Backup: backup()}); err != nil {
				t.Errorf("call after the death: %v", err)
			}
		})
	}
}

// TestKilledByHostSaysSo: a process rigging kills (a call that outlived
// its deadline) is not reported as a SIGKILL from elsewhere.
func TestKilledByHostSaysSo(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
	if err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0), Backup: backup()}); err != nil {
		t.Fatal(err)
	}
	p := c.procs[filepath.Join(c.opts.Dir, "testplugin")]
	p.mu.Lock()
	run, gen := p.run, p.gen
	p.mu.Unlock()
	p.broken(gen, "test", 0)
	<-run.exited
	if got := run.exitReason(); got != "killed by rigging (SIGKILL)" {
		t.Errorf("exitReason = %q", got)
	}
}

// TestMemoryLimit: with Options.MemoryLimit, a plugin that allocates past
// it fails its call with an error naming the binary and the limit
// (ErrMemoryLimit, not ErrPluginUnavailable), without a retry; the process
// is restarted and the next call works (one restart in all). A plugin
// allocating within the limit is not disturbed.
func TestMemoryLimit(t *testing.T) {
	ctx := context.Background()
	c := discover(t, Options{Dir: pluginDir(t, nil), MemoryLimit: 256 << 20})
	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, _, err := a.Execute(ctx, pod("alloc-32", 0), backup()); err != nil {
		t.Fatalf("32 MiB within a 256 MiB limit: %v", err)
	}
	_, _, err := a.Execute(ctx, pod("alloc-512", 0), backup())
	bin := filepath.Join(c.opts.Dir, "testplugin")
	if err == nil {
		t.Fatal("allocating 512 MiB under a 256 MiB limit succeeded")
	}
	want := "plugin binary " + bin + " exceeded its memory limit of 256Mi"
	if !strings.Contains(err.Error(), want) || !errors.Is(err, ErrMemoryLimit) || errors.Is(err, rigging.ErrPluginUnavailable) {
		t.Errorf("error = %v\nwant it to say %q and match ErrMemoryLimit, not ErrPluginUnavailable", err, want)
	}
	if _, _, err := a.Execute(ctx, pod("p", 0), backup()); err != nil {
		t.Errorf("call after the restart: %v", err)
	}
	if s := c.ProcessStats(); len(s) != 1 || s[0].Restarts != 1 {
		t.Errorf("stats = %+v, want one restart", s)
	}
}

// TestMemoryLimitTooSmallToStart: a plugin that dies at start under a
// limit too small for it is reported with the limit it ran under.
func TestMemoryLimitTooSmallToStart(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	c.opts.MemoryLimit = 16 << 20
	a := open[rigging.DeleteItemAction](t, c, rigging.KindDeleteItemAction, testplugin.DIA)
	err := a.Execute(context.Background(), &rigging.DeleteItemActionExecuteInput{Item: pod("p", 0), Backup: backup()})
	if err == nil {
		t.Fatal("no error")
	}
	// Go's runtime says so ("runtime/cgo: malloc failed") or dies of a
	// SIGSEGV without a word, as the moment its first allocation fails.
	said := strings.Contains(err.Error(), "exceeded its memory limit of 16Mi") && errors.Is(err, ErrMemoryLimit)
	if !said && !strings.Contains(err.Error(), "it ran under a memory limit of 16Mi, which may be the cause") || !errors.Is(err, rigging.ErrPluginUnavailable) {
		t.Errorf("error = %v, want the memory limit named", err)
	}
}

// TestProcessStats: the stats of a binary's process follow it: its PID,
// its resident memory (a 128 MiB allocation shows), CPU time, restarts
// and the calls running on it; the Manager exports them as metrics
// labelled with the binary.
func TestProcessStats(t *testing.T) {
	ctx := context.Background()
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	bin := filepath.Join(c.opts.Dir, "testplugin")
	if s := c.ProcessStats(); len(s) != 0 {
		t.Errorf("stats before any use = %+v", s)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := c.ProcessStats()
	if len(s) != 1 || s[0].Binary != bin || !s[0].Running || s[0].PID == 0 || s[0].Restarts != 0 || s[0].OpenCalls != 0 {
		t.Fatalf("stats after Start = %+v", s)
	}
	first := s[0]
	if first.Measured != usageMeasured || usageMeasured && first.RSS == 0 {
		t.Errorf("stats after Start = %+v, want RSS measured", first)
	}

	a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
	if _, _, err := a.Execute(ctx, pod("alloc-128", 0), backup()); err != nil {
		t.Fatal(err)
	}
	s = c.ProcessStats()
	if s[0].PID != first.PID {
		t.Errorf("PID %d -> %d without a restart", first.PID, s[0].PID)
	}
	if usageMeasured && (s[0].RSS < 128<<20 || s[0].CPU <= 0) {
		t.Errorf("after touching 128 MiB: RSS %d, CPU %s", s[0].RSS, s[0].CPU)
	}
	cpu := s[0].CPU

	// A call in progress is an open call.
	callCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := a.Execute(callCtx, pod("sleep", 0), backup())
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); c.ProcessStats()[0].OpenCalls != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the running call never showed as open")
		}
		time.Sleep(5 * time.Millisecond) // polling another goroutine's progress
	}
	reg := prometheus.NewRegistry()
	m := manager.New(manager.Options{External: c, Metrics: reg})
	got := gather(t, reg, bin)
	if got[manager.MetricProcessOpenCalls] != 1 || got[manager.MetricProcessRestarts] != 0 ||
		usageMeasured && (got[manager.MetricProcessRSS] < 128<<20 || got[manager.MetricProcessCPU] <= 0) {
		t.Errorf("metrics = %v", got)
	}
	cancel()
	<-done
	if s := c.ProcessStats(); s[0].OpenCalls != 0 {
		t.Errorf("after the call returned: %+v", s[0])
	}
	// A restart: the CPU time of the dead process still counts.
	p := c.procs[bin]
	p.mu.Lock()
	run := p.run
	p.mu.Unlock()
	run.cmd.Process.Kill()
	<-run.exited
	if _, _, err := a.Execute(ctx, pod("p", 0), backup()); err != nil {
		t.Fatal(err)
	}
	s = c.ProcessStats()
	if s[0].OpenCalls != 0 || s[0].Restarts != 1 || s[0].PID == first.PID || s[0].CPU < cpu {
		t.Errorf("after a restart: %+v (CPU before %s)", s[0], cpu)
	}
	if got := gather(t, reg, bin); got[manager.MetricProcessRestarts] != 1 || got[manager.MetricProcessOpenCalls] != 0 {
		t.Errorf("metrics after a restart = %v", got)
	}
	m.Close()
	if got := gather(t, reg, bin); len(got) != 0 {
		t.Errorf("metrics after Close = %v", got)
	}
}

// gather returns the process metrics of binary bin in reg by name.
func gather(t *testing.T, reg *prometheus.Registry, bin string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "rigging_plugin_process_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue(m, "binary") != bin {
				continue
			}
			if mf.GetType() == dto.MetricType_COUNTER {
				out[mf.GetName()] = m.GetCounter().GetValue()
			} else {
				out[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestDescribeExit: how a process ended, from a real child's wait status.
func TestDescribeExit(t *testing.T) {
	if !usageMeasured {
		t.Skip("signal descriptions are Linux's")
	}
	tests := []struct {
		script string
		byHost bool
		want   string
	}{
		{"exit 0", false, "exit status 0"},
		{"exit 3", false, "exit status 3"},
		{"kill -s SEGV $$", false, "killed by signal SIGSEGV (segmentation fault)"},
		{"kill -s KILL $$", true, "killed by rigging (SIGKILL)"},
		{"kill -s KILL $$", false, "killed by signal SIGKILL (killed): not sent by rigging; the kernel's OOM killer or a container memory limit may have ended it"},
		{"kill -s USR1 $$", false, "killed by signal SIGUSR1 (user defined signal 1)"},
	}
	for _, tt := range tests {
		cmd := exec.Command("/bin/sh", "-c", tt.script)
		_ = cmd.Run()
		if got := describeExit(cmd.ProcessState, tt.byHost); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s (by host %v): %q, want %q", tt.script, tt.byHost, got, tt.want)
		}
	}
}

// TestReadStat: /proc/PID/stat is parsed past a command holding spaces
// and parentheses.
func TestReadStat(t *testing.T) {
	if !usageMeasured {
		t.Skip("no /proc")
	}
	pgrp, _, err := readStat(os.Getpid())
	if err != nil || pgrp != syscall.Getpgrp() {
		t.Errorf("readStat(self) = %d, %v; want group %d", pgrp, err, syscall.Getpgrp())
	}
	dir := t.TempDir()
	odd := filepath.Join(dir, "a) (b c")
	os.Symlink("/bin/sleep", odd)
	cmd := exec.Command(odd, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if pgrp, _, err := readStat(cmd.Process.Pid); err != nil || pgrp != syscall.Getpgrp() {
		t.Errorf("readStat(%q) = %d, %v", odd, pgrp, err)
	}
	if rss := readRSS(cmd.Process.Pid); rss == 0 {
		t.Error("readRSS = 0")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{256 << 20: "256Mi", 1 << 30: "1Gi", 1536 << 20: "1536Mi", 1000: "1000", 4 << 10: "4Ki", 3 << 40: "3Ti"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestProcessStatsCoverGroup: a plugin's resident memory counts every
// process of its process group: the helper it started too.
func TestProcessStatsCoverGroup(t *testing.T) {
	if !usageMeasured {
		t.Skip("no /proc")
	}
	dir := pluginDir(t, nil)
	c := discover(t, Options{Dir: dir})
	pidFile := filepath.Join(t.TempDir(), "child")
	t.Setenv("RIGGING_TESTPLUGIN_CHILD", pidFile) // the started process, not the probe, writes it
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	child := proctest.ReadPID(t, pidFile)
	s := c.ProcessStats()
	if len(s) != 1 || !s[0].Running {
		t.Fatalf("stats = %+v", s)
	}
	if pgrp, _, err := readStat(child); err != nil || pgrp != s[0].PID {
		t.Fatalf("child %d: group %d, %v; want the plugin's, %d", child, pgrp, err, s[0].PID)
	}
	// The processes are still starting, their RSS growing: each is read
	// before the group is, so that the group's is the later figure.
	leader, helper := readRSS(s[0].PID), readRSS(child)
	s = c.ProcessStats()
	if len(s) != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if helper == 0 || s[0].RSS < leader+helper/2 {
		t.Errorf("group RSS %d; the plugin alone %d, its helper %d (read before)", s[0].RSS, leader, helper)
	}
}

// TestTailSeesFailedAllocation: under a memory limit (watch), the stderr
// lines that tell of a failed allocation are noticed, even once no longer
// held; hclog JSON lines and other lines are not; without a limit nothing
// is scanned.
func TestTailSeesFailedAllocation(t *testing.T) {
	tests := []struct {
		line       string
		watch      bool
		oom, fault bool
	}{
		{"fatal error: runtime: out of memory", true, true, false},
		{"runtime/cgo: malloc failed: Cannot allocate memory", true, true, false},
		{"terminate called after throwing an instance of 'std::bad_alloc'", true, true, false},
		{"SIGSEGV: segmentation violation", true, false, true},
		{"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a]", true, false, false}, // a goroutine's nil dereference
		{`{"@level":"error","@message":"cache out of memory, evicting"}`, true, false, false},
		{"fatal error: runtime: out of memory", false, false, false},
		{"panic: boom", true, false, false},
	}
	for _, tt := range tests {
		var tail outputTail
		tail.watch = tt.watch
		tail.add(tt.line)
		for range tailLines {
			tail.add("goroutine 1 [running]:") // the line leaves the ring
		}
		if oom, fault := tail.sawOutOfMemory(); oom != tt.oom || fault != tt.fault {
			t.Errorf("%q (watch %v): oom %v fault %v, want %v %v", tt.line, tt.watch, oom, fault, tt.oom, tt.fault)
		}
	}
}
