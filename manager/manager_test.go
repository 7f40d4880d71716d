package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// sources builds a built-in registry and an external source for the
// resolution tests. Tags name where an instance came from.
func sources() (*registry.Registry, *fakeCatalog) {
	builtin := registry.New()
	registry.RegisterIn(builtin, "velero.io/pod", biaFactory("builtin"))
	registry.RegisterIn(builtin, "velero.io/both", biaFactory("builtin"))
	registry.RegisterIn(builtin, "velero.io/v1-only", biaFactory("builtin"))
	registry.RegisterIn(builtin, "velero.io/both-versions", biaFactory("builtin-v1"))
	registry.RegisterIn(builtin, "velero.io/both-versions", func(*slog.Logger) (rigging.BackupItemActionV2, error) {
		return &fakeBIAv2{tag: "builtin-v2"}, nil
	})
	registry.RegisterIn(builtin, "velero.io/service", func(*slog.Logger) (rigging.RestoreItemAction, error) { return &fakeRIA{tag: "builtin"}, nil })
	registry.RegisterIn(builtin, "rigging.dev/filesystem", func(*slog.Logger) (rigging.ObjectStore, error) { return newFakeStore("builtin"), nil })

	ext := registry.New()
	registry.RegisterIn(ext, "velero.io/both", biaFactory("external"))
	registry.RegisterIn(ext, "example.com/vendor", biaFactory("external"))
	registry.RegisterIn(ext, "example.com/async", func(*slog.Logger) (rigging.BackupItemActionV2, error) {
		return &fakeBIAv2{tag: "external"}, nil
	})
	registry.RegisterIn(ext, "example.com/restore", func(*slog.Logger) (rigging.RestoreItemAction, error) { return &fakeRIA{tag: "external"}, nil })
	registry.RegisterIn(ext, "velero.io/aws", func(*slog.Logger) (rigging.ObjectStore, error) { return newFakeStore("external"), nil })
	return builtin, &fakeCatalog{reg: ext, path: "/plugins/velero-plugin-example"}
}

// tagOf returns the tag of whatever a getter returned, through AppliesTo.
func tagOf(t *testing.T, v any) string {
	t.Helper()
	a, ok := v.(interface {
		AppliesTo(context.Context) (rigging.ResourceSelector, error)
	})
	if !ok {
		if s, ok := v.(rigging.ObjectStore); ok {
			u, _ := s.CreateSignedURL(context.Background(), "b", "k", 0)
			return strings.Split(strings.TrimPrefix(u, "mem://"), "/")[0]
		}
		t.Fatalf("%T has no tag", v)
	}
	sel, err := a.AppliesTo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sel.IncludedResources[0]
}

func TestResolution(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		get           func(m *Manager) (any, error)
		preferBuiltin bool
		noExternal    bool
		want          string // tag; "" means an error
		wantErr       error
		wantInErr     []string
	}{
		{name: "built-in only", want: "builtin",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "pod") }},
		{name: "external only", want: "external",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "example.com/vendor") }},
		{name: "both: external shadows built-in", want: "external",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "velero.io/both") }},
		{name: "both, PreferBuiltin", preferBuiltin: true, want: "builtin",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "both") }},
		{name: "no external source", noExternal: true, want: "builtin",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "both") }},
		{name: "object store, external", want: "external",
			get: func(m *Manager) (any, error) { return m.ObjectStore(ctx, "aws") }},
		{name: "object store, built-in", want: "builtin",
			get: func(m *Manager) (any, error) { return m.ObjectStore(ctx, "rigging.dev/filesystem") }},
		{name: "v2 asked, v1 built-in adapted", want: "builtin",
			get: func(m *Manager) (any, error) { return m.BackupItemActionV2(ctx, "v1-only") }},
		{name: "v2 asked, v1 external adapted", want: "external",
			get: func(m *Manager) (any, error) { return m.BackupItemActionV2(ctx, "example.com/vendor") }},
		{name: "v2 asked, v2 preferred over v1", want: "builtin-v2",
			get: func(m *Manager) (any, error) { return m.BackupItemActionV2(ctx, "both-versions") }},
		{name: "v1 asked, v1 of a name that also has a v2", want: "builtin-v1",
			get: func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "both-versions") }},
		{name: "RIA v2 asked, v1 external adapted", want: "external",
			get: func(m *Manager) (any, error) { return m.RestoreItemActionV2(ctx, "example.com/restore") }},
		{name: "v1 asked, only v2 exists: not adapted backwards",
			get:     func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "example.com/async") },
			wantErr: rigging.ErrPluginNotFound, wantInErr: []string{"BackupItemAction example.com/async", "exists as BackupItemActionV2"}},
		{name: "unknown plugin",
			get:     func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "nope") },
			wantErr: rigging.ErrPluginNotFound, wantInErr: []string{"velero.io/nope", "builtin/all", "--plugin-dir"}},
		{name: "wrong kind",
			get:     func(m *Manager) (any, error) { return m.ObjectStore(ctx, "pod") },
			wantErr: rigging.ErrPluginNotFound, wantInErr: []string{"ObjectStore velero.io/pod", "exists as BackupItemAction"}},
		{name: "invalid name",
			get:     func(m *Manager) (any, error) { return m.BackupItemAction(ctx, "Bad_Domain/x") },
			wantErr: rigging.ErrInvalidName, wantInErr: []string{"Bad_Domain"}},
		{name: "not a kind interface",
			get:     func(m *Manager) (any, error) { return Get[io.Reader](ctx, m, "pod") },
			wantErr: rigging.ErrInvalidKind, wantInErr: []string{"io.Reader"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			builtin, ext := sources()
			opts := Options{Registry: builtin, External: ext, PreferBuiltin: tt.preferBuiltin}
			if tt.noExternal {
				opts.External = nil
			}
			m := New(opts)
			defer m.Close()
			v, err := tt.get(m)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tagOf(t, v); got != tt.want {
				t.Errorf("resolved to %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlugins(t *testing.T) {
	for _, preferBuiltin := range []bool{false, true} {
		builtin, ext := sources()
		log, buf := testLogger(slog.LevelInfo)
		m := New(Options{Registry: builtin, External: ext, PreferBuiltin: preferBuiltin, Logger: log})
		var got []string
		for _, p := range m.Plugins() {
			got = append(got, strings.Join([]string{string(p.Kind), string(p.Name), p.Source, p.Transport, map[bool]string{true: "active", false: "shadowed"}[p.Active]}, " "))
		}
		bothExt := "BackupItemAction velero.io/both /plugins/velero-plugin-example grpc active"
		bothBuiltin := "BackupItemAction velero.io/both builtin inproc shadowed"
		if preferBuiltin {
			bothExt = "BackupItemAction velero.io/both /plugins/velero-plugin-example grpc shadowed"
			bothBuiltin = "BackupItemAction velero.io/both builtin inproc active"
			bothExt, bothBuiltin = bothBuiltin, bothExt // the active one comes first
		}
		want := []string{
			"BackupItemAction example.com/vendor /plugins/velero-plugin-example grpc active",
			bothExt, bothBuiltin,
			"BackupItemAction velero.io/both-versions builtin inproc active",
			"BackupItemAction velero.io/pod builtin inproc active",
			"BackupItemAction velero.io/v1-only builtin inproc active",
			"BackupItemActionV2 example.com/async /plugins/velero-plugin-example grpc active",
			"BackupItemActionV2 velero.io/both-versions builtin inproc active",
			"ObjectStore rigging.dev/filesystem builtin inproc active",
			"ObjectStore velero.io/aws /plugins/velero-plugin-example grpc active",
			"RestoreItemAction example.com/restore /plugins/velero-plugin-example grpc active",
			"RestoreItemAction velero.io/service builtin inproc active",
		}
		if !slices.Equal(got, want) {
			t.Errorf("PreferBuiltin=%v: Plugins =\n%s\nwant\n%s", preferBuiltin, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The choice is logged once per Manager, however often it is used.
		m.BackupItemAction(context.Background(), "both")
		m.BackupItemAction(context.Background(), "both")
		logs := buf.String()
		if n := strings.Count(logs, "plugin shadowed"); n != 1 {
			t.Errorf("shadowing logged %d times, want once:\n%s", n, logs)
		}
		if !strings.Contains(logs, "plugin=velero.io/both") {
			t.Errorf("shadowing log does not name the plugin:\n%s", logs)
		}
		m.Close()
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	builtin, ext := sources()
	m := New(Options{Registry: builtin, External: ext})
	defer m.Close()

	v2 := must[[]rigging.BackupItemActionV2](t)(m.BackupItemActionsV2(ctx))
	var got []string
	for _, a := range v2 {
		got = append(got, a.Name()+"="+tagOf(t, a))
	}
	want := []string{
		"example.com/async=external", "example.com/vendor=external", "velero.io/both=external",
		"velero.io/both-versions=builtin-v2", "velero.io/pod=builtin", "velero.io/v1-only=builtin",
	}
	if !slices.Equal(got, want) {
		t.Errorf("BackupItemActionsV2 = %v, want %v", got, want)
	}
	v1 := must[[]rigging.BackupItemAction](t)(m.BackupItemActions(ctx))
	if len(v1) != 5 {
		t.Errorf("BackupItemActions: %d actions, want 5", len(v1))
	}
	ria := must[[]rigging.RestoreItemActionV2](t)(m.RestoreItemActionsV2(ctx))
	if len(ria) != 2 || ria[0].Name() != "example.com/restore" || ria[1].Name() != "velero.io/service" {
		t.Errorf("RestoreItemActionsV2 = %v", ria)
	}
	for name, n := range map[string]int{
		"RestoreItemActions": len(must[[]rigging.RestoreItemAction](t)(m.RestoreItemActions(ctx))),
		"DeleteItemActions":  len(must[[]rigging.DeleteItemAction](t)(m.DeleteItemActions(ctx))),
		"ItemBlockActions":   len(must[[]rigging.ItemBlockAction](t)(m.ItemBlockActions(ctx))),
	} {
		want := map[string]int{"RestoreItemActions": 2}[name]
		if n != want {
			t.Errorf("%s: %d, want %d", name, n, want)
		}
	}
	// List shares the instances Get hands out.
	a := must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, "example.com/async"))
	if a != v2[0] {
		t.Error("List and Get returned different instances")
	}
}

func TestListFailsOnFirstBrokenPlugin(t *testing.T) {
	r := registry.New()
	registry.RegisterIn(r, "velero.io/a", biaFactory("a"))
	registry.RegisterIn(r, "velero.io/b", func(*slog.Logger) (rigging.BackupItemAction, error) { return nil, errors.New("no credentials") })
	m := New(Options{Registry: r})
	defer m.Close()
	_, err := m.BackupItemActions(context.Background())
	if err == nil || !strings.Contains(err.Error(), "BackupItemAction velero.io/b (builtin): create: no credentials") {
		t.Fatalf("err = %v", err)
	}
}

func TestAdapters(t *testing.T) {
	ctx := context.Background()
	builtin, ext := sources()
	m := New(Options{Registry: builtin, External: ext})
	defer m.Close()
	item := newPod("web")

	for _, name := range []string{"velero.io/v1-only", "example.com/vendor"} {
		t.Run("BackupItemAction "+name, func(t *testing.T) {
			a := must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, name))
			if a.Name() != name {
				t.Errorf("Name = %q", a.Name())
			}
			updated, _, opID, post, err := a.Execute(ctx, item, &rigging.Backup{})
			if err != nil || updated != item || opID != "" || post != nil {
				t.Errorf("Execute = %v, %q, %v, %v; want the item, \"\", nil, nil", updated, opID, post, err)
			}
			if _, err := a.Progress(ctx, "x", &rigging.Backup{}); !errors.Is(err, rigging.ErrAsyncNotSupported) || !strings.Contains(err.Error(), name) {
				t.Errorf("Progress err = %v, want ErrAsyncNotSupported naming the plugin", err)
			}
			if err := a.Cancel(ctx, "x", &rigging.Backup{}); err != nil {
				t.Errorf("Cancel = %v", err)
			}
		})
	}
	for _, name := range []string{"velero.io/service", "example.com/restore"} {
		t.Run("RestoreItemAction "+name, func(t *testing.T) {
			a := must[rigging.RestoreItemActionV2](t)(m.RestoreItemActionV2(ctx, name))
			if a.Name() != name {
				t.Errorf("Name = %q", a.Name())
			}
			out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: item})
			if err != nil || !out.SkipRestore || out.OperationID != "" || out.WaitForAdditionalItems {
				t.Errorf("Execute = %+v, %v", out, err)
			}
			if _, err := a.Progress(ctx, "x", &rigging.Restore{}); !errors.Is(err, rigging.ErrAsyncNotSupported) {
				t.Errorf("Progress err = %v, want ErrAsyncNotSupported", err)
			}
			if err := a.Cancel(ctx, "x", &rigging.Restore{}); err != nil {
				t.Errorf("Cancel = %v", err)
			}
			if ready, err := a.AreAdditionalItemsReady(ctx, nil, &rigging.Restore{}); !ready || err != nil {
				t.Errorf("AreAdditionalItemsReady = %v, %v; want true, nil", ready, err)
			}
		})
	}
	t.Run("native v2 passes through", func(t *testing.T) {
		a := must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, "example.com/async"))
		if a.Name() != "example.com/async" {
			t.Errorf("Name = %q, want the registered name", a.Name())
		}
		_, _, opID, post, err := a.Execute(ctx, item, &rigging.Backup{})
		if err != nil || opID != "op-1" || len(post) != 1 {
			t.Errorf("Execute = %q, %v, %v", opID, post, err)
		}
		if p, err := a.Progress(ctx, opID, &rigging.Backup{}); err != nil || !p.Completed {
			t.Errorf("Progress = %+v, %v", p, err)
		}
	})
	t.Run("v1 and adapted v2 share the instance", func(t *testing.T) {
		builtin, ext := sources()
		m := New(Options{Registry: builtin, External: ext})
		defer m.Close()
		m.BackupItemAction(ctx, "example.com/vendor")
		m.BackupItemActionV2(ctx, "example.com/vendor")
		if n := ext.opens(rigging.KindBackupItemAction, "example.com/vendor"); n != 1 {
			t.Errorf("opened %d times, want 1", n)
		}
	})
}

func TestInstances(t *testing.T) {
	ctx := context.Background()
	builtin, ext := sources()
	m := New(Options{Registry: builtin, External: ext})
	defer m.Close()

	a1 := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "example.com/vendor"))
	a2 := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "example.com/vendor"))
	if a1 != a2 {
		t.Error("two Gets of an action returned different instances")
	}
	s1 := must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "aws"))
	s2 := must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "aws"))
	if s1 == s2 {
		t.Error("two Gets of an ObjectStore returned the same instance")
	}
	if n := ext.opens(rigging.KindObjectStore, "velero.io/aws"); n != 2 {
		t.Errorf("external ObjectStore opened %d times, want 2", n)
	}
	// Another Manager builds its own.
	m2 := New(Options{Registry: builtin, External: ext})
	defer m2.Close()
	must[rigging.BackupItemAction](t)(m2.BackupItemAction(ctx, "example.com/vendor"))
	if n := ext.opens(rigging.KindBackupItemAction, "example.com/vendor"); n != 2 {
		t.Errorf("opened %d times by two Managers, want 2", n)
	}
}

func TestConcurrentFirstGet(t *testing.T) {
	var built atomic.Int32
	r := registry.New()
	registry.RegisterIn(r, "velero.io/pod", func(*slog.Logger) (rigging.BackupItemAction, error) {
		built.Add(1)
		return &fakeBIA{tag: "pod"}, nil
	})
	m := New(Options{Registry: r})
	defer m.Close()

	const n = 64
	got := make([]rigging.BackupItemActionV2, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = m.BackupItemActionV2(context.Background(), "pod")
			if errs[i] == nil {
				_, _, _, _, errs[i] = got[i].Execute(context.Background(), newPod("web"), &rigging.Backup{})
			}
		})
	}
	close(start)
	wg.Wait()
	if b := built.Load(); b != 1 {
		t.Errorf("factory ran %d times, want 1", b)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i].(*adaptedBackupItemAction).BackupItemAction != got[0].(*adaptedBackupItemAction).BackupItemAction {
			t.Fatal("goroutines got different instances")
		}
	}
}

func TestFailedBuildIsRetried(t *testing.T) {
	var calls atomic.Int32
	r := registry.New()
	registry.RegisterIn(r, "velero.io/flaky", func(*slog.Logger) (rigging.BackupItemAction, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("not yet")
		}
		return &fakeBIA{tag: "ok"}, nil
	})
	m := New(Options{Registry: r})
	defer m.Close()
	if _, err := m.BackupItemAction(context.Background(), "flaky"); err == nil {
		t.Fatal("first Get succeeded")
	}
	if _, err := m.BackupItemAction(context.Background(), "flaky"); err != nil {
		t.Fatalf("second Get: %v", err)
	}
}

func TestConfigurable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		config  map[string]map[string]string
		confErr error
		want    []map[string]string // what Configure received
		wantErr string
	}{
		{name: "full name", config: map[string]map[string]string{"velero.io/change-storage-class": {"gp2": "gp3"}},
			want: []map[string]string{{"gp2": "gp3"}}},
		{name: "short name", config: map[string]map[string]string{"change-storage-class": {"gp2": "gp3"}},
			want: []map[string]string{{"gp2": "gp3"}}},
		{name: "no config", config: map[string]map[string]string{"velero.io/other": {"a": "b"}},
			want: []map[string]string{nil}},
		{name: "Configure fails", config: nil, confErr: errors.New("bad key"), want: []map[string]string{nil},
			wantErr: "manager: BackupItemAction velero.io/change-storage-class (builtin): configure: bad key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := &fakeBIA{tag: "csc", confErr: tt.confErr}
			r := registry.New()
			registry.RegisterIn(r, "velero.io/change-storage-class", func(*slog.Logger) (rigging.BackupItemAction, error) { return inst, nil })
			m := New(Options{Registry: r, PluginConfig: tt.config})
			defer m.Close()
			_, err := m.BackupItemAction(ctx, "change-storage-class")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if inst.closed.Load() != 1 {
					t.Error("instance whose Configure failed was not closed")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err == nil {
				m.BackupItemActionV2(ctx, "change-storage-class") // the same instance: not configured again
			}
			if len(inst.config) != len(tt.want) || (len(tt.want) == 1 && !mapsEqual(inst.config[0], tt.want[0])) {
				t.Errorf("Configure got %v, want %v", inst.config, tt.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// blockingBIA is a BackupItemAction whose Execute runs f with its context.
func blockingAction(f func(ctx context.Context) error) *registry.Registry {
	r := registry.New()
	registry.RegisterIn(r, "velero.io/slow", func(*slog.Logger) (rigging.BackupItemAction, error) {
		return &fakeBIA{tag: "slow", exec: func(ctx context.Context, _ *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
			return nil, f(ctx)
		}}, nil
	})
	return r
}

func TestDeadline(t *testing.T) {
	type result struct {
		deadline  time.Time
		has       bool
		errBefore error // ctx.Err() before Done is called
		done      error // ctx.Err() once Done is closed
	}
	observe := func(r *result, waitDone bool) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			r.deadline, r.has = ctx.Deadline()
			if !waitDone {
				return nil
			}
			for ctx.Err() == nil { // spin until the deadline passes, without Done
			}
			r.errBefore = ctx.Err()
			<-ctx.Done()
			r.done = ctx.Err()
			return ctx.Err()
		}
	}
	farFuture := time.Now().Add(24 * time.Hour)
	tests := []struct {
		name       string
		timeout    time.Duration // Options.Timeouts[BackupItemAction]; 0: default
		parent     func() (context.Context, context.CancelFunc)
		waitDone   bool
		wantExceed bool
		wantNoDL   bool
		wantDL     func(start time.Time, got time.Time) bool
	}{
		{name: "deadline exceeded: Err before Done, then Done", timeout: 20 * time.Millisecond, waitDone: true, wantExceed: true,
			parent: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{name: "default timeout applies", parent: noCancel(context.Background()),
			wantDL: func(start, got time.Time) bool {
				d := got.Sub(start)
				return d > 14*time.Minute && d <= 15*time.Minute+time.Second
			}},
		{name: "caller's earlier deadline is kept", timeout: time.Hour,
			parent: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), farFuture.Add(-23*time.Hour))
			},
			wantDL: func(_, got time.Time) bool { return got.Equal(farFuture.Add(-23 * time.Hour)) }},
		{name: "caller's later deadline is shortened", timeout: time.Minute,
			parent: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), farFuture)
			},
			wantDL: func(start, got time.Time) bool {
				return got.Sub(start) <= time.Minute+time.Second && got.Before(farFuture)
			}},
		{name: "negative timeout: none", timeout: -1, parent: noCancel(context.Background()), wantNoDL: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			log, logs := testLogger(slog.LevelWarn)
			m := New(Options{Registry: blockingAction(observe(&r, tt.waitDone)), Logger: log,
				Timeouts: map[rigging.Kind]time.Duration{rigging.KindBackupItemAction: tt.timeout}})
			defer m.Close()
			a := must[rigging.BackupItemAction](t)(m.BackupItemAction(context.Background(), "slow"))
			ctx, cancel := tt.parent()
			defer cancel()
			start := time.Now()
			_, _, err := a.Execute(ctx, newPod("web"), nil)
			if tt.wantExceed {
				if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(r.errBefore, context.DeadlineExceeded) || !errors.Is(r.done, context.DeadlineExceeded) {
					t.Fatalf("err = %v, Err before Done = %v, after = %v; want DeadlineExceeded", err, r.errBefore, r.done)
				}
				if !strings.Contains(err.Error(), "plugin velero.io/slow: Execute:") {
					t.Errorf("err %q does not name the plugin and method", err)
				}
				if !strings.Contains(logs.String(), `msg="plugin call exceeded its deadline" plugin=velero.io/slow kind=BackupItemAction method=Execute timeout=20ms`) {
					t.Errorf("no warning logged:\n%s", logs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNoDL {
				if r.has {
					t.Errorf("plugin saw deadline %v, want none", r.deadline)
				}
				return
			}
			if !r.has || !tt.wantDL(start, r.deadline) {
				t.Errorf("plugin saw deadline %v (%v), start %v", r.deadline, r.has, start)
			}
		})
	}
}

func noCancel(ctx context.Context) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) { return ctx, func() {} }
}

func TestDeadlineCallerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	m := New(Options{Registry: blockingAction(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})})
	defer m.Close()
	a := must[rigging.BackupItemAction](t)(m.BackupItemAction(context.Background(), "slow"))
	go func() { <-started; cancel() }()
	if _, _, err := a.Execute(ctx, newPod("web"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

func TestPanicRecovery(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		value     any
		wantIs    []error
		wantInMsg string
	}{
		{"string", "index out of range", []error{rigging.ErrPanic}, "plugin velero.io/slow: Execute: plugin panicked: index out of range"},
		{"error value", boom, []error{rigging.ErrPanic, boom}, "plugin panicked: boom"},
		{"runtime error", nil, []error{rigging.ErrPanic}, "nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := testLogger(slog.LevelInfo)
			m := New(Options{Logger: log, Registry: blockingAction(func(context.Context) error {
				if tt.value == nil {
					var counts map[string]int
					counts["x"]++
				}
				panic(tt.value)
			})})
			defer m.Close()
			a := must[rigging.BackupItemAction](t)(m.BackupItemAction(context.Background(), "slow"))
			_, _, err := a.Execute(context.Background(), newPod("web"), nil)
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("err %v is not %v", err, target)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantInMsg)
			}
			pe, ok := errors.AsType[*PanicError](err)
			if !ok {
				t.Fatalf("err %v is not a *PanicError", err)
			}
			if !strings.Contains(string(pe.Stack), "manager.TestPanicRecovery") {
				t.Errorf("stack does not show the panicking function:\n%s", pe.Stack)
			}
			if tt.value != nil && pe.Value != tt.value {
				t.Errorf("Value = %v, want %v", pe.Value, tt.value)
			}
			if !strings.Contains(buf.String(), "plugin panicked") || !strings.Contains(buf.String(), "plugin=velero.io/slow") {
				t.Errorf("panic not logged with the plugin's name:\n%s", buf)
			}
			// The host survives and the plugin stays usable.
			if _, err := a.AppliesTo(context.Background()); err != nil {
				t.Errorf("AppliesTo after the panic: %v", err)
			}
		})
	}
}

func TestPanicInFactory(t *testing.T) {
	r := registry.New()
	registry.RegisterIn(r, "velero.io/broken", func(*slog.Logger) (rigging.BackupItemAction, error) { panic("factory bug") })
	m := New(Options{Registry: r})
	defer m.Close()
	_, err := m.BackupItemAction(context.Background(), "broken")
	if !errors.Is(err, rigging.ErrPanic) || !strings.Contains(err.Error(), "velero.io/broken") || !strings.Contains(err.Error(), "factory bug") {
		t.Fatalf("err = %v", err)
	}
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	builtin, ext := sources()
	fail := errors.New("fail")
	release := make(chan struct{})
	running := make(chan struct{})
	registry.RegisterIn(builtin, "velero.io/flaky", func(*slog.Logger) (rigging.BackupItemAction, error) {
		return &fakeBIA{exec: func(_ context.Context, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
			switch item.GetName() {
			case "fail":
				return nil, fail
			case "panic":
				panic("x")
			case "block":
				running <- struct{}{}
				<-release
			}
			return nil, nil
		}}, nil
	})
	reg := prometheus.NewRegistry()
	m := New(Options{Registry: builtin, External: ext, Metrics: reg})
	defer m.Close()
	if err := m.MetricsError(); err != nil {
		t.Fatal(err)
	}

	flaky := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "flaky"))
	for _, name := range []string{"ok", "ok", "fail", "panic"} {
		flaky.Execute(ctx, newPod(name), nil)
	}
	vendor := must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, "example.com/vendor"))
	vendor.Execute(ctx, newPod("x"), nil)
	vendor.AppliesTo(ctx)

	done := make(chan struct{})
	go func() { flaky.Execute(ctx, newPod("block"), nil); close(done) }()
	<-running

	// Series exist from the moment an instance is wrapped, so AppliesTo of
	// velero.io/flaky shows zeros.
	series := func(flakyCalls, flakyInFlight int) string {
		return fmt.Sprintf(`
# HELP rigging_plugin_calls_in_flight Calls to plugin methods currently running.
# TYPE rigging_plugin_calls_in_flight gauge
rigging_plugin_calls_in_flight{kind="BackupItemAction",method="AppliesTo",name="example.com/vendor",transport="grpc"} 0
rigging_plugin_calls_in_flight{kind="BackupItemAction",method="AppliesTo",name="velero.io/flaky",transport="inproc"} 0
rigging_plugin_calls_in_flight{kind="BackupItemAction",method="Execute",name="example.com/vendor",transport="grpc"} 0
rigging_plugin_calls_in_flight{kind="BackupItemAction",method="Execute",name="velero.io/flaky",transport="inproc"} %[2]d
# HELP rigging_plugin_calls_total Calls to plugin methods that have returned.
# TYPE rigging_plugin_calls_total counter
rigging_plugin_calls_total{kind="BackupItemAction",method="AppliesTo",name="example.com/vendor",transport="grpc"} 1
rigging_plugin_calls_total{kind="BackupItemAction",method="AppliesTo",name="velero.io/flaky",transport="inproc"} 0
rigging_plugin_calls_total{kind="BackupItemAction",method="Execute",name="example.com/vendor",transport="grpc"} 1
rigging_plugin_calls_total{kind="BackupItemAction",method="Execute",name="velero.io/flaky",transport="inproc"} %[1]d
# HELP rigging_plugin_errors_total Calls to plugin methods that returned an error, panics included.
# TYPE rigging_plugin_errors_total counter
rigging_plugin_errors_total{kind="BackupItemAction",method="AppliesTo",name="example.com/vendor",transport="grpc"} 0
rigging_plugin_errors_total{kind="BackupItemAction",method="AppliesTo",name="velero.io/flaky",transport="inproc"} 0
rigging_plugin_errors_total{kind="BackupItemAction",method="Execute",name="example.com/vendor",transport="grpc"} 0
rigging_plugin_errors_total{kind="BackupItemAction",method="Execute",name="velero.io/flaky",transport="inproc"} 2
`, flakyCalls, flakyInFlight)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(series(4, 1)), MetricCalls, MetricErrors, MetricInFlight); err != nil {
		t.Errorf("while a call is blocked: %v", err)
	}
	close(release)
	<-done
	if err := testutil.GatherAndCompare(reg, strings.NewReader(series(5, 0)), MetricCalls, MetricErrors, MetricInFlight); err != nil {
		t.Errorf("after the blocked call: %v", err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	// The duration histogram counts every call, each in one bucket.
	if h := histogram(t, reg, "velero.io/flaky", "Execute"); h.GetSampleCount() != 5 || h.GetSampleSum() <= 0 ||
		h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount() != 5 {
		t.Errorf("histogram = %v", h)
	}

	// A second Manager on the same registry shares the collector.
	m2 := New(Options{Registry: builtin, Metrics: reg})
	defer m2.Close()
	if err := m2.MetricsError(); err != nil {
		t.Fatalf("second Manager: %v", err)
	}
	must[rigging.BackupItemAction](t)(m2.BackupItemAction(ctx, "flaky")).Execute(ctx, newPod("ok"), nil)
	if h := histogram(t, reg, "velero.io/flaky", "Execute"); h.GetSampleCount() != 6 {
		t.Errorf("calls through two Managers: %d, want 6", h.GetSampleCount())
	}
}

func histogram(t *testing.T, reg *prometheus.Registry, name, method string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != MetricDuration {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if labelValue(mt.GetLabel(), "name") == name && labelValue(mt.GetLabel(), "method") == method {
				return mt.GetHistogram()
			}
		}
	}
	t.Fatalf("no %s series for %s %s", MetricDuration, name, method)
	return nil
}

func labelValue(labels []*dto.LabelPair, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestCallLogs(t *testing.T) {
	ctx := context.Background()
	builtin, _ := sources()
	log, buf := testLogger(slog.LevelDebug)
	m := New(Options{Registry: builtin, Logger: log})
	defer m.Close()
	a := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "pod"))
	a.Execute(ctx, newPod("web"), nil)
	logs := buf.String()
	for _, want := range []string{"msg=\"plugin call\" plugin=velero.io/pod kind=BackupItemAction method=Execute", "msg=\"plugin instance created\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	log, buf = testLogger(slog.LevelInfo)
	m2 := New(Options{Registry: builtin, Logger: log})
	defer m2.Close()
	must[rigging.BackupItemAction](t)(m2.BackupItemAction(ctx, "pod")).Execute(ctx, newPod("web"), nil)
	if buf.String() != "" {
		t.Errorf("calls logged at Info level:\n%s", buf)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	builtin, ext := sources()
	biaInst := &fakeBIA{tag: "closer"}
	registry.RegisterIn(builtin, "velero.io/closer", func(*slog.Logger) (rigging.BackupItemAction, error) { return biaInst, nil })
	var stores []*fakeStore
	registry.RegisterIn(builtin, "velero.io/store", func(*slog.Logger) (rigging.ObjectStore, error) {
		s := newFakeStore("s")
		stores = append(stores, s)
		return s, nil
	})
	m := New(Options{Registry: builtin, External: ext})
	a := must[rigging.BackupItemAction](t)(m.BackupItemAction(ctx, "closer"))
	must[rigging.BackupItemActionV2](t)(m.BackupItemActionV2(ctx, "closer")) // same instance
	s := must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "store"))
	must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "store"))

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := biaInst.closed.Load(); n != 1 {
		t.Errorf("action closed %d times, want 1", n)
	}
	for i, st := range stores {
		if n := st.closed.Load(); n != 1 {
			t.Errorf("store %d closed %d times, want 1", i, n)
		}
	}
	if n := ext.closed.Load(); n != 1 {
		t.Errorf("source closed %d times, want 1", n)
	}

	checks := []struct {
		name string
		err  error
	}{
		{"Execute", func() error { _, _, err := a.Execute(ctx, newPod("web"), nil); return err }()},
		{"PutObject", s.PutObject(ctx, "b", "k", strings.NewReader("x"))},
		{"Get", func() error { _, err := m.BackupItemAction(ctx, "pod"); return err }()},
		{"List", func() error { _, err := m.BackupItemActions(ctx); return err }()},
		{"second Close", m.Close()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, rigging.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, c.err)
		}
	}
	if n := biaInst.closed.Load(); n != 1 || ext.closed.Load() != 1 {
		t.Error("second Close closed again")
	}
}

func TestGetObjectReaderOutlivesDeadline(t *testing.T) {
	ctx := context.Background()
	r := registry.New()
	store := newFakeStore("mem")
	registry.RegisterIn(r, "velero.io/mem", func(*slog.Logger) (rigging.ObjectStore, error) { return store, nil })
	m := New(Options{Registry: r, Timeouts: map[rigging.Kind]time.Duration{rigging.KindObjectStore: time.Nanosecond}})
	defer m.Close()
	s := must[rigging.ObjectStore](t)(m.ObjectStore(ctx, "mem"))
	store.objects["b/k"] = "hello"

	// The 1ns deadline has passed long before Read, yet the reader works:
	// it is bound by the caller's context only.
	rc, err := s.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	rc.Close()

	// The caller's cancellation still reaches the reader.
	cctx, cancel := context.WithCancel(ctx)
	rc, err = s.GetObject(cctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want Canceled", err)
	}
	rc.Close()

	// A missing key is an error naming the plugin, matching ErrNotFound.
	if _, err := s.GetObject(ctx, "b", "missing"); !errors.Is(err, rigging.ErrNotFound) || !strings.Contains(err.Error(), "plugin velero.io/mem: GetObject") {
		t.Errorf("GetObject(missing) = %v", err)
	}
}

func TestCatalogReturningWrongType(t *testing.T) {
	ext := registry.New()
	registry.RegisterIn(ext, "example.com/x", biaFactory("x"))
	src := &fakeCatalog{reg: ext, path: "/plugins/x"}
	bad := &wrongTypeCatalog{fakeCatalog: src}
	m := New(Options{Registry: registry.New(), External: bad})
	defer m.Close()
	_, err := m.BackupItemAction(context.Background(), "example.com/x")
	if err == nil || !strings.Contains(err.Error(), "does not implement rigging.BackupItemAction") || !strings.Contains(err.Error(), "/plugins/x") {
		t.Fatalf("err = %v", err)
	}
}

type wrongTypeCatalog struct{ *fakeCatalog }

func (s *wrongTypeCatalog) Open(context.Context, rigging.Kind, rigging.Name) (any, error) {
	return newFakeStore("not an action"), nil
}

func TestDefaultTimeout(t *testing.T) {
	for _, k := range rigging.Kinds() {
		if DefaultTimeout(k) <= 0 {
			t.Errorf("DefaultTimeout(%s) = %v", k, DefaultTimeout(k))
		}
	}
	if DefaultTimeout(rigging.KindPluginLister) != 0 {
		t.Error("PluginLister has a timeout")
	}
}

// listedCatalog offers a fixed list of plugins and opens them from reg.
type listedCatalog struct {
	fakeCatalog
	infos    []Info
	closeErr error
}

func (s *listedCatalog) Plugins() []Info { return s.infos }
func (s *listedCatalog) Close() error    { s.fakeCatalog.Close(); return s.closeErr }

func TestExternalCatalogOddities(t *testing.T) {
	ext := registry.New()
	registry.RegisterIn(ext, "example.com/a", biaFactory("a"))
	src := &listedCatalog{fakeCatalog: fakeCatalog{reg: ext}, infos: []Info{
		{Kind: rigging.KindBackupItemAction, Name: "example.com/a", Source: "/plugins/one"},
		{Kind: rigging.KindBackupItemAction, Name: "example.com/a", Source: "/plugins/two"},
		{Kind: rigging.KindPluginLister, Name: "example.com/lister", Source: "/plugins/one"},
	}, closeErr: errors.New("process did not exit")}
	log, logs := testLogger(slog.LevelWarn)
	m := New(Options{Registry: registry.New(), External: src, Logger: log})

	got := m.Plugins()
	if len(got) != 1 || got[0].Source != "/plugins/one" || !got[0].Active || got[0].Transport != TransportGRPC {
		t.Errorf("Plugins = %+v", got)
	}
	for _, want := range []string{"another binary offers the same kind and name", "kept=/plugins/one", "invalid kind"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	err := m.Close()
	if err == nil || !strings.Contains(err.Error(), "close external plugins: process did not exit") {
		t.Errorf("Close = %v", err)
	}
	if src.closed.Load() != 1 {
		t.Errorf("source closed %d times", src.closed.Load())
	}
}

type failingCloser struct {
	fakeBIA
}

func (*failingCloser) Close() error { panic("close bug") }

func TestCloseErrorsNameThePlugin(t *testing.T) {
	r := registry.New()
	registry.RegisterIn(r, "velero.io/leaky", func(*slog.Logger) (rigging.BackupItemAction, error) { return &failingCloser{}, nil })
	m := New(Options{Registry: r})
	must[rigging.BackupItemAction](t)(m.BackupItemAction(context.Background(), "leaky"))
	err := m.Close()
	if !errors.Is(err, rigging.ErrPanic) || !strings.Contains(err.Error(), "plugin velero.io/leaky: close BackupItemAction: plugin panicked: close bug") {
		t.Errorf("Close = %v", err)
	}
}

// slowOpenStore's GetObject waits for its context before opening.
type slowOpenStore struct{ *fakeStore }

func (s slowOpenStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGetObjectOpenIsBoundByDeadline(t *testing.T) {
	r := registry.New()
	registry.RegisterIn(r, "velero.io/slow", func(*slog.Logger) (rigging.ObjectStore, error) { return slowOpenStore{newFakeStore("s")}, nil })
	m := New(Options{Registry: r, Timeouts: map[rigging.Kind]time.Duration{rigging.KindObjectStore: 10 * time.Millisecond}})
	defer m.Close()
	s := must[rigging.ObjectStore](t)(m.ObjectStore(context.Background(), "slow"))
	if _, err := s.GetObject(context.Background(), "b", "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetObject = %v, want DeadlineExceeded", err)
	}
}

func TestNilRegistryMeansDefault(t *testing.T) {
	saved := registry.Default
	registry.Default = registry.New()
	defer func() { registry.Default = saved }()
	registry.Register("example.com/default", biaFactory("d"))
	m := New(Options{})
	defer m.Close()
	if _, err := m.BackupItemAction(context.Background(), "example.com/default"); err != nil {
		t.Fatal(err)
	}
}
