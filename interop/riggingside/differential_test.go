package riggingside

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/resources"
)

// notCompared are Velero built-ins the differential test leaves out, and why.
var notCompared = map[string]string{
	"velero.io/crd-remap-version": "Velero's needs a live API server (a REST config for its apiextensions client)",
}

// TestBuiltinsMatchVelero is the differential test of the built-ins:
// Velero v1.18's own built-in plugins (pkg/cmd/server/plugin, served as a
// plugin subprocess over a fake cluster holding the cluster-export objects)
// and rigging's built-ins (in-process, with a Lookup over the same objects)
// run on every object of testdata/manifests/cluster-export (plus
// prometheus-adapter.yaml and testdata/differential-extra.yaml) their
// selector picks; the restore actions run a second time under a restore
// with a namespace mapping and with change-storage-class configured
// (testdata/differential-restore-config.yaml). Selectors,
// updated items, additional and related items, skip flags and failures must
// be identical.
func TestBuiltinsMatchVelero(t *testing.T) {
	bin := binary(t, func() (string, error) { return testbin.Interop("cmd/velero-builtins") })
	// cluster-export, plus APIServices and webhook configurations (which it
	// lacks) for velero.io/apiservice and admission-webhook-configuration.
	extra, err := filepath.Abs(filepath.Join("testdata", "differential-extra.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(testbin.RepoRoot(), "testdata", "manifests", "cluster-export"),
		filepath.Join(testbin.RepoRoot(), "testdata", "manifests", "examples", "kubernetes-examples", "prometheus-adapter.yaml"),
		extra,
	}
	t.Setenv("INTEROP_CLUSTER", strings.Join(paths, string(filepath.ListSeparator))) // inherited by the plugin process
	velero, _, _ := newManager(t, bin)
	rig := manager.New(manager.Options{Logger: testLogger(t)})
	t.Cleanup(func() { rig.Close() })

	items, err := manifest.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	mapper := resources.NewMapper()
	index := resources.NewIndex(mapper)
	if err := index.Add(items...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(rigging.WithLookup(context.Background(), index), 5*time.Minute)
	defer cancel()

	ours := compareBuiltins(ctx, t, velero, rig, items, mapper, notCompared)

	// The restore actions again, under a restore that maps namespaces and
	// with velero.io/change-storage-class configured: Velero's from its
	// ConfigMap in the fake cluster, rigging's with the same data through
	// the Manager.
	t.Run("mapped restore", func(t *testing.T) {
		config, err := filepath.Abs(filepath.Join("testdata", "differential-restore-config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		mapped := append(slices.Clone(paths), config)
		t.Setenv("INTEROP_CLUSTER", strings.Join(mapped, string(filepath.ListSeparator)))
		cms, err := manifest.Load(config)
		if err != nil {
			t.Fatal(err)
		}
		data, _, err := unstructured.NestedStringMap(cms[0].Object, "data")
		if err != nil || len(data) == 0 {
			t.Fatalf("%s: no ConfigMap data (%v)", config, err)
		}
		velero, _, _ := newManager(t, bin)
		rig := manager.New(manager.Options{Logger: testLogger(t), PluginConfig: map[string]map[string]string{"velero.io/change-storage-class": data}})
		t.Cleanup(func() { rig.Close() })
		items := append(slices.Clone(items), cms...)
		restore := func() *rigging.Restore {
			r := diffRestore()
			r.Spec.NamespaceMapping = map[string]string{"shop": "shop-restored", "monitoring": "observability"}
			return r
		}
		for _, p := range velero.Plugins() {
			name := p.Name.String()
			if p.Kind != rigging.KindRestoreItemAction || strings.HasPrefix(name, "velero.io/csi-") || notCompared[name] != "" || !ours[p.Kind.String()+" "+name] {
				continue
			}
			t.Run(name, func(t *testing.T) {
				compareRestoreActions(ctx, t, velero, rig, name, items, mapper, restore)
			})
		}
	})
}

// stats counts what one action comparison saw, so a vacuous pass (nothing
// selected, everything failing on both sides, no action ever changing
// anything) shows.
type stats struct{ calls, bothFailed, changed int }

func (s *stats) report(t *testing.T) {
	t.Helper()
	t.Logf("%d items compared, %d with changes or extra items, %d failing on both sides", s.calls, s.changed, s.bothFailed)
	if s.calls > 0 && s.bothFailed == s.calls {
		t.Errorf("every call failed on both sides")
	}
}

// selected returns the items sel picks, failing if it does not compile.
func selected(t *testing.T, sel rigging.ResourceSelector, items []*unstructured.Unstructured, mapper *resources.Mapper) []*unstructured.Unstructured {
	t.Helper()
	m, err := resources.CompileSelector(sel, mapper)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, it := range items {
		if m.MatchesObject(it) {
			out = append(out, it)
		}
	}
	return out
}

func sameSelector(t *testing.T, v, r rigging.ResourceSelector) {
	t.Helper()
	norm := func(s rigging.ResourceSelector) string {
		b, _ := json.Marshal([]any{slices.Sorted(slices.Values(s.IncludedNamespaces)), slices.Sorted(slices.Values(s.ExcludedNamespaces)),
			slices.Sorted(slices.Values(s.IncludedResources)), slices.Sorted(slices.Values(s.ExcludedResources)), s.LabelSelector})
		return strings.ReplaceAll(string(b), "null", "[]")
	}
	if norm(v) != norm(r) {
		t.Errorf("AppliesTo: Velero %+v, rigging %+v", v, r)
	}
}

// itemJSON is u's canonical JSON (fallback's when u is nil), normalised for
// two artefacts of Velero's typed round trips, which mean nothing to the API
// server: its actions convert items to typed objects and back, which adds an
// empty top-level status (a Service without one gets {"loadBalancer":{}};
// status is ignored on create), and, built here with apimachinery v0.37
// (Velero v1.18.3 pins v0.33), drops a zero creationTimestamp that Velero's
// own build keeps as null. So a status with nothing in it and
// "creationTimestamp": null members are left out on both sides.
func itemJSON(u, fallback *unstructured.Unstructured) string {
	if u == nil {
		u = fallback
	}
	obj := dropNullTimestamps(u.Object).(map[string]any)
	if st, ok := obj["status"]; ok && isEmpty(st) {
		delete(obj, "status")
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	return string(b)
}

// isEmpty reports whether v holds no value: nil, or maps and slices of
// nothing else.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func dropNullTimestamps(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "creationTimestamp" && e == nil {
				continue
			}
			out[k] = dropNullTimestamps(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropNullTimestamps(e)
		}
		return out
	}
	return v
}

func idList(ids []rigging.ResourceIdentifier) string {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(a, b rigging.ResourceIdentifier) int { return cmp.Compare(a.String(), b.String()) })
	s = slices.Compact(s)
	return fmt.Sprint(s)
}

func ref(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// sameFailure compares whether both failed (the messages may differ) and
// reports whether both succeeded.
func sameFailure(t *testing.T, what string, verr, rerr error) bool {
	t.Helper()
	if (verr == nil) != (rerr == nil) {
		t.Errorf("%s: Velero error %v, rigging error %v", what, verr, rerr)
		return false
	}
	if verr != nil {
		t.Logf("%s: both fail (Velero: %v; rigging: %v)", what, verr, rerr)
	}
	return verr == nil
}

// compare counts one call and its outcome.
func (s *stats) compare(t *testing.T, what string, verr, rerr error) bool {
	t.Helper()
	s.calls++
	ok := sameFailure(t, what, verr, rerr)
	if !ok && verr != nil && rerr != nil {
		s.bothFailed++
	}
	return ok
}

func diffBackup() *rigging.Backup {
	b := &rigging.Backup{}
	b.APIVersion, b.Kind, b.Name, b.Namespace, b.UID = "velero.io/v1", "Backup", "b1", "velero", "00000000-0000-4000-8000-0000000000b1"
	return b
}

func diffRestore() *rigging.Restore {
	r := &rigging.Restore{}
	r.APIVersion, r.Kind, r.Name, r.Namespace, r.UID = "velero.io/v1", "Restore", "r1", "velero", "00000000-0000-4000-8000-0000000000r1"
	r.Spec.BackupName = "b1"
	return r
}

// selecting is what every item action kind has: its selector.
type selecting interface {
	AppliesTo(context.Context) (rigging.ResourceSelector, error)
}

// openPair opens the same action from Velero's Manager (vm) and rigging's
// (rm) with get, checks that their AppliesTo agree, and returns both with
// the items their selector picks; ok is false when AppliesTo failed alike
// on both sides (nothing more to compare). With mustPick, a selector that
// picks no item is an error.
func openPair[T selecting](ctx context.Context, t *testing.T, vm, rm *manager.Manager, get func(*manager.Manager) (T, error), items []*unstructured.Unstructured, mapper *resources.Mapper, mustPick bool) (va, ra T, picked []*unstructured.Unstructured, ok bool) {
	t.Helper()
	va, err := get(vm)
	if err != nil {
		t.Fatal(err)
	}
	ra, err = get(rm)
	if err != nil {
		t.Fatal(err)
	}
	vsel, verr := va.AppliesTo(ctx)
	rsel, rerr := ra.AppliesTo(ctx)
	if !sameFailure(t, "AppliesTo", verr, rerr) {
		return va, ra, nil, false
	}
	sameSelector(t, vsel, rsel)
	picked = selected(t, rsel, items, mapper)
	if mustPick && len(picked) == 0 {
		t.Errorf("selector %+v picks no cluster-export object", rsel)
	}
	return va, ra, picked, true
}

func compareBackupActions(ctx context.Context, t *testing.T, vm, rm *manager.Manager, name string, items []*unstructured.Unstructured, mapper *resources.Mapper) {
	va, ra, picked, ok := openPair(ctx, t, vm, rm, func(m *manager.Manager) (rigging.BackupItemAction, error) {
		return m.BackupItemAction(ctx, name)
	}, items, mapper, true)
	if !ok {
		return
	}
	var st stats
	defer st.report(t)
	for _, it := range picked {
		vOut, vExtra, verr := va.Execute(ctx, it.DeepCopy(), diffBackup())
		rOut, rExtra, rerr := ra.Execute(ctx, it.DeepCopy(), diffBackup())
		if !st.compare(t, ref(it), verr, rerr) {
			continue
		}
		v, r := itemJSON(vOut, it), itemJSON(rOut, it)
		if v != r {
			t.Errorf("%s: updated item differs\nvelero:  %s\nrigging: %s", ref(it), v, r)
		}
		if v != itemJSON(it, nil) || len(vExtra) > 0 {
			st.changed++
		}
		if v, r := idList(vExtra), idList(rExtra); v != r {
			t.Errorf("%s: additional items differ\nvelero:  %s\nrigging: %s", ref(it), v, r)
		}
	}
}

func compareItemBlockActions(ctx context.Context, t *testing.T, vm, rm *manager.Manager, name string, items []*unstructured.Unstructured, mapper *resources.Mapper) {
	va, ra, picked, ok := openPair(ctx, t, vm, rm, func(m *manager.Manager) (rigging.ItemBlockAction, error) {
		return m.ItemBlockAction(ctx, name)
	}, items, mapper, true)
	if !ok {
		return
	}
	var st stats
	defer st.report(t)
	for _, it := range picked {
		vRel, verr := va.GetRelatedItems(ctx, it.DeepCopy(), diffBackup())
		rRel, rerr := ra.GetRelatedItems(ctx, it.DeepCopy(), diffBackup())
		if !st.compare(t, ref(it), verr, rerr) {
			continue
		}
		if len(vRel) > 0 {
			st.changed++
		}
		if v, r := idList(vRel), idList(rRel); v != r {
			t.Errorf("%s: related items differ\nvelero:  %s\nrigging: %s", ref(it), v, r)
		}
	}
}

// compareRestoreActions runs name from both Managers on the items it
// selects, each call with a fresh restore().
func compareRestoreActions(ctx context.Context, t *testing.T, vm, rm *manager.Manager, name string, items []*unstructured.Unstructured, mapper *resources.Mapper, restore func() *rigging.Restore) {
	va, ra, picked, ok := openPair(ctx, t, vm, rm, func(m *manager.Manager) (rigging.RestoreItemAction, error) {
		return m.RestoreItemAction(ctx, name)
	}, items, mapper, false)
	if !ok {
		return
	}
	var st stats
	defer st.report(t)
	for _, it := range picked {
		in := func() *rigging.RestoreItemActionExecuteInput {
			return &rigging.RestoreItemActionExecuteInput{Item: it.DeepCopy(), ItemFromBackup: it.DeepCopy(), Restore: restore()}
		}
		vOut, verr := va.Execute(ctx, in())
		rOut, rerr := ra.Execute(ctx, in())
		if !st.compare(t, ref(it), verr, rerr) {
			continue
		}
		if vOut == nil {
			vOut = &rigging.RestoreItemActionExecuteOutput{}
		}
		if rOut == nil {
			rOut = &rigging.RestoreItemActionExecuteOutput{}
		}
		v, r := itemJSON(vOut.UpdatedItem, it), itemJSON(rOut.UpdatedItem, it)
		if v != r {
			t.Errorf("%s: updated item differs\nvelero:  %s\nrigging: %s", ref(it), v, r)
		}
		if v != itemJSON(it, nil) || len(vOut.AdditionalItems) > 0 || vOut.SkipRestore {
			st.changed++
		}
		if v, r := idList(vOut.AdditionalItems), idList(rOut.AdditionalItems); v != r {
			t.Errorf("%s: additional items differ\nvelero:  %s\nrigging: %s", ref(it), v, r)
		}
		if vOut.SkipRestore != rOut.SkipRestore {
			t.Errorf("%s: skip: Velero %t, rigging %t", ref(it), vOut.SkipRestore, rOut.SkipRestore)
		}
	}
}

// compareBuiltins compares each item action of Velero's Manager (velero)
// that rigging's (rig) has too, kind by kind, on items, except the CSI
// actions (both sides skip them unless EnableCSI is on) and those
// notCompared gives a reason for; fewer than 10 compared is an error. It
// returns the kind-and-name keys of rig's plugins.
func compareBuiltins(ctx context.Context, t *testing.T, velero, rig *manager.Manager, items []*unstructured.Unstructured, mapper *resources.Mapper, notCompared map[string]string) map[string]bool {
	t.Helper()
	ours := map[string]bool{}
	for _, p := range rig.Plugins() {
		ours[p.Kind.String()+" "+p.Name.String()] = true
	}
	compared := 0
	for _, p := range velero.Plugins() {
		name := p.Name.String()
		key := p.Kind.String() + " " + name
		switch {
		case strings.HasPrefix(name, "velero.io/csi-"):
			continue
		case notCompared[name] != "":
			t.Logf("%s: not compared: %s", key, notCompared[name])
			continue
		case !ours[key]:
			t.Logf("%s: Velero has it, rigging does not", key)
			continue
		}
		compared++
		t.Run(key, func(t *testing.T) {
			switch p.Kind {
			case rigging.KindBackupItemAction:
				compareBackupActions(ctx, t, velero, rig, name, items, mapper)
			case rigging.KindRestoreItemAction:
				compareRestoreActions(ctx, t, velero, rig, name, items, mapper, diffRestore)
			case rigging.KindItemBlockAction:
				compareItemBlockActions(ctx, t, velero, rig, name, items, mapper)
			default:
				t.Skipf("kind %s is not compared", p.Kind)
			}
		})
	}
	if compared < 10 {
		t.Errorf("compared only %d built-ins", compared)
	}
	return ours
}
