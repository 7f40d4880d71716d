package manager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// Every method of the failing* plugins below returns a methodError naming
// the method, so a test can check that each wrapper method forwards to the
// right method of the plugin and labels the call with that method's name.
type methodError string

func (e methodError) Error() string { return "failed in " + string(e) }

type failingStore struct{}

func (failingStore) Init(context.Context, map[string]string) error { return methodError("Init") }
func (failingStore) PutObject(context.Context, string, string, io.Reader) error {
	return methodError("PutObject")
}
func (failingStore) ObjectExists(context.Context, string, string) (bool, error) {
	return false, methodError("ObjectExists")
}
func (failingStore) GetObject(context.Context, string, string) (io.ReadCloser, error) {
	return nil, methodError("GetObject")
}
func (failingStore) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, methodError("ListCommonPrefixes")
}
func (failingStore) ListObjects(context.Context, string, string) ([]string, error) {
	return nil, methodError("ListObjects")
}
func (failingStore) DeleteObject(context.Context, string, string) error {
	return methodError("DeleteObject")
}
func (failingStore) CreateSignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", methodError("CreateSignedURL")
}

type failingSnapshotter struct{}

func (failingSnapshotter) Init(context.Context, map[string]string) error { return methodError("Init") }
func (failingSnapshotter) CreateVolumeFromSnapshot(context.Context, string, string, string, *int64) (string, error) {
	return "", methodError("CreateVolumeFromSnapshot")
}
func (failingSnapshotter) GetVolumeInfo(context.Context, string, string) (string, *int64, error) {
	return "", nil, methodError("GetVolumeInfo")
}
func (failingSnapshotter) CreateSnapshot(context.Context, string, string, map[string]string) (string, error) {
	return "", methodError("CreateSnapshot")
}
func (failingSnapshotter) DeleteSnapshot(context.Context, string) error {
	return methodError("DeleteSnapshot")
}
func (failingSnapshotter) GetVolumeID(context.Context, *unstructured.Unstructured) (string, error) {
	return "", methodError("GetVolumeID")
}
func (failingSnapshotter) SetVolumeID(context.Context, *unstructured.Unstructured, string) (*unstructured.Unstructured, error) {
	return nil, methodError("SetVolumeID")
}

type failingAppliesTo struct{}

func (failingAppliesTo) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, methodError("AppliesTo")
}

type failingBIAv2 struct{ failingAppliesTo }

func (failingBIAv2) Name() string { return "x" }
func (failingBIAv2) Execute(context.Context, *unstructured.Unstructured, *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	return nil, nil, "", nil, methodError("Execute")
}
func (failingBIAv2) Progress(context.Context, string, *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, methodError("Progress")
}
func (failingBIAv2) Cancel(context.Context, string, *rigging.Backup) error {
	return methodError("Cancel")
}

type failingRIAv2 struct{ failingAppliesTo }

func (failingRIAv2) Name() string { return "x" }
func (failingRIAv2) Execute(context.Context, *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return nil, methodError("Execute")
}
func (failingRIAv2) Progress(context.Context, string, *rigging.Restore) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{}, methodError("Progress")
}
func (failingRIAv2) Cancel(context.Context, string, *rigging.Restore) error {
	return methodError("Cancel")
}
func (failingRIAv2) AreAdditionalItemsReady(context.Context, []rigging.ResourceIdentifier, *rigging.Restore) (bool, error) {
	return false, methodError("AreAdditionalItemsReady")
}

type failingDIA struct{ failingAppliesTo }

func (failingDIA) Execute(context.Context, *rigging.DeleteItemActionExecuteInput) error {
	return methodError("Execute")
}

type failingIBA struct{ failingAppliesTo }

func (failingIBA) Name() string { return "x" }
func (failingIBA) GetRelatedItems(context.Context, *unstructured.Unstructured, *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	return nil, methodError("GetRelatedItems")
}

type failingBIA struct{ failingAppliesTo }

func (failingBIA) Execute(context.Context, *unstructured.Unstructured, *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	return nil, nil, methodError("Execute")
}

type failingRIA struct{ failingAppliesTo }

func (failingRIA) Execute(context.Context, *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	return nil, methodError("Execute")
}

func TestWrappersForwardEveryMethod(t *testing.T) {
	ctx := context.Background()
	pv := newPod("pv")
	r := registry.New()
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.ObjectStore, error) { return failingStore{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.VolumeSnapshotter, error) { return failingSnapshotter{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.BackupItemAction, error) { return failingBIA{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.BackupItemActionV2, error) { return failingBIAv2{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.RestoreItemAction, error) { return failingRIA{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.RestoreItemActionV2, error) { return failingRIAv2{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.DeleteItemAction, error) { return failingDIA{}, nil })
	registry.RegisterIn(r, "x", func(*slog.Logger) (rigging.ItemBlockAction, error) { return failingIBA{}, nil })
	m := New(Options{Registry: r})
	defer m.Close()

	os := must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "x"))
	vs := must[rigging.VolumeSnapshotter](t)(m.VolumeSnapshotter(ctx, "x"))
	bia := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "x"))
	bia2 := must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, "x"))
	ria := must[rigging.RestoreItemAction](t)(m.RestoreItemAction(ctx, "x"))
	ria2 := must[rigging.RestoreItemActionV2](t)(m.RestoreItemActionV2(ctx, "x"))
	dia := must[rigging.DeleteItemAction](t)(m.DeleteItemAction(ctx, "x"))
	iba := must[rigging.ItemBlockAction](t)(m.ItemBlockAction(ctx, "x"))

	tests := []struct {
		kind   rigging.Kind
		method string
		call   func() error
	}{
		{rigging.KindObjectStore, "Init", func() error { return os.Init(ctx, nil) }},
		{rigging.KindObjectStore, "PutObject", func() error { return os.PutObject(ctx, "b", "k", strings.NewReader("")) }},
		{rigging.KindObjectStore, "ObjectExists", func() error { _, err := os.ObjectExists(ctx, "b", "k"); return err }},
		{rigging.KindObjectStore, "GetObject", func() error { _, err := os.GetObject(ctx, "b", "k"); return err }},
		{rigging.KindObjectStore, "ListCommonPrefixes", func() error { _, err := os.ListCommonPrefixes(ctx, "b", "p", "/"); return err }},
		{rigging.KindObjectStore, "ListObjects", func() error { _, err := os.ListObjects(ctx, "b", "p"); return err }},
		{rigging.KindObjectStore, "DeleteObject", func() error { return os.DeleteObject(ctx, "b", "k") }},
		{rigging.KindObjectStore, "CreateSignedURL", func() error { _, err := os.CreateSignedURL(ctx, "b", "k", time.Minute); return err }},
		{rigging.KindVolumeSnapshotter, "Init", func() error { return vs.Init(ctx, nil) }},
		{rigging.KindVolumeSnapshotter, "CreateVolumeFromSnapshot", func() error { _, err := vs.CreateVolumeFromSnapshot(ctx, "s", "gp3", "az", nil); return err }},
		{rigging.KindVolumeSnapshotter, "GetVolumeInfo", func() error { _, _, err := vs.GetVolumeInfo(ctx, "v", "az"); return err }},
		{rigging.KindVolumeSnapshotter, "CreateSnapshot", func() error { _, err := vs.CreateSnapshot(ctx, "v", "az", nil); return err }},
		{rigging.KindVolumeSnapshotter, "DeleteSnapshot", func() error { return vs.DeleteSnapshot(ctx, "s") }},
		{rigging.KindVolumeSnapshotter, "GetVolumeID", func() error { _, err := vs.GetVolumeID(ctx, pv); return err }},
		{rigging.KindVolumeSnapshotter, "SetVolumeID", func() error { _, err := vs.SetVolumeID(ctx, pv, "v"); return err }},
		{rigging.KindBackupItemAction, "AppliesTo", func() error { _, err := bia.AppliesTo(ctx); return err }},
		{rigging.KindBackupItemAction, "Execute", func() error { _, _, err := bia.Execute(ctx, pv, nil); return err }},
		{rigging.KindBackupItemActionV2, "AppliesTo", func() error { _, err := bia2.AppliesTo(ctx); return err }},
		{rigging.KindBackupItemActionV2, "Execute", func() error { _, _, _, _, err := bia2.Execute(ctx, pv, nil); return err }},
		{rigging.KindBackupItemActionV2, "Progress", func() error { _, err := bia2.Progress(ctx, "op", nil); return err }},
		{rigging.KindBackupItemActionV2, "Cancel", func() error { return bia2.Cancel(ctx, "op", nil) }},
		{rigging.KindRestoreItemAction, "AppliesTo", func() error { _, err := ria.AppliesTo(ctx); return err }},
		{rigging.KindRestoreItemAction, "Execute", func() error { _, err := ria.Execute(ctx, nil); return err }},
		{rigging.KindRestoreItemActionV2, "AppliesTo", func() error { _, err := ria2.AppliesTo(ctx); return err }},
		{rigging.KindRestoreItemActionV2, "Execute", func() error { _, err := ria2.Execute(ctx, nil); return err }},
		{rigging.KindRestoreItemActionV2, "Progress", func() error { _, err := ria2.Progress(ctx, "op", nil); return err }},
		{rigging.KindRestoreItemActionV2, "Cancel", func() error { return ria2.Cancel(ctx, "op", nil) }},
		{rigging.KindRestoreItemActionV2, "AreAdditionalItemsReady", func() error { _, err := ria2.AreAdditionalItemsReady(ctx, nil, nil); return err }},
		{rigging.KindDeleteItemAction, "AppliesTo", func() error { _, err := dia.AppliesTo(ctx); return err }},
		{rigging.KindDeleteItemAction, "Execute", func() error { return dia.Execute(ctx, nil) }},
		{rigging.KindItemBlockAction, "AppliesTo", func() error { _, err := iba.AppliesTo(ctx); return err }},
		{rigging.KindItemBlockAction, "GetRelatedItems", func() error { _, err := iba.GetRelatedItems(ctx, pv, nil); return err }},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"."+tt.method, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, methodError(tt.method)) {
				t.Fatalf("err = %v, want the plugin's %s error", err, tt.method)
			}
			ce, ok := errors.AsType[*CallError](err)
			if !ok || ce.Kind != tt.kind || ce.Name != "velero.io/x" || ce.Method != tt.method {
				t.Errorf("CallError = %+v", ce)
			}
			if want := "plugin velero.io/x: " + tt.method + ": failed in " + tt.method; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			s := m.metrics.forLabels(tt.kind, "velero.io/x", tt.method, TransportInProcess)
			if s.errors.Load() != 1 || s.started.Load() != 1 {
				t.Errorf("stats: %d started, %d errors; want 1, 1", s.started.Load(), s.errors.Load())
			}
		})
	}
	for _, v := range []interface{ Name() string }{bia2, ria2, iba} {
		if v.Name() != "velero.io/x" {
			t.Errorf("%T.Name() = %q, want the registered name", v, v.Name())
		}
	}
}

func TestDurationBuckets(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {-time.Second, 0}, {100 * time.Microsecond, 0}, {101 * time.Microsecond, 1},
		{time.Second, 8}, {16 * time.Minute, len(durationBuckets)},
	}
	for _, tt := range tests {
		var s callStats
		s.observe(tt.d)
		for i := range s.buckets {
			if got := s.buckets[i].Load(); got != map[bool]uint64{true: 1}[i == tt.want] {
				t.Errorf("observe(%v): bucket %d = %d, want the count in bucket %d", tt.d, i, got, tt.want)
			}
		}
		if s.sum.Load() != uint64(max(tt.d, 0)) {
			t.Errorf("observe(%v): sum %d", tt.d, s.sum.Load())
		}
	}
}

func TestCallErrorDoesNotRepeatThePluginName(t *testing.T) {
	tests := []struct {
		inner error
		want  string
	}{
		{errors.New("boom"), "plugin velero.io/aws: PutObject: boom"},
		{errors.New("plugin velero.io/aws: put s3://b/k: denied"), "plugin velero.io/aws: PutObject: put s3://b/k: denied"},
		{errors.New("plugin example.io/other: x"), "plugin velero.io/aws: PutObject: plugin example.io/other: x"},
	}
	for _, tt := range tests {
		err := &CallError{Kind: rigging.KindObjectStore, Name: "velero.io/aws", Method: "PutObject", Err: tt.inner}
		if got := err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(err, tt.inner) {
			t.Errorf("errors.Is(%v, inner) = false", err)
		}
	}
}

// preservingBIA is a v1 BackupItemAction that declares, or not, that it
// leaves its input unmodified (rigging.InputPreserver).
type preservingBIA struct {
	fakeBIA
	preserves bool
}

func (a *preservingBIA) PreservesInput() bool { return a.preserves }

type preservingBIAv2 struct {
	fakeBIAv2
	preserves bool
}

func (a *preservingBIAv2) PreservesInput() bool { return a.preserves }

// TestWrappersForwardPreservesInput: the Manager's wrappers (and the v1 to
// v2 adapter) answer rigging.PreservesInput as the action itself does, so a
// host can skip copying items for actions that never modify them.
func TestWrappersForwardPreservesInput(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		v2     rigging.BackupItemActionV2 // nil: not registered
		v1impl rigging.BackupItemAction
		want   bool
	}{
		{name: "v1 preserving", v1impl: &preservingBIA{preserves: true}, want: true},
		{name: "v1 declaring false", v1impl: &preservingBIA{preserves: false}, want: false},
		{name: "v1 silent", v1impl: &fakeBIA{}, want: false},
		{name: "v2 preserving", v2: &preservingBIAv2{preserves: true}, want: true},
		{name: "v2 silent", v2: &fakeBIAv2{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registry.New()
			if tt.v1impl != nil {
				registry.RegisterIn(reg, "example.io/a", func(*slog.Logger) (rigging.BackupItemAction, error) { return tt.v1impl, nil })
			}
			if tt.v2 != nil {
				registry.RegisterIn(reg, "example.io/a", func(*slog.Logger) (rigging.BackupItemActionV2, error) { return tt.v2, nil })
			}
			m := New(Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
			defer m.Close()
			if tt.v1impl != nil {
				a, err := m.BackupItemAction(ctx, "example.io/a")
				if err != nil {
					t.Fatal(err)
				}
				if got := rigging.PreservesInput(a); got != tt.want {
					t.Errorf("v1 wrapper: PreservesInput = %v, want %v", got, tt.want)
				}
			}
			a2, err := m.BackupItemActionV2(ctx, "example.io/a") // v1 actions come adapted
			if err != nil {
				t.Fatal(err)
			}
			if got := rigging.PreservesInput(a2); got != tt.want {
				t.Errorf("v2 wrapper: PreservesInput = %v, want %v", got, tt.want)
			}
		})
	}
}

var podsResource = []schema.GroupResource{{Resource: "pods"}}

type lookupBIA struct{ fakeBIA }

func (*lookupBIA) LookupResources() []schema.GroupResource { return podsResource }

type lookupRIA struct{ fakeRIA }

func (*lookupRIA) LookupResources() []schema.GroupResource { return podsResource }

// TestWrappersForwardLookupResources: the Manager's wrappers of every
// action kind (and the v1 to v2 adapters) answer rigging.LookupResources
// as the action itself does, so a host sees which actions read the
// cluster whichever way it got them.
func TestWrappersForwardLookupResources(t *testing.T) {
	ctx := context.Background()
	reg := registry.New()
	registry.RegisterIn(reg, "example.io/reads", func(*slog.Logger) (rigging.BackupItemAction, error) { return &lookupBIA{}, nil })
	registry.RegisterIn(reg, "example.io/reads", func(*slog.Logger) (rigging.RestoreItemAction, error) { return &lookupRIA{}, nil })
	registry.RegisterIn(reg, "example.io/silent", func(*slog.Logger) (rigging.BackupItemAction, error) { return &fakeBIA{}, nil })
	m := New(Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	for _, tt := range []struct {
		name string
		get  func() (any, error)
		want []schema.GroupResource
	}{
		{"BackupItemAction", func() (any, error) { return m.BackupItemAction(ctx, "example.io/reads") }, podsResource},
		{"BackupItemActionV2 adapted", func() (any, error) { return m.BackupItemActionV2(ctx, "example.io/reads") }, podsResource},
		{"RestoreItemAction", func() (any, error) { return m.RestoreItemAction(ctx, "example.io/reads") }, podsResource},
		{"RestoreItemActionV2 adapted", func() (any, error) { return m.RestoreItemActionV2(ctx, "example.io/reads") }, podsResource},
		{"undeclared", func() (any, error) { return m.BackupItemAction(ctx, "example.io/silent") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if got := rigging.LookupResources(a); !slices.Equal(got, tt.want) {
				t.Errorf("LookupResources = %v, want %v", got, tt.want)
			}
		})
	}
}
