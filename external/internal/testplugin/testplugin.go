// Package testplugin holds plugins of every kind with predictable behaviour,
// served by cmd/testplugin for the tests of the external host. Items steer
// the actions by metadata.name: "panic" panics, "error" returns an error
// with a stack, "unavailable" returns gRPC code Unavailable, "crash" panics outside
// the handler (the process dies), "sleep" ignores its context for a minute, "exit" kills the
// process, "environ" fails with the names of its environment variables;
// anything else gets annotation rigging.dev/seen=<plugin>.
package testplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

// Names of the test plugins.
const (
	Store       = "test.rigging.dev/store"
	Snapshotter = "test.rigging.dev/snapshotter"
	BIA         = "test.rigging.dev/bia"
	BIAv2       = "test.rigging.dev/bia-v2"
	RIA         = "test.rigging.dev/ria"
	RIAv2       = "test.rigging.dev/ria-v2"
	DIA         = "test.rigging.dev/dia"
	IBA         = "test.rigging.dev/iba"
)

// Register adds one plugin of every kind to r.
func Register(r *registry.Registry) {
	registry.RegisterIn(r, Store, func(*slog.Logger) (rigging.ObjectStore, error) { return &store{}, nil })
	registry.RegisterIn(r, Snapshotter, func(*slog.Logger) (rigging.VolumeSnapshotter, error) { return &snapshotter{}, nil })
	registry.RegisterIn(r, BIA, func(log *slog.Logger) (rigging.BackupItemAction, error) { return bia{log}, nil })
	registry.RegisterIn(r, BIAv2, func(*slog.Logger) (rigging.BackupItemActionV2, error) { return biaV2{}, nil })
	registry.RegisterIn(r, RIA, func(*slog.Logger) (rigging.RestoreItemAction, error) { return ria{}, nil })
	registry.RegisterIn(r, RIAv2, func(*slog.Logger) (rigging.RestoreItemActionV2, error) { return riaV2{}, nil })
	registry.RegisterIn(r, DIA, func(*slog.Logger) (rigging.DeleteItemAction, error) { return dia{}, nil })
	registry.RegisterIn(r, IBA, func(*slog.Logger) (rigging.ItemBlockAction, error) { return iba{}, nil })
}

// Selector is what every test action's AppliesTo returns.
var Selector = rigging.ResourceSelector{
	IncludedNamespaces: []string{"ns1"}, ExcludedNamespaces: []string{"kube-system"},
	IncludedResources: []string{"pods"}, ExcludedResources: []string{"secrets"}, LabelSelector: "app=web",
}

// Pod is the identifier every action adds or relates.
var Pod = rigging.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "persistentvolumeclaims"}, Namespace: "ns1", Name: "data"}

// held keeps what "alloc-<n>" allocated.
var (
	heldMu sync.Mutex
	held   [][]byte
)

// steer implements the name-driven behaviours.
func steer(ctx context.Context, item *unstructured.Unstructured) error {
	if sig, ok := strings.CutPrefix(item.GetName(), "signal-"); ok {
		return dieOf(strings.ToUpper(sig))
	}
	if mib, ok := strings.CutPrefix(item.GetName(), "alloc-"); ok {
		n, err := strconv.Atoi(mib)
		if err != nil {
			return err
		}
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		heldMu.Lock()
		held = append(held, b)
		heldMu.Unlock()
		return nil
	}
	switch item.GetName() {
	case "panic":
		panic("test plugin asked to panic")
	case "error":
		return plugin.WithStack(errors.New("test plugin asked to fail"))
	case "sleep":
		time.Sleep(time.Minute) // deliberately ignores ctx
	case "exit":
		os.Exit(3)
	case "crash":
		go func() { panic("test plugin crashed outside a handler") }()
		select {} // the process dies
	case "unavailable":
		return status.Error(codes.Unavailable, "backend unavailable")
	case "environ":
		// Reports the names of the process's environment variables.
		var names []string
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			names = append(names, name)
		}
		slices.Sort(names)
		return errors.New("environ: " + strings.Join(names, ","))
	}
	return nil
}

func mark(item *unstructured.Unstructured, who string) *unstructured.Unstructured {
	out := item.DeepCopy()
	a := out.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["rigging.dev/seen"] = who
	out.SetAnnotations(a)
	return out
}

type bia struct{ log *slog.Logger }

func (bia) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (a bia) Execute(ctx context.Context, item *unstructured.Unstructured, b *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	if err := steer(ctx, item); err != nil {
		return nil, nil, err
	}
	if item.GetName() == "unchanged" {
		return nil, nil, nil
	}
	if item.GetName() == "logme" {
		a.log.Warn("backing up item", "item", item.GetName())
	}
	return mark(item, BIA+"@"+b.GetName()), []rigging.ResourceIdentifier{Pod}, nil
}

type biaV2 struct{}

func (biaV2) Name() string                                                { return BIAv2 }
func (biaV2) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (biaV2) Execute(ctx context.Context, item *unstructured.Unstructured, b *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if err := steer(ctx, item); err != nil {
		return nil, nil, "", nil, err
	}
	return mark(item, BIAv2), []rigging.ResourceIdentifier{Pod}, "op-" + item.GetName(), []rigging.ResourceIdentifier{Pod}, nil
}
func (biaV2) Progress(_ context.Context, id string, b *rigging.Backup) (rigging.OperationProgress, error) {
	if !strings.HasPrefix(id, "op-") {
		return rigging.OperationProgress{}, fmt.Errorf("operation %q: %w", id, rigging.ErrInvalidOperationID)
	}
	return rigging.OperationProgress{Completed: true, NCompleted: 3, NTotal: 3, OperationUnits: "bytes", Description: "done for " + b.GetName(),
		Started: time.Unix(1700000000, 0).UTC(), Updated: time.Unix(1700000060, 0).UTC()}, nil
}
func (biaV2) Cancel(_ context.Context, id string, _ *rigging.Backup) error {
	if !strings.HasPrefix(id, "op-") {
		return fmt.Errorf("operation %q: %w", id, rigging.ErrInvalidOperationID)
	}
	return nil
}

type ria struct{}

func (ria) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (ria) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if err := steer(ctx, in.Item); err != nil {
		return nil, err
	}
	if in.Item.GetName() == "unchanged" {
		return nil, nil
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: mark(in.Item, RIA+"@"+in.Restore.GetName()), AdditionalItems: []rigging.ResourceIdentifier{Pod}, SkipRestore: in.ItemFromBackup != nil && in.ItemFromBackup.GetLabels()["skip"] == "true"}, nil
}

type riaV2 struct{}

func (riaV2) Name() string                                                { return RIAv2 }
func (riaV2) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (riaV2) Execute(ctx context.Context, in *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if err := steer(ctx, in.Item); err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: mark(in.Item, RIAv2), AdditionalItems: []rigging.ResourceIdentifier{Pod},
		OperationID: "op-" + in.Item.GetName(), WaitForAdditionalItems: true, AdditionalItemsReadyTimeout: 90 * time.Second}, nil
}
func (riaV2) Progress(_ context.Context, id string, r *rigging.Restore) (rigging.OperationProgress, error) {
	if !strings.HasPrefix(id, "op-") {
		return rigging.OperationProgress{}, fmt.Errorf("operation %q: %w", id, rigging.ErrInvalidOperationID)
	}
	return rigging.OperationProgress{NCompleted: 1, NTotal: 2, Description: "restoring " + r.GetName()}, nil
}
func (riaV2) Cancel(context.Context, string, *rigging.Restore) error { return nil }
func (riaV2) AreAdditionalItemsReady(_ context.Context, items []rigging.ResourceIdentifier, _ *rigging.Restore) (bool, error) {
	return slices.Contains(items, Pod), nil
}

type dia struct{}

func (dia) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (dia) Execute(ctx context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	if err := steer(ctx, in.Item); err != nil {
		return err
	}
	if in.Backup == nil || in.Backup.GetName() == "" {
		return errors.New("delete action needs the backup")
	}
	return nil
}

type iba struct{}

func (iba) Name() string                                                { return IBA }
func (iba) AppliesTo(context.Context) (rigging.ResourceSelector, error) { return Selector, nil }
func (iba) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	if err := steer(ctx, item); err != nil {
		return nil, err
	}
	return []rigging.ResourceIdentifier{Pod, {GroupResource: schema.GroupResource{Resource: "pods"}, Namespace: item.GetNamespace(), Name: item.GetName()}}, nil
}

// store is an object store over a directory (config key "root"), so its
// state survives process restarts. Init is required.
type store struct {
	mu   sync.Mutex
	root string
}

func (s *store) Init(_ context.Context, config map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range config {
		if k != "root" && k != "bucket" && k != "prefix" {
			return fmt.Errorf("unknown config key %q", k)
		}
	}
	if config["root"] == "" {
		return errors.New("config key root is required")
	}
	s.root = config["root"]
	return nil
}

func (s *store) path(bucket, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == "" {
		return "", rigging.ErrNotInitialized
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(key)), nil
}

func (s *store) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, body); err != nil {
		return err
	}
	return os.WriteFile(p, buf.Bytes(), 0o644)
}

func (s *store) ObjectExists(_ context.Context, bucket, key string) (bool, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *store) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, rigging.ErrNotFound)
	}
	return f, err
}

func (s *store) keys(bucket string) ([]string, error) {
	p, err := s.path(bucket, "")
	if err != nil {
		return nil, err
	}
	var keys []string
	err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(p, path)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	return keys, err
}

func (s *store) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	keys, err := s.keys(bucket)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delimiter); i >= 0 {
			if p := prefix + rest[:i+len(delimiter)]; !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *store) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	keys, err := s.keys(bucket)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *store) DeleteObject(_ context.Context, bucket, key string) error {
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (s *store) CreateSignedURL(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("file:///%s/%s?ttl=%d", bucket, key, int64(ttl)), nil
}

// snapshotter keeps its volumes in memory.
type snapshotter struct {
	mu     sync.Mutex
	config map[string]string
}

func (s *snapshotter) Init(_ context.Context, config map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = config
	return nil
}

func (s *snapshotter) zone() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config["zone"]
}

func (s *snapshotter) CreateVolumeFromSnapshot(_ context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	n := "unset"
	if iops != nil {
		n = fmt.Sprint(*iops)
	}
	return fmt.Sprintf("vol-from-%s-%s-%s-%s", snapshotID, volumeType, volumeAZ, n), nil
}

func (s *snapshotter) GetVolumeInfo(_ context.Context, volumeID, _ string) (string, *int64, error) {
	if volumeID == "no-iops" {
		return "gp3", nil, nil
	}
	n := int64(3000)
	return "io2", &n, nil
}

func (s *snapshotter) CreateSnapshot(_ context.Context, volumeID, volumeAZ string, tags map[string]string) (string, error) {
	return fmt.Sprintf("snap-%s-%s-%s-%s", volumeID, volumeAZ, tags["backup"], s.zone()), nil
}

func (s *snapshotter) DeleteSnapshot(_ context.Context, snapshotID string) error {
	if snapshotID == "" {
		return errors.New("empty snapshot ID")
	}
	return nil
}

func (s *snapshotter) GetVolumeID(_ context.Context, pv *unstructured.Unstructured) (string, error) {
	id, _, err := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
	return id, err
}

func (s *snapshotter) SetVolumeID(_ context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if err := unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle"); err != nil {
		return nil, err
	}
	return out, nil
}
