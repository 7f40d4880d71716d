// Command faultplugin is the misbehaving plugin binary of the fault tests.
// What it does depends on the name it is run under (the test copies it
// into plugin directories under several names):
//
//	exit        exits at once with status 3
//	silent      never prints a handshake
//	cookie      a go-plugin server expecting another application's magic cookie
//	version     ignores VELERO_PLUGIN and answers with application protocol 5
//	netrpc      a go-plugin server offering net/rpc only
//	junk        prints junk on stdout before a good handshake
//	badnames    lists invalid plugin names
//	dupnames    lists one plugin twice
//	many        lists 100 000 plugins
//	echo        good: one echoing plugin of every kind
//	zz-dup      good, with echo's plugin names (discovery finds it after echo)
//	panicky     a BackupItemAction that panics in every call (recovered by the SDK)
//	crashy      a BackupItemAction that panics in a goroutine in every call: the process dies
//	hangs       a BackupItemAction whose Execute never returns, ignoring its context
//	noisy       a BackupItemAction that writes megabytes to stdout and stderr per call
//	leaky       a BackupItemAction that allocates until the kernel refuses (RLIMIT_DATA 1 GiB)
//	killme      good, a BackupItemAction only (the SIGKILL tests kill it)
//	closer      an ObjectStore that exits in the middle of streaming a body
//	killstore   good, the filesystem ObjectStore only (the SIGKILL upload tests kill it)
//
// Plugins of the good binaries are named faults.rigging.dev/<binary>.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

func main() {
	name := filepath.Base(os.Args[0])
	switch name {
	case "exit":
		os.Exit(3)
	case "silent":
		time.Sleep(time.Hour)
	case "cookie":
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: goplugin.HandshakeConfig{ProtocolVersion: 2, MagicCookieKey: "OTHER_APP_PLUGIN", MagicCookieValue: "x"},
			Plugins:         goplugin.PluginSet{"velero": lister{}}, GRPCServer: goplugin.DefaultGRPCServer,
		})
	case "version":
		os.Setenv("OTHER_APP_PLUGIN", "x")
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: goplugin.HandshakeConfig{ProtocolVersion: 5, MagicCookieKey: "OTHER_APP_PLUGIN", MagicCookieValue: "x"},
			Plugins:         goplugin.PluginSet{"velero": lister{}}, GRPCServer: goplugin.DefaultGRPCServer,
		})
	case "netrpc":
		goplugin.Serve(&goplugin.ServeConfig{HandshakeConfig: plugin.Handshake, Plugins: goplugin.PluginSet{"velero": netRPCOnly{}}})
	case "junk":
		fmt.Println("starting up, please wait...")
		serveGood("junk")
	case "badnames":
		serveList([]string{"BackupItemAction", "Bad_Domain/x", "BackupItemAction", "noslash", "BackupItemAction", "a.io/b/c", "Frobnicator", "x.io/y"})
	case "dupnames":
		serveList([]string{"BackupItemAction", "faults.rigging.dev/twice", "BackupItemAction", "faults.rigging.dev/twice"})
	case "many":
		ids := make([]string, 0, 200_000)
		for i := range 100_000 {
			ids = append(ids, "BackupItemAction", fmt.Sprintf("many.faults.rigging.dev/plugin-%06d", i))
		}
		serveList(ids)
	case "zz-dup":
		serveGood("dup")
	case "leaky":
		lim := &syscall.Rlimit{Cur: 1 << 30, Max: 1 << 30}
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(1)
		}
		serveGood(name)
	default:
		serveGood(name)
	}
}

// serveGood serves the plugins of the good binaries.
func serveGood(binary string) {
	r := registry.New()
	pn := "faults.rigging.dev/" + binary
	if binary == "dup" {
		pn = "faults.rigging.dev/echo"
	}
	switch binary {
	case "closer":
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.ObjectStore, error) { return &store{closer: true}, nil })
	case "killme":
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.BackupItemAction, error) { return action{binary: binary}, nil })
	case "killstore":
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.ObjectStore, error) { return filesystem.New(), nil })
	default:
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.BackupItemAction, error) { return action{binary: binary}, nil })
		registry.RegisterIn(r, pn+"-v2", func(*slog.Logger) (rigging.BackupItemActionV2, error) { return actionV2{action{binary: binary}}, nil })
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.RestoreItemAction, error) { return ria{action{binary: binary}}, nil })
		registry.RegisterIn(r, pn+"-v2", func(*slog.Logger) (rigging.RestoreItemActionV2, error) { return ria{action{binary: binary}}, nil })
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.DeleteItemAction, error) { return dia{action{binary: binary}}, nil })
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.ItemBlockAction, error) { return action{binary: binary}, nil })
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.VolumeSnapshotter, error) { return snapshotter{}, nil })
		registry.RegisterIn(r, pn, func(*slog.Logger) (rigging.ObjectStore, error) { return &store{}, nil })
	}
	plugin.Serve(plugin.ServeOptions{Registry: r, ParentPollInterval: 100 * time.Millisecond})
}

type action struct{ binary string }

var leaked [][]byte

// misbehave does what the binary is for; it returns an error only when the
// item asks for one.
func (a action) misbehave(item *unstructured.Unstructured) error {
	switch a.binary {
	case "panicky":
		panic(fmt.Sprintf("faultplugin %s: deliberate panic on %s", a.binary, item.GetName()))
	case "crashy":
		// A panic outside the handler: no recovery, the process dies.
		go func() { panic(fmt.Sprintf("faultplugin %s: deliberate crash on %s", a.binary, item.GetName())) }()
		select {}
	case "hangs":
		select {} // ignores its context, as Velero's plugins do
	case "noisy":
		line := bytes.Repeat([]byte("n"), 1<<10)
		for range 4 << 10 { // 4 MiB in 1 KiB lines on each stream
			os.Stdout.Write(append(line, '\n'))
			os.Stderr.Write(append(line, '\n'))
		}
		os.Stdout.Write(bytes.Repeat([]byte("x"), 3<<20)) // one 3 MiB line without newline
		os.Stdout.Write([]byte("\n"))
	case "leaky":
		for {
			leaked = append(leaked, bytes.Repeat([]byte{1}, 16<<20))
		}
	}
	if item.GetName() == "fail" {
		return errors.New("faultplugin: asked to fail")
	}
	return nil
}

func mark(item *unstructured.Unstructured, binary string) *unstructured.Unstructured {
	out := item.DeepCopy()
	a := out.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["faults.rigging.dev/seen-by"] = binary
	out.SetAnnotations(a)
	return out
}

func (a action) Name() string { return "faults.rigging.dev/" + a.binary }
func (a action) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

// Execute of BackupItemAction.
func (a action) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if err := a.misbehave(item); err != nil {
		return nil, nil, err
	}
	return mark(item, a.binary), nil, nil
}

func (a action) GetRelatedItems(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	if err := a.misbehave(item); err != nil {
		return nil, err
	}
	return []rigging.ResourceIdentifier{{Namespace: item.GetNamespace(), Name: item.GetName()}}, nil
}

type actionV2 struct{ action }

func (a actionV2) Execute(ctx context.Context, item *unstructured.Unstructured, b *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	u, add, err := a.action.Execute(ctx, item, b)
	return u, add, "", nil, err
}
func (actionV2) Progress(context.Context, string, *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, rigging.ErrAsyncNotSupported
}
func (actionV2) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// ria is the RestoreItemAction (v1 and v2) face of action.
type ria struct{ action }

func (r ria) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if err := r.misbehave(in.Item); err != nil {
		return nil, err
	}
	if in.ItemFromBackup == nil || in.ItemFromBackup.GetName() != in.Item.GetName() || in.Restore == nil {
		return nil, errors.New("faultplugin: itemFromBackup or restore missing")
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: mark(in.Item, r.binary)}, nil
}
func (ria) Progress(context.Context, string, *rigging.Restore) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, rigging.ErrAsyncNotSupported
}
func (ria) Cancel(context.Context, string, *rigging.Restore) error { return nil }
func (ria) AreAdditionalItemsReady(context.Context, []rigging.ResourceIdentifier, *rigging.Restore) (bool, error) {
	return true, nil
}

// dia is the DeleteItemAction face of action.
type dia struct{ action }

func (d dia) Execute(_ context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	if err := d.misbehave(in.Item); err != nil {
		return err
	}
	if in.Backup == nil {
		return errors.New("faultplugin: no backup")
	}
	return nil
}

type snapshotter struct{}

func (snapshotter) Init(context.Context, map[string]string) error { return nil }
func (snapshotter) CreateVolumeFromSnapshot(_ context.Context, id, _, _ string, _ *int64) (string, error) {
	return "vol-" + id, nil
}
func (snapshotter) GetVolumeInfo(context.Context, string, string) (string, *int64, error) {
	return "gp3", nil, nil
}
func (snapshotter) CreateSnapshot(_ context.Context, id, _ string, _ map[string]string) (string, error) {
	return "snap-" + id, nil
}
func (snapshotter) DeleteSnapshot(context.Context, string) error { return nil }
func (snapshotter) GetVolumeID(_ context.Context, pv *unstructured.Unstructured) (string, error) {
	return fmt.Sprintf("%s/%d", pv.GetName(), len(fmt.Sprint(pv.Object["data"]))), nil
}
func (snapshotter) SetVolumeID(_ context.Context, pv *unstructured.Unstructured, id string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	out.SetLabels(map[string]string{"volume-id": id})
	return out, nil
}

// store keeps objects in memory. A closer store exits the process after
// streaming half of a body, either way.
type store struct {
	closer bool
	mu     sync.Mutex
	data   map[string][]byte
}

func (s *store) Init(context.Context, map[string]string) error { return nil }
func (s *store) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	var buf bytes.Buffer
	if s.closer {
		if _, err := io.CopyN(&buf, body, 1<<20); err == nil {
			os.Exit(4) // the connection goes down mid-upload
		}
	}
	if _, err := io.Copy(&buf, body); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = map[string][]byte{}
	}
	s.data[bucket+"/"+key] = buf.Bytes()
	return nil
}
func (s *store) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[bucket+"/"+key]
	return ok, nil
}
func (s *store) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	if s.closer {
		// A body of 64 MiB, of which the process sends about 1 MiB.
		return io.NopCloser(&exitingReader{left: 64 << 20, exitAfter: 1 << 20}), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[bucket+"/"+key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, rigging.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}
func (s *store) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (s *store) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.data {
		if rest, ok := strings.CutPrefix(k, bucket+"/"); ok && strings.HasPrefix(rest, prefix) {
			out = append(out, rest)
		}
	}
	return out, nil
}
func (s *store) DeleteObject(_ context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, bucket+"/"+key)
	return nil
}
func (s *store) CreateSignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", errors.New("not supported")
}

type exitingReader struct{ left, exitAfter, sent int64 }

func (r *exitingReader) Read(p []byte) (int, error) {
	if r.sent >= r.exitAfter {
		os.Exit(5)
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, r.left)
	clear(p[:n])
	r.left -= n
	r.sent += n
	return int(n), nil
}

// serveList serves a PluginLister answering kind/name pairs.
func serveList(pairs []string) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: plugin.Handshake,
		Plugins:         goplugin.PluginSet{"velero": lister{pairs: pairs}},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}

type lister struct {
	goplugin.NetRPCUnsupportedPlugin
	pairs []string
}

func (l lister) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	generated.RegisterPluginListerServer(s, listerServer{l.pairs})
	return nil
}

func (lister) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

type listerServer struct{ pairs []string }

func (l listerServer) ListPlugins(context.Context, *generated.Empty) (*generated.ListPluginsResponse, error) {
	res := &generated.ListPluginsResponse{}
	for i := 0; i+1 < len(l.pairs); i += 2 {
		res.Plugins = append(res.Plugins, &generated.PluginIdentifier{Command: os.Args[0], Kind: l.pairs[i], Name: l.pairs[i+1]})
	}
	return res, nil
}

// netRPCOnly is a plugin with a net/rpc server and no gRPC one.
type netRPCOnly struct{}

func (netRPCOnly) Server(*goplugin.MuxBroker) (any, error) { return new(rpcServer), nil }
func (netRPCOnly) Client(*goplugin.MuxBroker, *rpc.Client) (any, error) {
	return nil, errors.New("server only")
}

type rpcServer struct{}

func (rpcServer) Ping(_ struct{}, out *string) error { *out = "pong"; return nil }
