package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// MemorySet is one manifest set whose backup MeasureMemory measures.
type MemorySet struct {
	Dir   string // gen-large.sh's output
	Items int    // objects in Dir
}

// MemoryRow is the peak resident set size of `rigging backup create`
// backing up one set into the filesystem store, from manifests or from
// the test API server: the median over Runs child processes, against the
// median of the same command on a one-item input (the baseline: the
// binary, its built-ins, one item; from the cluster, the server's own
// objects).
type MemoryRow struct {
	Name        string  `json:"name"`   // "rss-manifests-<items>", "rss-cluster-<items>-w<workers>"
	Source      string  `json:"source"` // where the items came from: "manifests" or "cluster"
	Items       int     `json:"items"`
	Workers     int     `json:"workers,omitempty"` // --workers (0: the default)
	Runs        int     `json:"runs"`
	PeakRSSKiB  int64   `json:"peak_rss_kib"`
	BaselineKiB int64   `json:"baseline_kib"`
	KiBPerItem  float64 `json:"kib_per_item"` // (peak - baseline) / (items - 1)
	Command     string  `json:"command"`      // one of the measured commands, its temporary paths named
}

// baselineManifest is the one item of the baseline set.
const baselineManifest = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"rss-baseline"}}`

// MeasureMemory runs `binary backup create` runs times on each set, and
// on a one-item baseline set, each in a child process of its own, and
// returns one row per set. Every backup goes to a new filesystem store in
// a temporary directory, removed before MeasureMemory returns.
func MeasureMemory(ctx context.Context, binary string, sets []MemorySet, runs int) ([]MemoryRow, error) {
	r, err := newRSSRunner(binary, runs)
	if err != nil {
		return nil, err
	}
	defer r.close()
	base := filepath.Join(r.work, "baseline")
	if err := os.Mkdir(base, 0o755); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(base, "ns.json"), []byte(baselineManifest), 0o644); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	baseline, _, err := r.median(ctx, nil, "--from", base)
	if err != nil {
		return nil, err
	}
	var rows []MemoryRow
	for _, s := range sets {
		if s.Items < 2 {
			return nil, fmt.Errorf("memory: %s: %d items, want at least 2", s.Dir, s.Items)
		}
		peak, args, err := r.median(ctx, nil, "--from", s.Dir)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r.row(fmt.Sprintf("rss-manifests-%d", s.Items), "manifests", s.Items, 0, peak, baseline, args))
	}
	return rows, nil
}

// rssRunner measures the median peak RSS of backups by one binary, each
// into a new store under work.
type rssRunner struct {
	binary string
	runs   int
	work   string
	seq    int
}

func newRSSRunner(binary string, runs int) (*rssRunner, error) {
	if runs <= 0 {
		runs = 1
	}
	work, err := os.MkdirTemp("", "rigging-bench-rss-")
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return &rssRunner{binary: binary, runs: runs, work: work}, nil
}

// close removes the stores.
func (r *rssRunner) close() { os.RemoveAll(r.work) }

// median runs `backup create NAME create...` r.runs times with env added
// to the environment and returns the median peak RSS and the arguments of
// the last run.
func (r *rssRunner) median(ctx context.Context, env []string, create ...string) (int64, []string, error) {
	var rss []int64
	var args []string
	for range r.runs {
		r.seq++
		store := filepath.Join(r.work, fmt.Sprintf("store-%d", r.seq))
		args = append([]string{"backup", "--config", "root=" + store, "--log-level", "warn",
			"create", fmt.Sprintf("rss-%d", r.seq), "--no-progress"}, create...)
		cmd := exec.Command(r.binary, args...)
		cmd.Env = append(os.Environ(), env...)
		kib, err := PeakRSS(ctx, cmd)
		if err != nil {
			return 0, nil, fmt.Errorf("memory: backup %s: %w", strings.Join(create, " "), err)
		}
		rss = append(rss, kib)
		if err := os.RemoveAll(store); err != nil {
			return 0, nil, fmt.Errorf("memory: %w", err)
		}
	}
	slices.Sort(rss)
	return rss[len(rss)/2], args, nil
}

// row is one MemoryRow of items backed up with a peak of peak KiB.
func (r *rssRunner) row(name, source string, items, workers int, peak, baseline int64, args []string) MemoryRow {
	return MemoryRow{
		Name: name, Source: source, Items: items, Workers: workers, Runs: r.runs,
		PeakRSSKiB: peak, BaselineKiB: baseline,
		KiBPerItem: float64(peak-baseline) / float64(items-1),
		Command:    "rigging " + strings.Join(args, " "),
	}
}

// ErrNoRusage reports a platform whose exited processes carry no
// syscall.Rusage.
var ErrNoRusage = errors.New("no rusage for the child process")

// EnvRSSLauncher set to 1 makes ServeIfChild the launcher of PeakRSS: it
// runs its arguments as a command, writes the command's ru_maxrss to
// standard output and exits with the command's status.
const EnvRSSLauncher = "RIGGING_BENCH_RSS_LAUNCHER"

// PeakRSS runs cmd to completion and returns its peak resident set size in
// KiB (getrusage's ru_maxrss, which Linux reports in KiB), killed with its
// process group when ctx ends. The command is started by a launcher, this
// executable run afresh (its main must call ServeIfChild): Linux counts in
// a process's ru_maxrss the peak of the memory it was started from (Go
// starts children with vfork, so that of this process), and the launcher's
// is small where this process may hold gigabytes. A command that fails is
// an error carrying the end of its standard error.
func PeakRSS(ctx context.Context, cmd *exec.Cmd) (int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	l := exec.Command(self, append([]string{cmd.Path}, cmd.Args[1:]...)...)
	l.Env = append(append([]string{}, cmd.Environ()...), EnvRSSLauncher+"=1")
	l.Dir = cmd.Dir
	var stdout bytes.Buffer
	var stderr tail
	l.Stdout, l.Stderr = &stdout, &stderr
	l.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := l.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			syscall.Kill(-l.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err = l.Wait()
	close(done)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%s: %w: %s", cmd.Path, err, strings.TrimSpace(string(stderr)))
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: launcher's answer %q: %w", cmd.Path, stdout.String(), err)
	}
	return kib, nil
}

// launch is the launcher of PeakRSS: it runs args, the command's standard
// error its own, and returns the exit status to end with.
func launch(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "rss launcher: no command")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, EnvRSSLauncher+"=") })
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rss launcher:", err)
		return 2
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "rss launcher:", ErrNoRusage)
		return 2
	}
	fmt.Println(ru.Maxrss)
	return 0
}

// tail keeps the last 4 KiB written to it.
type tail []byte

func (t *tail) Write(p []byte) (int, error) {
	*t = append(*t, p...)
	if over := len(*t) - 4096; over > 0 {
		*t = (*t)[over:]
	}
	return len(p), nil
}
