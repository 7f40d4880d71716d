package manager

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

func biaFactory(tag string) registry.Factory[rigging.BackupItemAction] {
	return func(*slog.Logger) (rigging.BackupItemAction, error) { return &fakeBIA{tag: tag}, nil }
}

// fakeBIA is a v1 BackupItemAction whose Execute runs exec (or returns the
// item unchanged), and which records its configuration and closing.
type fakeBIA struct {
	tag     string // tells instances and sources apart
	exec    func(ctx context.Context, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error)
	config  []map[string]string
	confErr error
	closed  atomic.Int32
}

func (a *fakeBIA) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.tag}}, nil
}

func (a *fakeBIA) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if a.exec == nil {
		return item, nil, nil
	}
	ids, err := a.exec(ctx, item)
	return item, ids, err
}

func (a *fakeBIA) Configure(c map[string]string) error {
	a.config = append(a.config, c)
	return a.confErr
}

func (a *fakeBIA) Close() error {
	a.closed.Add(1)
	return nil
}

// fakeBIAv2 is a BackupItemActionV2 that starts operation "op-1".
type fakeBIAv2 struct{ tag string }

func (a *fakeBIAv2) Name() string { return "ignored-by-the-manager" }
func (a *fakeBIAv2) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.tag}}, nil
}
func (a *fakeBIAv2) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	return item, nil, "op-1", []rigging.ResourceIdentifier{{Name: "post"}}, nil
}
func (a *fakeBIAv2) Progress(context.Context, string, *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{Completed: true}, nil
}
func (a *fakeBIAv2) Cancel(context.Context, string, *rigging.Backup) error { return nil }

// fakeRIA is a v1 RestoreItemAction that skips every item.
type fakeRIA struct{ tag string }

func (a *fakeRIA) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.tag}}, nil
}
func (a *fakeRIA) Execute(_ context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: in.Item, SkipRestore: true}, nil
}

// fakeStore is an ObjectStore keeping objects in memory; GetObject's reader
// checks the call's context on every Read.
type fakeStore struct {
	tag     string
	mu      sync.Mutex
	objects map[string]string
	closed  atomic.Int32
}

func newFakeStore(tag string) *fakeStore { return &fakeStore{tag: tag, objects: map[string]string{}} }

func (s *fakeStore) Init(context.Context, map[string]string) error { return nil }
func (s *fakeStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[bucket+"/"+key] = string(b)
	return nil
}
func (s *fakeStore) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[bucket+"/"+key]
	return ok, nil
}
func (s *fakeStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.objects[bucket+"/"+key]
	if !ok {
		return nil, rigging.ErrNotFound
	}
	return io.NopCloser(&ctxReader{ctx: ctx, r: strings.NewReader(v)}), nil
}
func (s *fakeStore) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (s *fakeStore) ListObjects(context.Context, string, string) ([]string, error) { return nil, nil }
func (s *fakeStore) DeleteObject(context.Context, string, string) error            { return nil }
func (s *fakeStore) CreateSignedURL(_ context.Context, bucket, key string, _ time.Duration) (string, error) {
	return "mem://" + s.tag + "/" + bucket + "/" + key, nil
}
func (s *fakeStore) Close() error {
	s.closed.Add(1)
	return nil
}

// ctxReader fails once its context is done, as a network stream would.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// fakeCatalog is an external Catalog serving the plugins of its own registry,
// as the external catalog serves plugin binaries.
type fakeCatalog struct {
	reg    *registry.Registry
	path   string
	opened sync.Map // key -> *atomic.Int32
	closed atomic.Int32
}

func (s *fakeCatalog) Plugins() []Info {
	var out []Info
	for _, e := range s.reg.All() {
		out = append(out, Info{Kind: e.Kind, Name: e.Name, Source: s.path})
	}
	return out
}

func (s *fakeCatalog) Open(_ context.Context, kind rigging.Kind, name rigging.Name) (any, error) {
	n, _ := s.opened.LoadOrStore(registry.Key{Kind: kind, Name: name}, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	e, ok := s.reg.Lookup(kind, name)
	if !ok {
		return nil, rigging.ErrPluginNotFound
	}
	return e.New(slog.Default())
}

func (s *fakeCatalog) Close() error {
	s.closed.Add(1)
	return nil
}

func (s *fakeCatalog) opens(kind rigging.Kind, name string) int32 {
	n, ok := s.opened.Load(registry.Key{Kind: kind, Name: rigging.MustParseName(name)})
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

func TestMain(m *testing.M) {
	// Managers built without a Logger log to slog.Default: keep test output quiet.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// logBuffer is a concurrency-safe log sink for tests.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

func newPod(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	u.SetNamespace("shop")
	u.SetName(name)
	return u
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
