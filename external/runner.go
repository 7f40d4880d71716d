package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace bounds how long the host keeps reading a plugin's stdout and
// stderr after the plugin process has exited: a descendant that left the
// plugin's process group may hold the pipes open indefinitely.
const pipeGrace = 2 * time.Second

// errKilledBeforeStart is the start error of a plugin stopped (its start
// cancelled) before its process was started.
var errKilledBeforeStart = errors.New("plugin stopped before it started")

// groupRunner runs one plugin process for go-plugin (as its RunnerFunc).
// Unlike go-plugin's own runner, the process leads a process group of its
// own and every kill (go-plugin's at a start timeout, rigging's at a
// deadline, restart or Close) reaches the whole group; its descendants
// left in the group are killed when it exits; and the host's reads of its
// stdout and stderr end at most pipeGrace after it exits, so nothing waits
// on a pipe a stray descendant keeps open.
type groupRunner struct {
	path string
	args []string
	env  []string // before go-plugin's
	// sockDir ("": none) is where the plugin makes its sockets, instead of
	// the directory go-plugin makes for a runner: one level less keeps
	// socket paths within the 104-108 bytes unix sockets allow.
	sockDir string
	// memLimit (bytes, 0: none) is set on the process as its data limit
	// right after it starts (see limitMemory).
	memLimit int64
	// cpuDone, if not nil, receives the process's CPU time (ns, user and
	// system, its waited-for children included) once it is reaped.
	cpuDone *atomic.Int64

	cmd            *exec.Cmd
	stdout, stderr *os.File // the read ends
	exited         chan struct{}
	waitErr        error // set before exited is closed

	mu        sync.Mutex
	started   bool
	startedAt time.Time
	killed    bool // Kill was called; a later Start fails
	killedRun bool // Kill signalled the group before its leader was seen to exit
	exitSeen  bool // the leader has exited (it may not be reaped yet)
	reaped    bool // the process was waited for: its group ID may be reused
}

// newGroupRunner returns the runner of binary path with args; env comes
// first in its environment, followed by go-plugin's. The plugin makes its
// sockets in sockDir ("": go-plugin's directory).
func newGroupRunner(path string, args, env []string, sockDir string) *groupRunner {
	return &groupRunner{path: path, args: args, env: env, sockDir: sockDir, exited: make(chan struct{})}
}

// attach is the go-plugin RunnerFunc: spec carries the environment
// go-plugin prepared (the host's unless SkipHostEnv, the handshake), which
// wins over r.env; go-plugin's socket directory (tmpDir, inside r.sockDir)
// is replaced by r.sockDir and removed.
func (r *groupRunner) attach(_ hclog.Logger, spec *exec.Cmd, tmpDir string) (runner.Runner, error) {
	r.cmd = exec.Command(r.path, r.args...)
	r.cmd.Env = append(slices.Clip(r.env), spec.Env...)
	if r.sockDir != "" {
		r.cmd.Env = append(r.cmd.Env, "PLUGIN_UNIX_SOCKET_DIR="+r.sockDir)
		if err := os.Remove(tmpDir); err != nil {
			return nil, fmt.Errorf("plugin socket directory: %w", err)
		}
	}
	// Stdin stays /dev/null: a plugin must not read the host's input
	// (rigging exec --item - reads it).
	configureProcess(r.cmd)
	return r, nil
}

// Start starts the process with its stdout and stderr on pipes.
func (r *groupRunner) Start(context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	r.mu.Lock()
	if r.killed {
		err = errKilledBeforeStart
	} else {
		err = r.cmd.Start()
	}
	r.started = err == nil
	r.startedAt = time.Now()
	if err == nil && r.memLimit > 0 {
		// Before go-plugin reads the handshake, so before any call: the
		// limit holds from the plugin's first microseconds (what it mapped
		// before counts against it).
		if lerr := limitMemory(r.cmd.Process.Pid, r.memLimit); lerr != nil {
			killGroup(r.cmd.Process)
			r.killed, r.killedRun = true, true
			err = fmt.Errorf("set the memory limit of plugin %s: %w", r.path, lerr)
		}
	}
	r.mu.Unlock()
	outW.Close()
	errW.Close()
	if err != nil && r.started {
		// Killed above: reap it and end its pipes as wait does.
		r.stdout, r.stderr = outR, errR
		r.wait()
		return err
	}
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	r.stdout, r.stderr = outR, errR
	go r.wait()
	return nil
}

// wait reaps the process once it exits, kills what is left of its group
// and, pipeGrace later, closes the read ends of its pipes.
func (r *groupRunner) wait() {
	p := r.cmd.Process
	if awaitExit(p.Pid) {
		r.mu.Lock()
		r.exitSeen = true
		killGroup(p)
		r.waitErr = r.cmd.Wait()
		r.reaped = true
		r.mu.Unlock()
	} else {
		err := r.cmd.Wait()
		r.mu.Lock()
		r.waitErr = err
		r.reaped = true
		r.mu.Unlock()
	}
	if st := r.cmd.ProcessState; st != nil && r.cpuDone != nil {
		r.cpuDone.Add(int64(st.UserTime() + st.SystemTime()))
	}
	close(r.exited)
	time.AfterFunc(pipeGrace, func() {
		r.stdout.Close()
		r.stderr.Close()
	})
}

// Kill kills the process group (or makes a later Start fail). It does not
// wait; Wait does.
func (r *groupRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killed = true
	if r.started && !r.reaped {
		r.killedRun = r.killedRun || !r.exitSeen
		killGroup(r.cmd.Process)
	}
	return nil
}

// kill is Kill for context.AfterFunc.
func (r *groupRunner) kill() { _ = r.Kill(context.Background()) }

// hasExited reports whether the process has exited and been reaped,
// without waiting.
func (r *groupRunner) hasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// Wait waits until the process has exited and been reaped.
func (r *groupRunner) Wait(context.Context) error {
	<-r.exited
	return r.waitErr
}

// state returns the process's exit state once it has been reaped, else
// nil.
func (r *groupRunner) state() *os.ProcessState {
	select {
	case <-r.exited:
		return r.cmd.ProcessState
	default:
		return nil
	}
}

// hostKill is the exitReason of a process rigging killed.
const hostKill = "killed by rigging (SIGKILL)"

// exitReason says how the process ended ("exit status 3", "killed by
// signal SIGSEGV (segmentation fault)", ...), or "" while it runs. A
// SIGKILL that Kill sent before the process was seen to exit is
// rigging's.
func (r *groupRunner) exitReason() string {
	st := r.state()
	if st == nil {
		return ""
	}
	r.mu.Lock()
	byHost := r.killedRun
	r.mu.Unlock()
	return describeExit(st, byHost)
}

// pid returns the process ID and when the process started; 0 before it
// started.
func (r *groupRunner) pid() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return 0, time.Time{}
	}
	return r.cmd.Process.Pid, r.startedAt
}

func (r *groupRunner) Stdout() io.ReadCloser { return pipeReader{r.stdout} }
func (r *groupRunner) Stderr() io.ReadCloser { return pipeReader{r.stderr} }
func (r *groupRunner) Name() string          { return r.path }

// ID is the process ID, "" before the process started (go-plugin then has
// nothing to kill).
func (r *groupRunner) ID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return ""
	}
	return strconv.Itoa(r.cmd.Process.Pid)
}

func (r *groupRunner) Diagnose(context.Context) string {
	return "the binary did not print go-plugin's handshake line on stdout: is it a plugin for this platform, with the handshake VELERO_PLUGIN=hello?"
}

func (r *groupRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *groupRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// pipeReader reads a pipe that groupRunner may close under the reader: a
// read of the closed pipe is its end.
type pipeReader struct{ f *os.File }

func (p pipeReader) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

func (p pipeReader) Close() error { return p.f.Close() }

var _ runner.Runner = (*groupRunner)(nil)
