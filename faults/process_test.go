package faults

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// host is a Manager over a catalog of fault plugins, as the CLI builds it.
type host struct {
	dir  string
	cat  *external.Catalog
	m    *manager.Manager
	logs *logBuffer
}

func newHost(t testing.TB, opts external.Options, timeouts map[rigging.Kind]time.Duration, names ...string) *host {
	t.Helper()
	h := &host{dir: pluginDir(t, names...)}
	log, logs := newLogger(t)
	h.logs = logs
	opts.Dir, opts.Logger = h.dir, log
	if opts.ProbeTimeout == 0 {
		opts.ProbeTimeout = 20 * time.Second
	}
	cat, err := external.Discover(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Problems()) > 0 {
		t.Fatalf("discovery problems: %v", cat.Problems())
	}
	h.cat = cat
	h.m = manager.New(manager.Options{Registry: registry.New(), External: cat, Logger: log, Timeouts: timeouts})
	t.Cleanup(func() { h.m.Close() })
	return h
}

func (h *host) action(t testing.TB, name string) rigging.BackupItemAction {
	t.Helper()
	a, err := h.m.BackupItemAction(context.Background(), "faults.rigging.dev/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// execute calls Execute on a small ConfigMap named item and returns the
// error and how long the call took.
func execute(a rigging.BackupItemAction, item string) (time.Duration, error) {
	start := time.Now()
	_, _, err := a.Execute(context.Background(), configMap("ns", item, 16), &rigging.Backup{})
	return time.Since(start), err
}

// pidsOf returns the live children of this process run as binary name.
func pidsOf(t testing.TB, name string) []int {
	t.Helper()
	var out []int
	for _, pid := range children(t) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(b, []byte{0})
		if filepath.Base(string(argv0)) == name {
			out = append(out, pid)
		}
	}
	return out
}

// waitFor polls cond every 10ms until it holds or d passes; it reports
// whether it held. Used only to wait for the kernel (process exit), which
// sends no notification to a non-parent.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	return !strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z")
}

// TestPluginHangs: a plugin whose Execute never returns (ignoring its
// context). The call must fail at its deadline plus a small bound, the
// process be killed and a new one started for the next call, and another
// plugin keep answering meanwhile.
func TestPluginHangs(t *testing.T) {
	const deadline = time.Second
	const slack = time.Second
	h := newHost(t, external.Options{MaxCrashes: 100}, map[rigging.Kind]time.Duration{rigging.KindBackupItemAction: deadline}, "hangs", "echo")
	hangs, echo := h.action(t, "hangs"), h.action(t, "echo")
	var prev int
	for round := range 3 {
		errc := make(chan error, 1)
		var took time.Duration
		go func() {
			var err error
			took, err = execute(hangs, "x")
			errc <- err
		}()
		// The host goes on: the other plugin answers while the call hangs.
		if d, err := execute(echo, "y"); err != nil {
			t.Fatalf("round %d: echo during the hang: %v", round, err)
		} else if d > deadline {
			t.Errorf("round %d: echo took %v during the hang", round, d)
		}
		var pid int
		if !waitFor(5*time.Second, func() bool {
			if p := pidsOf(t, "hangs"); len(p) == 1 {
				pid = p[0]
				return true
			}
			return false
		}) {
			t.Fatalf("round %d: no hangs process", round)
		}
		if pid == prev {
			t.Errorf("round %d: same process %d as the last round: not restarted", round, pid)
		}
		prev = pid
		err := <-errc
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "faults.rigging.dev/hangs") {
			t.Errorf("round %d: err = %v, want DeadlineExceeded naming the plugin", round, err)
		}
		if took < deadline || took > deadline+slack {
			t.Errorf("round %d: the call failed after %v, want %v..%v", round, took, deadline, deadline+slack)
		}
		if !waitFor(2*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("round %d: process %d still alive 2s after its call's deadline", round, pid)
		}
		t.Logf("round %d: failed after %v, process %d killed", round, took.Round(time.Millisecond), pid)
	}
}

// TestPluginPanics: a plugin that panics in every call. The SDK recovers:
// every error carries the panic value and matches rigging.ErrPanic, the
// process survives, other plugins keep working.
func TestPluginPanics(t *testing.T) {
	h := newHost(t, external.Options{}, nil, "panicky", "echo")
	p, echo := h.action(t, "panicky"), h.action(t, "echo")
	for i := range 20 {
		_, err := execute(p, "item-"+strconv.Itoa(i))
		if !errors.Is(err, rigging.ErrPanic) || !strings.Contains(err.Error(), "deliberate panic on item-"+strconv.Itoa(i)) {
			t.Fatalf("call %d: err = %v, want ErrPanic with the panic value", i, err)
		}
		if _, err := execute(echo, "y"); err != nil {
			t.Fatalf("echo after panic %d: %v", i, err)
		}
	}
	if n := len(pidsOf(t, "panicky")); n != 1 {
		t.Errorf("%d panicky processes, want the one that recovered every panic", n)
	}
}

// TestPluginCrashes: a plugin whose process dies (an unrecovered panic in a
// goroutine) in every call. Each call fails naming the plugin; after
// MaxCrashes crashes the binary is quarantined and the error says so; the
// other plugin keeps working and the host is unharmed.
func TestPluginCrashes(t *testing.T) {
	const maxCrashes = 3
	h := newHost(t, external.Options{MaxCrashes: maxCrashes, CrashWindow: time.Minute}, nil, "crashy", "echo")
	c, echo := h.action(t, "crashy"), h.action(t, "echo")
	var quarantinedAt int
	for i := range 10 {
		_, err := execute(c, "item-"+strconv.Itoa(i))
		if err == nil {
			t.Fatalf("call %d of a crashing plugin succeeded", i)
		}
		if !strings.Contains(err.Error(), "faults.rigging.dev/crashy") {
			t.Errorf("call %d: error does not name the plugin: %v", i, err)
		}
		t.Logf("call %d: %v", i, err)
		if errors.Is(err, external.ErrQuarantined) {
			if quarantinedAt == 0 {
				quarantinedAt = i
			}
			if !strings.Contains(err.Error(), "quarantined") || !strings.Contains(err.Error(), filepath.Join(h.dir, "crashy")) {
				t.Errorf("quarantine error does not say so and name the binary: %v", err)
			}
		}
		if _, err := execute(echo, "y"); err != nil {
			t.Fatalf("echo after crash %d: %v", i, err)
		}
	}
	if quarantinedAt == 0 || quarantinedAt > maxCrashes+1 {
		t.Errorf("quarantined at call %d, want after %d crashes", quarantinedAt, maxCrashes)
	}
	if !strings.Contains(h.logs.String(), "deliberate crash on item-") {
		t.Errorf("the crash's panic value is not in the host's logs")
	}
	if n := len(pidsOf(t, "crashy")); n != 0 {
		t.Errorf("%d crashy processes after quarantine", n)
	}
}

// TestPluginNoisy: a plugin that writes 8 MiB to stdout and stderr per call,
// including one 3 MiB line. Calls succeed in bounded time and the host
// re-emits the output as log records.
func TestPluginNoisy(t *testing.T) {
	h := newHost(t, external.Options{}, nil, "noisy")
	a := h.action(t, "noisy")
	for i := range 3 {
		d, err := execute(a, "x")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if d > 20*time.Second {
			t.Errorf("call %d took %v", i, d)
		}
		t.Logf("call %d: %v", i, d.Round(time.Millisecond))
	}
	// The output is re-emitted asynchronously; wait for the last call's.
	want := 3 * 4 << 10 // 1 KiB lines per call and stream
	var stdout, stderr int
	waitFor(20*time.Second, func() bool {
		logs := h.logs.String()
		stdout = strings.Count(logs, "stream=stdout")
		stderr = strings.Count(logs, "stream=stderr")
		return stdout >= want && stderr >= want
	})
	t.Logf("log records: %d from stdout, %d from stderr (want %d each)", stdout, stderr, want)
	if stdout < want || stderr < want {
		t.Errorf("plugin output lost: %d stdout and %d stderr records, want %d each", stdout, stderr, want)
	}
}

// TestPluginLeaks: a plugin that allocates until the kernel refuses
// (RLIMIT_DATA 1 GiB in the child, so the machine is not at risk). The call
// fails, the process is gone, the next call gets a new process, the host's
// own memory is unaffected.
func TestPluginLeaks(t *testing.T) {
	h := newHost(t, external.Options{MaxCrashes: 100}, nil, "leaky", "echo")
	a, echo := h.action(t, "leaky"), h.action(t, "echo")
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 2 {
		d, err := execute(a, "x")
		if err == nil {
			t.Fatalf("call %d of a leaking plugin succeeded", i)
		}
		t.Logf("call %d failed after %v: %v", i, d.Round(time.Millisecond), err)
		if d > 60*time.Second {
			t.Errorf("call %d took %v", i, d)
		}
		if _, err := execute(echo, "y"); err != nil {
			t.Fatalf("echo after leak %d: %v", i, err)
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Errorf("host heap grew by %d MiB", grown>>20)
	}
}

// TestPluginClosesMidStream: an object store whose process exits in the
// middle of a body, both ways. A download must end in an error (never a
// short body passing for a whole one), an upload must fail, and the store
// must work again afterwards (restarted).
func TestPluginClosesMidStream(t *testing.T) {
	h := newHost(t, external.Options{MaxCrashes: 100}, nil, "closer")
	ctx := context.Background()
	s, err := h.m.ObjectStore(ctx, "faults.rigging.dev/closer")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(ctx, map[string]string{"bucket": "b"}); err != nil {
		t.Fatal(err)
	}
	// ObjectExists is idempotent, so it restarts a dead process itself;
	// each body transfer below therefore reaches a live process.
	restart := func() {
		t.Helper()
		if _, err := s.ObjectExists(ctx, "b", "x"); err != nil {
			t.Fatalf("exists (restart): %v", err)
		}
	}
	for i := range 2 {
		restart()
		rc, err := s.GetObject(ctx, "b", "big")
		if err != nil {
			t.Logf("get %d: failed at open: %v", i, err)
		} else {
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err == nil {
				t.Fatalf("get %d: read %d of 64 MiB and then a clean EOF: a truncated object passes for a whole one", i, n)
			}
			t.Logf("get %d: read %d bytes, then: %v", i, n, err)
		}
		restart()
		err = s.PutObject(ctx, "b", "up", bytes.NewReader(make([]byte, 4<<20)))
		if err == nil {
			t.Fatalf("put %d: succeeded although the plugin died reading it", i)
		}
		t.Logf("put %d: %v", i, err)
	}
	if ok, err := s.ObjectExists(ctx, "b", "up"); err != nil || ok {
		// A restarted process holds nothing; "up" never completed anyway.
		t.Errorf("after the failures: exists = %v, %v; want false, nil from a restarted process", ok, err)
	}
}
