package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/manager"
)

// process supervises one plugin binary: started at first use, shared by
// every kind and instance it serves, restarted on the next call after it
// dies, backed off and finally quarantined when it keeps crashing.
type process struct {
	path string
	cat  *Catalog // its options, socket directory and TLS memory
	log  *slog.Logger
	sec  *goplugin.SecureConfig

	// dp is the data path state of the current process (its connection).
	dp atomic.Pointer[dataPathState]
	// open counts the calls running on the process now; cpuDone the CPU
	// time (ns) of its processes that have exited (see ProcessStats).
	open    atomic.Int64
	cpuDone atomic.Int64

	mu          sync.Mutex
	client      *goplugin.Client
	run         *groupRunner
	cc          *grpc.ClientConn
	tail        *outputTail // the current process's last stderr lines
	gen         uint64      // incremented at each start
	crashes     []time.Time
	lastErr     error
	quarantined error
	closed      bool
}

// conn returns a connection to a running process, starting or restarting
// it first when needed, and the generation it belongs to.
func (p *process) conn(ctx context.Context) (*grpc.ClientConn, uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, ErrClosed
	}
	if p.quarantined != nil {
		return nil, 0, p.quarantined
	}
	if p.client != nil {
		if !p.client.Exited() {
			return p.cc, p.gen, nil
		}
		note, _ := p.cat.exitNote(p.path, p.run, p.tail)
		p.brokenLocked("process exited"+note, true)
	}
	recent := p.recentCrashesLocked()
	if recent >= p.cat.opts.MaxCrashes {
		p.quarantined = unavailable(fmt.Errorf("plugin binary %s: %w: %d crashes within %s (last: %v); fix or replace the binary and restart",
			p.path, ErrQuarantined, recent, p.cat.opts.CrashWindow, p.lastErr))
		p.log.Error("plugin quarantined", "path", p.path, "crashes", recent, "last_error", p.lastErr)
		return nil, 0, p.quarantined
	}
	if recent > 0 {
		// Back off: none for the first restart, then 100ms, 200ms, ...
		if d := backoff(recent); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, 0, ctx.Err()
			case <-t.C:
			}
		}
		p.log.Info("restarting plugin process", "path", p.path, "recent_crashes", recent)
	}
	if err := p.startLocked(ctx, p.cat.opts.StartTimeout); err != nil {
		p.crashes = append(p.crashes, time.Now())
		p.lastErr = err
		return nil, 0, unavailable(err)
	}
	return p.cc, p.gen, nil
}

func backoff(recent int) time.Duration {
	if recent <= 1 {
		return 0
	}
	d := 100 * time.Millisecond << (recent - 2)
	return min(d, 5*time.Second)
}

func (p *process) recentCrashesLocked() int {
	cut := time.Now().Add(-p.cat.opts.CrashWindow)
	kept := p.crashes[:0]
	for _, t := range p.crashes {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	p.crashes = kept
	return len(kept)
}

// stats returns the process's resource use (see Catalog.ProcessStats).
func (p *process) stats() manager.ProcessStats {
	p.mu.Lock()
	run, gen := p.run, p.gen
	p.mu.Unlock()
	s := manager.ProcessStats{Binary: p.path, OpenCalls: p.open.Load(), Measured: usageMeasured}
	if gen > 1 {
		s.Restarts = gen - 1
	}
	cpu := time.Duration(p.cpuDone.Load())
	if run != nil && run.state() == nil {
		pid, started := run.pid()
		if pid > 0 {
			s.PID, s.Running, s.Uptime = pid, true, time.Since(started)
			rss, groupCPU, ok := groupUsage(pid)
			s.RSS, cpu = rss, cpu+groupCPU
			s.Measured = s.Measured && ok
		}
	}
	s.CPU = cpu
	return s
}

// formatBytes writes n in the largest binary unit that divides it
// ("256Mi", "1Gi", "1000"), as Kubernetes quantities do.
func formatBytes(n int64) string {
	for _, u := range [...]struct {
		suffix string
		shift  uint
	}{{"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// startLocked launches the binary and connects to it; cancelling ctx
// kills it while it starts.
func (p *process) startLocked(ctx context.Context, timeout time.Duration) error {
	client, run, cc, tail, err := p.cat.launch(ctx, p.path, p.log, p.sec, timeout, &p.cpuDone)
	if err != nil {
		return err
	}
	p.client, p.run, p.cc, p.tail = client, run, cc, tail
	p.gen++
	p.dp.Store(&dataPathState{cc: cc, log: p.log, path: p.path})
	return nil
}

// dataPathOf returns the data path state of the process whose connection
// is cc, or nil when cc is no longer the current process's.
func (p *process) dataPathOf(cc grpc.ClientConnInterface) *dataPathState {
	if st := p.dp.Load(); st != nil && st.cc == cc {
		return st
	}
	return nil
}

// launch starts one plugin process with Velero's handshake, in a process
// group of its own (see groupRunner). Cancelling ctx while it starts kills
// it. With AutoMTLS, a plugin whose handshake carries no server
// certificate is started again without TLS (or refused with RequireMTLS).
func (c *Catalog) launch(ctx context.Context, path string, log *slog.Logger, sec *goplugin.SecureConfig, timeout time.Duration, cpuDone *atomic.Int64) (*goplugin.Client, *groupRunner, *grpc.ClientConn, *outputTail, error) {
	opts := &c.opts
	if sec != nil {
		// Checked here, not by go-plugin, which would check its runner's
		// (empty) path. The hash is reused by every restart.
		sec.Hash.Reset()
		ok, err := sec.Check(path)
		if err == nil && !ok {
			err = goplugin.ErrChecksumsDoNotMatch
		}
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("start plugin %s: verify checksum: %w", path, err)
		}
	}
	mtls := opts.AutoMTLS
	if _, plain := c.plainOnly.Load(path); plain {
		mtls = false
	}
	for {
		run := newGroupRunner(path, opts.Args, c.environ(), c.sockDir)
		run.memLimit, run.cpuDone = opts.MemoryLimit, cpuDone
		base := filepath.Base(path)
		out := newPluginOutput(log, base)
		tail := &out.tail
		tail.watch = opts.MemoryLimit > 0
		cfg := &goplugin.ClientConfig{
			HandshakeConfig: plugin.Handshake,
			Plugins:         goplugin.PluginSet{pluginKey: hostPlugin{}},
			RunnerFunc:      run.attach,
			// go-plugin makes a socket directory per process for a
			// RunnerFunc: inside the catalog's private one (the runner
			// removes it and uses the catalog's).
			UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: c.sockDir},
			AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
			Logger:           newHCLog(log, base),
			Stderr:           out,
			StartTimeout:     timeout,
			AutoMTLS:         mtls,
			SkipHostEnv:      opts.EnvAllow != nil,
			SyncStdout:       lineLogger(log, base, "stdout"),
			SyncStderr:       lineLogger(log, base, "stderr"),
			GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(wire.MaxMessageSize), grpc.MaxCallSendMsgSize(wire.MaxMessageSize))},
		}
		client := goplugin.NewClient(cfg)
		// Until connected, cancelling ctx kills the process group: go-plugin's
		// Start and Client take no context, and return once it is dead.
		stopWatch := context.AfterFunc(ctx, run.kill)
		_, err := client.Start()
		// go-plugin keeps the server's certificate in cfg.TLSConfig; none
		// means the server ignored PLUGIN_CLIENT_CERT and serves plaintext,
		// which a TLS client cannot talk to.
		plain := err == nil && mtls && (cfg.TLSConfig == nil || cfg.TLSConfig.RootCAs == nil)
		var rpcClient goplugin.ClientProtocol
		if err == nil && !plain {
			rpcClient, err = client.Client()
		}
		stopWatch()
		if err == nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if err != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			// The caller's deadline (the probe timeout) killed the group
			// before go-plugin's own StartTimeout fired, and go-plugin then
			// saw stdout close: say what happened, not what it saw.
			err = fmt.Errorf("timeout while waiting for plugin to start: %w", context.Cause(ctx))
		}
		if err == nil && plain {
			run.kill()
			client.Kill()
			if opts.RequireMTLS {
				return nil, nil, nil, nil, fmt.Errorf("start plugin %s: %w", path, ErrNoMTLS)
			}
			log.Warn("plugin does not negotiate mutual TLS (AutoMTLS); running it without TLS over its private socket", "path", path)
			c.plainOnly.Store(path, true)
			mtls = false
			continue
		}
		if err != nil {
			run.kill()    // the whole group, whatever go-plugin killed
			client.Kill() // also waits until its stderr has been read
			note, cause := c.exitNote(path, run, tail)
			err = fmt.Errorf("start plugin %s: %w%s%s", path, err, note, tail.suffix())
			if cause != nil {
				err = &causedError{err: err, causes: []error{cause}}
			}
			return nil, nil, nil, nil, err
		}
		gc, ok := rpcClient.(*goplugin.GRPCClient)
		if !ok {
			run.kill()
			client.Kill()
			return nil, nil, nil, nil, fmt.Errorf("start plugin %s: not a gRPC plugin", path)
		}
		return client, run, gc.Conn, tail, nil
	}
}

// lineLogger re-emits what a plugin writes to its (redirected) stdout or
// stderr after the handshake, one log record per line. It holds no
// goroutine; a partial line waits for its end (or is flushed at 64 KiB).
func lineLogger(log *slog.Logger, binary, stream string) io.Writer {
	return &lineWriter{log: log, binary: binary, stream: stream}
}

type lineWriter struct {
	log            *slog.Logger
	binary, stream string
	mu             sync.Mutex
	buf            []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 && len(w.buf) < 64<<10 {
			break
		}
		if i < 0 {
			i = len(w.buf)
		}
		if line := strings.TrimRight(string(w.buf[:i]), "\r"); line != "" {
			w.log.Info(line, "binary", w.binary, "stream", w.stream)
		}
		w.buf = w.buf[min(i+1, len(w.buf)):]
	}
	if len(w.buf) == 0 {
		w.buf = nil // release the backing array
	}
	return len(p), nil
}

const pluginKey = "velero"

// hostPlugin is the host half of the go-plugin plugin map; rigging uses the
// raw connection.
type hostPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (hostPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("external: the host side serves nothing")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

// failed classifies a failed call on generation gen. A dead connection
// marks the process broken (the next call restarts it) and returns true: the
// call may be retried. A call whose deadline expired is abandoned and the
// process killed, since the plugin may still be running it (Velero's plugins
// never look at their context).
func (p *process) failed(ctx context.Context, gen uint64, err error) (restarted bool, note string, cause error) {
	code := status.Code(err)
	switch {
	case deadlinePassed(ctx, code, err):
		p.broken(gen, "call outlived its deadline; killing the plugin", 0)
		return false, "", nil
	case code == codes.Unavailable:
		if p.healthy(gen) {
			return false, "", nil // the plugin itself answered Unavailable
		}
		note, cause := p.broken(gen, "connection lost: "+status.Convert(err).Message(), exitGrace)
		return true, "; the plugin process died" + note, cause
	}
	p.mu.Lock()
	exited := gen == p.gen && p.client != nil && p.client.Exited()
	p.mu.Unlock()
	if exited {
		note, cause := p.broken(gen, "process exited", exitGrace)
		return true, "; the plugin process died" + note, cause
	}
	return false, "", nil
}

// exitGrace is how long a process whose connection was lost is given to
// exit by itself before it is killed, so that the error reports its own
// end (an exit status, a signal) rather than rigging's kill. A process
// that lost its connection is almost always exiting already.
const exitGrace = time.Second

// deadlinePassed reports a call that failed because ctx's deadline passed.
// The plugin's server may enforce the deadline (it travels as grpc-timeout)
// a moment before the host's own timer fires, so a DeadlineExceeded status
// within a second of ctx's deadline counts too.
func deadlinePassed(ctx context.Context, code codes.Code, err error) bool {
	if code != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) && !reportsDeadline(code, err) {
		return false
	}
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < time.Second
}

// reportsDeadline reports a plugin's own answer that its context's deadline
// passed: a handler that returns its context's error sends it as code
// Unknown with the context's message (Velero's framework and rigging's SDK
// alike), and that answer can arrive a moment before the host's own timer
// fires.
func reportsDeadline(code codes.Code, err error) bool {
	return code == codes.Unknown && strings.HasSuffix(status.Convert(err).Message(), context.DeadlineExceeded.Error())
}

// deadlineError is the error of a call that failed at its context's
// deadline whatever code the plugin answered with: it reads as the
// plugin's error and matches context.DeadlineExceeded too.
type deadlineError struct{ err error }

func (e *deadlineError) Error() string   { return e.err.Error() }
func (e *deadlineError) Unwrap() []error { return []error{e.err, context.DeadlineExceeded} }

// remoteError turns the status of a failed call into its error, matching
// context.DeadlineExceeded when the call failed at ctx's deadline.
func remoteError(ctx context.Context, err error) error {
	re := wire.FromStatus(err)
	if !errors.Is(re, context.DeadlineExceeded) && deadlinePassed(ctx, status.Code(err), err) {
		return &deadlineError{re}
	}
	return re
}

// stale reports whether generation gen is known to have exited, or its
// connection is not ready and the process does not answer a health check.
func (p *process) stale(cc *grpc.ClientConn, gen uint64) bool {
	p.mu.Lock()
	// The runner learns of the exit first (its Wait returns), go-plugin's
	// client a moment later, in its own goroutine.
	exited := gen == p.gen && (p.client != nil && p.client.Exited() || p.run != nil && p.run.hasExited())
	p.mu.Unlock()
	if exited {
		return true
	}
	if cc.GetState() == connectivity.Ready {
		return false
	}
	return !p.healthy(gen)
}

// healthy asks go-plugin's health service of generation gen whether the
// process still serves, to tell a dead process from a plugin that returned
// code Unavailable itself.
func (p *process) healthy(gen uint64) bool {
	p.mu.Lock()
	cc := p.cc
	ok := gen == p.gen && cc != nil
	p.mu.Unlock()
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// broken kills generation gen of the process (if still current), records
// a crash, and returns how the process ended and its last stderr lines
// (as a suffix for an error), read to the end: a dying plugin's panic is
// there. The process is first given up to grace to exit by itself. cause
// is ErrMemoryLimit when it died exceeding Options.MemoryLimit.
func (p *process) broken(gen uint64, why string, grace time.Duration) (note string, cause error) {
	p.mu.Lock()
	if gen != p.gen || p.client == nil {
		p.mu.Unlock()
		return "", nil
	}
	run := p.run
	p.mu.Unlock()
	if grace > 0 && run != nil {
		t := time.NewTimer(grace)
		select {
		case <-run.exited:
		case <-t.C:
		}
		t.Stop()
	}
	p.mu.Lock()
	if gen != p.gen || p.client == nil {
		p.mu.Unlock()
		return "", nil // another caller found it broken meanwhile
	}
	client, tail := p.client, p.tail
	p.brokenLocked(why, false)
	p.mu.Unlock()
	client.Kill() // the process is dead: returns once its output is read
	note, cause = p.cat.exitNote(p.path, run, tail)
	if note != "" {
		p.log.Warn("plugin process ended", "path", p.path, "how", strings.TrimPrefix(note, " "))
	}
	return note + tail.suffix(), cause
}

// exitNote says how run's process of binary path ended, as " (exit
// status 3)", and that it exceeded Options.MemoryLimit when it reported a
// failed allocation (cause is then ErrMemoryLimit); "" while it runs.
func (c *Catalog) exitNote(path string, run *groupRunner, tail *outputTail) (note string, cause error) {
	if run == nil {
		return "", nil
	}
	how := run.exitReason()
	if how == "" {
		return "", nil
	}
	limit := formatBytes(c.opts.MemoryLimit)
	switch oom, fault := tail.sawOutOfMemory(); {
	case c.opts.MemoryLimit > 0 && oom:
		return fmt.Sprintf(" (%s: plugin binary %s %v of %s)", how, path, ErrMemoryLimit, limit), ErrMemoryLimit
	case c.opts.MemoryLimit > 0 && fault:
		return fmt.Sprintf(" (%s: plugin binary %s %v of %s: its Go runtime faulted, as it does when an allocation fails under the limit)", how, path, ErrMemoryLimit, limit), ErrMemoryLimit
	case c.opts.MemoryLimit > 0 && how != hostKill:
		// A runtime whose allocation fails may crash without saying so
		// (Go's garbage collector faults on a nil page): the limit may be
		// the cause, but nothing proves it.
		return fmt.Sprintf(" (%s; it ran under a memory limit of %s, which may be the cause)", how, limit), nil
	}
	return " (" + how + ")", nil
}

// brokenLocked kills the current process and records a crash; with
// reap, go-plugin's clean-up runs in the background.
func (p *process) brokenLocked(why string, reap bool) {
	p.log.Warn("plugin process failed", "path", p.path, "reason", why)
	p.crashes = append(p.crashes, time.Now())
	p.lastErr = errors.New(why)
	client, run := p.client, p.run
	p.client, p.run, p.cc, p.tail = nil, nil, nil, nil
	if run != nil {
		run.kill()
	}
	if reap {
		go client.Kill() // reaps and cleans up; the process is already dead
	}
}

// stop shuts the process down: go-plugin's graceful Shutdown, then a kill
// once grace has passed. Later calls fail with ErrClosed.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	p.closed = true
	client, run, cc := p.client, p.run, p.cc
	p.client, p.run, p.cc = nil, nil, nil
	p.mu.Unlock()
	if client != nil {
		stopClient(client, run, cc, grace)
	}
}

// stopClient stops a started plugin: go-plugin's graceful Shutdown, then,
// after grace, a kill of its process group. Whatever of the group is
// left when the plugin exits is killed too (groupRunner).
func stopClient(client *goplugin.Client, run *groupRunner, cc *grpc.ClientConn, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Shutdown's reply may never come: the server stops while answering.
	_ = cc.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
	// go-plugin offers no exit channel short of its own Kill (which caps
	// the grace at 2 s), so poll, from 100 µs up to every 10 ms: a plugin
	// usually exits within a few milliseconds of Shutdown, and discovery
	// stops one process per binary.
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for wait := 100 * time.Microsecond; !client.Exited(); wait = min(2*wait, 10*time.Millisecond) {
		t.Reset(wait)
		select {
		case <-ctx.Done():
			run.kill()
			client.Kill()
			return
		case <-t.C:
		}
	}
	client.Kill()
}

// supervisedInvoker is the invoker of one Catalog client: it runs each call
// on the client's supervised process (started or restarted as needed),
// replays Init in a restarted process and retries idempotent calls.
type supervisedInvoker struct {
	p    *process
	name rigging.Name

	mu      sync.Mutex
	init    func(context.Context, grpc.ClientConnInterface) error
	initGen uint64
}

// call runs fn on a running process. A dead process is restarted first;
// a call that fails because the process died or its connection was lost is
// retried once after a restart when idempotent or provably never sent.
// Errors caused by the process being gone (it died during the call, could
// not be started, or is quarantined) match rigging.ErrPluginUnavailable.
func (in *supervisedInvoker) call(ctx context.Context, op string, idempotent bool, fn func(context.Context, grpc.ClientConnInterface) error) error {
	in.p.open.Add(1)
	defer in.p.open.Add(-1)
	for attempt := 0; ; attempt++ {
		cc, gen, err := in.p.conn(ctx)
		if err != nil {
			return callError(op, err, "")
		}
		// A process that died since the last call (not yet noticed by
		// go-plugin) would fail this call without it ever reaching a
		// plugin: find out first, so even a non-idempotent call goes to a
		// restarted process.
		if attempt == 0 && in.p.stale(cc, gen) {
			_, _ = in.p.broken(gen, "connection lost (health check failed)", exitGrace)
			continue
		}
		if err = in.replay(ctx, cc, gen); err == nil {
			err = fn(ctx, cc)
		}
		if err == nil {
			return nil
		}
		var be *bodyError
		if errors.As(err, &be) {
			return callError(op, err, "")
		}
		restarted, note, cause := in.p.failed(ctx, gen, err)
		if cause != nil {
			// The call drove the process past its memory limit: running
			// it again would most likely do the same.
			return overLimit(callError(op, wire.FromStatus(err), note))
		}
		if restarted && attempt < 2 && ctx.Err() == nil && (idempotent || notSent(err)) {
			in.p.log.Info("retrying call after plugin restart", "plugin", string(in.name), "call", op)
			idempotent = false // at most one retry of a call that may have run
			continue
		}
		if restarted {
			return unavailable(callError(op, wire.FromStatus(err), note))
		}
		return callError(op, remoteError(ctx, err), note)
	}
}

// callError is the error of a failed call op ("Execute", "put KEY"). The
// plugin's name and the method are not repeated: the Manager's
// manager.CallError adds them. What op says beyond the method (a key, a
// snapshot or operation ID) leads, and note (transport context, such as
// the process having died) follows; without either, err is returned as is,
// so a plugin's error is its RemoteError, message unchanged.
func callError(op string, err error, note string) error {
	_, arg, _ := strings.Cut(op, " ")
	switch {
	case arg != "":
		return fmt.Errorf("%s: %w%s", arg, err, note)
	case note != "":
		return fmt.Errorf("%w%s", err, note)
	}
	return err
}

// notSent reports an error from establishing the connection: the request
// never reached a plugin, so any call may be sent again.
func notSent(err error) bool {
	if status.Code(err) != codes.Unavailable {
		return false
	}
	msg := status.Convert(err).Message()
	return strings.Contains(msg, "while dialing") || strings.Contains(msg, "connection refused")
}

// replay re-runs Init in a process that has not seen it (a restarted one).
func (in *supervisedInvoker) replay(ctx context.Context, cc grpc.ClientConnInterface, gen uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.init == nil || in.initGen == gen {
		return nil
	}
	if err := in.init(ctx, cc); err != nil {
		return fmt.Errorf("replay Init after restart: %w", err)
	}
	in.initGen = gen
	return nil
}

// dataPath returns the data path state of the process behind cc.
func (in *supervisedInvoker) dataPath(cc grpc.ClientConnInterface) *dataPathState {
	return in.p.dataPathOf(cc)
}

func (in *supervisedInvoker) callInit(ctx context.Context, fn func(context.Context, grpc.ClientConnInterface) error) error {
	in.mu.Lock()
	already := in.init != nil
	in.mu.Unlock()
	if already {
		return rigging.ErrAlreadyInitialized
	}
	in.p.open.Add(1)
	defer in.p.open.Add(-1)
	cc, gen, err := in.p.conn(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx, cc); err != nil {
		if restarted, note, cause := in.p.failed(ctx, gen, err); cause != nil {
			return overLimit(fmt.Errorf("%w%s", wire.FromStatus(err), note))
		} else if restarted {
			return unavailable(fmt.Errorf("%w%s", wire.FromStatus(err), note))
		}
		return remoteError(ctx, err)
	}
	in.mu.Lock()
	in.init, in.initGen = fn, gen
	in.mu.Unlock()
	return nil
}
