package registry

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging"
)

// The registry's tests need values of the kind interfaces only as tokens:
// embedding the interface satisfies it without implementing a method.
type (
	fakeBIA struct {
		rigging.BackupItemAction
		tag string
	}
	fakeRIA   struct{ rigging.RestoreItemAction }
	fakeStore struct{ rigging.ObjectStore }
)

func biaFactory(tag string) Factory[rigging.BackupItemAction] {
	return func(*slog.Logger) (rigging.BackupItemAction, error) { return &fakeBIA{tag: tag}, nil }
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name     string
		register func(r *Registry)
		want     string // in the panic message
	}{
		{"invalid domain", func(r *Registry) { RegisterIn(r, "Example.com/x", biaFactory("a")) }, "not a DNS-1123 subdomain"},
		{"too many slashes", func(r *Registry) { RegisterIn(r, "example.com/x/y", biaFactory("a")) }, "exactly one '/'"},
		{"empty name", func(r *Registry) { RegisterIn(r, "", biaFactory("a")) }, "empty"},
		{"empty second part", func(r *Registry) { RegisterIn(r, "example.com/", biaFactory("a")) }, "after '/' is empty"},
		{"duplicate", func(r *Registry) {
			RegisterIn(r, "example.com/x", biaFactory("a"))
			RegisterIn(r, "example.com/x", biaFactory("b"))
		}, "BackupItemAction example.com/x: already registered"},
		{"duplicate through the short form", func(r *Registry) {
			RegisterIn(r, "velero.io/pod", biaFactory("a"))
			RegisterIn(r, "pod", biaFactory("b"))
		}, "already registered"},
		{"nil factory", func(r *Registry) { RegisterIn[rigging.BackupItemAction](r, "example.com/x", nil) }, "nil factory"},
		{"not a kind interface", func(r *Registry) {
			RegisterIn(r, "example.com/x", func(*slog.Logger) (*fakeBIA, error) { return &fakeBIA{}, nil })
		}, "*registry.fakeBIA is not a plugin kind interface"},
		{"PluginLister is not a kind", func(r *Registry) {
			RegisterIn(r, "example.com/x", func(*slog.Logger) (any, error) { return nil, nil })
		}, "is not a plugin kind interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(v); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %q does not contain %q", msg, tt.want)
				}
			}()
			tt.register(New())
		})
	}
}

func TestRegistrySameNameDifferentKinds(t *testing.T) {
	r := New()
	RegisterIn(r, "velero.io/pod", biaFactory("bia"))
	RegisterIn(r, "velero.io/pod", func(*slog.Logger) (rigging.RestoreItemAction, error) { return &fakeRIA{}, nil })
	if _, ok := r.Lookup(rigging.KindBackupItemAction, "velero.io/pod"); !ok {
		t.Error("BackupItemAction velero.io/pod missing")
	}
	if _, ok := r.Lookup(rigging.KindRestoreItemAction, "velero.io/pod"); !ok {
		t.Error("RestoreItemAction velero.io/pod missing")
	}
}

func TestRegistryIsolated(t *testing.T) {
	a, b := New(), New()
	RegisterIn(a, "example.com/only-in-a", biaFactory("a"))
	if _, ok := b.Lookup(rigging.KindBackupItemAction, "example.com/only-in-a"); ok {
		t.Error("registry b sees a's plugin")
	}
	if _, ok := Default.Lookup(rigging.KindBackupItemAction, "example.com/only-in-a"); ok {
		t.Error("Default sees a's plugin")
	}
	// The same name may be registered in both without a panic.
	RegisterIn(b, "example.com/only-in-a", biaFactory("b"))
}

func TestRegistryListAndAll(t *testing.T) {
	r := New()
	RegisterIn(r, "velero.io/zz", biaFactory("zz"))
	RegisterIn(r, "example.com/b", biaFactory("b"))
	RegisterIn(r, "velero.io/aa", biaFactory("aa"))
	RegisterIn(r, "example.com/store", func(*slog.Logger) (rigging.ObjectStore, error) { return &fakeStore{}, nil })
	RegisterIn(r, "example.com/ria", func(*slog.Logger) (rigging.RestoreItemAction, error) { return &fakeRIA{}, nil })

	var got []string
	for _, e := range r.List(rigging.KindBackupItemAction) {
		got = append(got, string(e.Name))
	}
	if want := []string{"example.com/b", "velero.io/aa", "velero.io/zz"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	got = nil
	for _, e := range r.All() {
		got = append(got, string(e.Kind)+" "+string(e.Name))
	}
	want := []string{ // rigging.Kinds order: BIA, BIAv2, VS, OS, RIA, …
		"BackupItemAction example.com/b", "BackupItemAction velero.io/aa", "BackupItemAction velero.io/zz",
		"ObjectStore example.com/store", "RestoreItemAction example.com/ria",
	}
	if !slices.Equal(got, want) {
		t.Errorf("All = %v, want %v", got, want)
	}
	e, _ := r.Lookup(rigging.KindBackupItemAction, "velero.io/aa")
	v, err := e.New(slog.Default())
	if err != nil || v.(*fakeBIA).tag != "aa" {
		t.Errorf("Entry.New = %v, %v", v, err)
	}
}

func TestRegisterDefault(t *testing.T) {
	saved := Default
	Default = New()
	defer func() { Default = saved }()
	Register("example.com/default", biaFactory("d"))
	if _, ok := Default.Lookup(rigging.KindBackupItemAction, "example.com/default"); !ok {
		t.Fatal("Register did not add to Default")
	}
}
