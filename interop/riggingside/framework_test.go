package riggingside

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/interop/internal/spec"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manager"
)

// veleroName is the name of a test plugin served by the Velero-framework binary.
func veleroName(short string) string { return spec.VeleroDomain + "/" + short }

func item(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetResourceVersion("42")
	u.SetLabels(map[string]string{"app": "web"})
	_ = unstructured.SetNestedField(u.Object, "builder", "spec", "serviceAccountName")
	return u
}

func ids(in []spec.ID) []rigging.ResourceIdentifier {
	var out []rigging.ResourceIdentifier
	for _, id := range in {
		out = append(out, rigging.ResourceIdentifier{GroupResource: schema.GroupResource{Group: id.Group, Resource: id.Resource}, Namespace: id.Namespace, Name: id.Name})
	}
	return out
}

func selector(short string) rigging.ResourceSelector {
	s := spec.AppliesTo(short)
	return rigging.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces, ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources: s.IncludedResources, ExcludedResources: s.ExcludedResources, LabelSelector: s.LabelSelector,
	}
}

func progress(p spec.Progress) rigging.OperationProgress {
	return rigging.OperationProgress{
		Completed: p.Completed, Err: p.Err, NCompleted: p.NCompleted, NTotal: p.NTotal,
		OperationUnits: p.Units, Description: p.Description, Started: p.Started, Updated: p.Updated,
	}
}

func backupObj() *rigging.Backup {
	b := &rigging.Backup{}
	b.APIVersion, b.Kind = "velero.io/v1", "Backup"
	b.Name, b.Namespace = "nightly", "velero"
	b.Spec.IncludedNamespaces = []string{"ns1"}
	return b
}

func restoreObj() *rigging.Restore {
	r := &rigging.Restore{}
	r.APIVersion, r.Kind = "velero.io/v1", "Restore"
	r.Name, r.Namespace = "nightly-restore", "velero"
	r.Spec.BackupName = "nightly"
	return r
}

// wantFailure checks the error an action returns for spec.FailName: the
// plugin's message and a remote stack pointing into the plugin's source.
func wantFailure(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error = %v, want one containing %q", err, msg)
	}
	var re *external.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an external.RemoteError", err, err)
	}
	frames := re.Frames()
	if len(frames) == 0 {
		t.Fatalf("error %v carries no remote stack", err)
	}
	if !slices.ContainsFunc(frames, func(f external.StackFrame) bool {
		return strings.HasSuffix(f.File, "internal/velerofw/velerofw.go") && f.Line > 0 && f.Function != ""
	}) {
		t.Errorf("remote stack %+v has no frame in the plugin's source", frames)
	}
}

// wantPanic checks the error for spec.PanicName: it matches rigging.ErrPanic
// and keeps the panic value.
func wantPanic(t *testing.T, err error, action string) {
	t.Helper()
	if !errors.Is(err, rigging.ErrPanic) {
		t.Fatalf("error = %v, want one matching rigging.ErrPanic", err)
	}
	if !strings.Contains(err.Error(), spec.PanicMessage(action)) {
		t.Errorf("error %q does not carry the panic value %q", err, spec.PanicMessage(action))
	}
}

// TestVeleroFrameworkPlugin drives every method of every kind of a plugin
// binary built on Velero's own framework through rigging's catalog and Manager.
func TestVeleroFrameworkPlugin(t *testing.T) {
	bin := binary(t, func() (string, error) { return testbin.Interop("cmd/velero-test-plugin") })
	m, cat, dir := newManager(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("discovery", func(t *testing.T) {
		var got []string
		for _, p := range cat.Plugins() {
			if p.Source != dir+"/velero-test-plugin" {
				t.Errorf("plugin %s %s: source %q, want the binary", p.Kind, p.Name, p.Source)
			}
			got = append(got, p.Kind.String()+" "+p.Name.String())
		}
		slices.Sort(got)
		want := []string{
			"BackupItemAction " + veleroName(spec.BackupItemAction),
			"BackupItemActionV2 " + veleroName(spec.BackupItemActionV2),
			"DeleteItemAction " + veleroName(spec.DeleteItemAction),
			"ItemBlockAction " + veleroName(spec.ItemBlockAction),
			"ObjectStore " + veleroName(spec.ObjectStore),
			"RestoreItemAction " + veleroName(spec.RestoreItemAction),
			"RestoreItemActionV2 " + veleroName(spec.RestoreItemActionV2),
			"VolumeSnapshotter " + veleroName(spec.VolumeSnapshotter),
		}
		if !slices.Equal(got, want) {
			t.Errorf("plugins = %q, want %q", got, want)
		}
		for _, pi := range m.Plugins() {
			if !pi.Active || pi.Transport != manager.TransportGRPC {
				t.Errorf("plugin %s %s: active %t transport %q, want active over grpc", pi.Kind, pi.Name, pi.Active, pi.Transport)
			}
		}
	})

	t.Run("ObjectStore", func(t *testing.T) {
		st, err := m.ObjectStore(ctx, veleroName(spec.ObjectStore))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Init(ctx, map[string]string{"bucket": "b", "prefix": "p"}); err != nil {
			t.Fatalf("Init: %v", err)
		}
		driveObjectStore(ctx, t, st, "b", "p/")
		url, err := st.CreateSignedURL(ctx, "b", "p/k", 90*time.Second)
		if want := spec.SignedURL("b", "p/k", 90*time.Second); err != nil || url != want {
			t.Errorf("CreateSignedURL = %q, %v; want %q (ttl travels in nanoseconds)", url, err, want)
		}
		_, err = st.GetObject(ctx, "b", "p/missing")
		if err == nil || !strings.Contains(err.Error(), spec.ErrNoSuchKey.Error()) {
			t.Errorf("GetObject(missing) = %v, want the plugin's %q", err, spec.ErrNoSuchKey)
		}

		bad, err := m.ObjectStore(ctx, veleroName(spec.ObjectStore))
		if err != nil {
			t.Fatal(err)
		}
		err = bad.Init(ctx, map[string]string{spec.ConfigFail: "yes"})
		if err == nil || !strings.Contains(err.Error(), `config key "fail"="yes" refused`) {
			t.Errorf("Init(fail) = %v, want the plugin's refusal", err)
		}
	})

	t.Run("VolumeSnapshotter", func(t *testing.T) {
		vs, err := m.VolumeSnapshotter(ctx, veleroName(spec.VolumeSnapshotter))
		if err != nil {
			t.Fatal(err)
		}
		if err := vs.Init(ctx, map[string]string{"region": "eu-west-1"}); err != nil {
			t.Fatalf("Init: %v", err)
		}
		iops := int64(500)
		for _, tc := range []struct {
			name string
			iops *int64
		}{{"iops set", &iops}, {"iops unset", nil}} {
			got, err := vs.CreateVolumeFromSnapshot(ctx, "snap-1", "gp3", "eu-west-1a", tc.iops)
			if want := spec.VolumeFromSnapshot("snap-1", "gp3", "eu-west-1a", tc.iops); err != nil || got != want {
				t.Errorf("%s: CreateVolumeFromSnapshot = %q, %v; want %q", tc.name, got, err, want)
			}
		}
		for _, vol := range []string{"io-1", "vol-2"} {
			typ, gotIOPS, err := vs.GetVolumeInfo(ctx, vol, "az")
			wantType, wantIOPS := spec.VolumeInfo(vol, "az")
			if err != nil || typ != wantType || !reflect.DeepEqual(gotIOPS, wantIOPS) {
				t.Errorf("GetVolumeInfo(%s) = %q, %v, %v; want %q, %v", vol, typ, gotIOPS, err, wantType, wantIOPS)
			}
		}
		tags := map[string]string{"velero.io/backup": "nightly", "team": "db"}
		if got, err := vs.CreateSnapshot(ctx, "vol-9", "az-b", tags); err != nil || got != spec.SnapshotID("vol-9", "az-b", tags) {
			t.Errorf("CreateSnapshot = %q, %v", got, err)
		}
		if err := vs.DeleteSnapshot(ctx, "snap-1"); err != nil {
			t.Errorf("DeleteSnapshot: %v", err)
		}
		if err := vs.DeleteSnapshot(ctx, spec.FailName); err == nil || !strings.Contains(err.Error(), "cannot delete snapshot fail") {
			t.Errorf("DeleteSnapshot(fail) = %v", err)
		}
		pv := item("v1", "PersistentVolume", "", "pv-1")
		if id, err := vs.GetVolumeID(ctx, pv); err != nil || id != "" {
			t.Errorf("GetVolumeID(no handle) = %q, %v; want \"\"", id, err)
		}
		set, err := vs.SetVolumeID(ctx, pv, "vol-77")
		if err != nil {
			t.Fatalf("SetVolumeID: %v", err)
		}
		want, _ := spec.SetVolumeID(pv, "vol-77")
		if !reflect.DeepEqual(set.Object, want.Object) {
			t.Errorf("SetVolumeID = %v, want %v", set.Object, want.Object)
		}
		if _, ok, _ := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle"); ok {
			t.Error("SetVolumeID modified its input")
		}
		if id, err := vs.GetVolumeID(ctx, set); err != nil || id != "vol-77" {
			t.Errorf("GetVolumeID = %q, %v; want vol-77", id, err)
		}
	})

	t.Run("BackupItemAction", func(t *testing.T) {
		a, err := m.BackupItemAction(ctx, veleroName(spec.BackupItemAction))
		if err != nil {
			t.Fatal(err)
		}
		sel, err := a.AppliesTo(ctx)
		if err != nil || !reflect.DeepEqual(sel, selector(spec.BackupItemAction)) {
			t.Errorf("AppliesTo = %+v, %v", sel, err)
		}
		in := item("v1", "Pod", "ns1", "web-0")
		out, extra, err := a.Execute(ctx, in, backupObj())
		wantOut, wantExtra := spec.BackupExecute(in, "nightly")
		if err != nil || !reflect.DeepEqual(out.Object, wantOut.Object) || !reflect.DeepEqual(extra, ids(wantExtra)) {
			t.Errorf("Execute = %v, %v, %v; want %v, %v", out, extra, err, wantOut.Object, wantExtra)
		}
		_, _, err = a.Execute(ctx, item("v1", "Pod", "ns1", spec.FailName), backupObj())
		wantFailure(t, err, "bia: refusing item ns1/fail")
		_, _, err = a.Execute(ctx, item("v1", "Pod", "ns1", spec.PanicName), backupObj())
		wantPanic(t, err, spec.BackupItemAction)
		// The plugin survives its panic.
		if _, _, err := a.Execute(ctx, in, backupObj()); err != nil {
			t.Errorf("Execute after a panic: %v", err)
		}
	})

	t.Run("BackupItemActionV2", func(t *testing.T) {
		a, err := m.BackupItemActionV2(ctx, veleroName(spec.BackupItemActionV2))
		if err != nil {
			t.Fatal(err)
		}
		if a.Name() != veleroName(spec.BackupItemActionV2) {
			t.Errorf("Name = %q", a.Name())
		}
		if sel, err := a.AppliesTo(ctx); err != nil || !reflect.DeepEqual(sel, selector(spec.BackupItemActionV2)) {
			t.Errorf("AppliesTo = %+v, %v", sel, err)
		}
		in := item("apps/v1", "Deployment", "ns2", "api")
		out, extra, opID, post, err := a.Execute(ctx, in, backupObj())
		wantOut, wantExtra := spec.BackupExecute(in, "nightly")
		if err != nil || !reflect.DeepEqual(out.Object, wantOut.Object) || !reflect.DeepEqual(extra, ids(wantExtra)) ||
			opID != spec.OperationID(spec.BackupOperationPrefix, in) || !reflect.DeepEqual(post, ids(spec.PostOperationItems(in))) {
			t.Errorf("Execute = %v, %v, %q, %v, %v", out, extra, opID, post, err)
		}
		p, err := a.Progress(ctx, opID, backupObj())
		wantP, _ := spec.OperationProgress(spec.BackupOperationPrefix, opID, "nightly")
		if err != nil || !p.Started.Equal(wantP.Started) || !p.Updated.Equal(wantP.Updated) {
			t.Errorf("Progress = %+v, %v; want %+v", p, err, wantP)
		}
		p.Started, p.Updated = wantP.Started, wantP.Updated
		if !reflect.DeepEqual(p, progress(wantP)) {
			t.Errorf("Progress = %+v, want %+v", p, progress(wantP))
		}
		if _, err := a.Progress(ctx, "other-op", backupObj()); err == nil || !strings.Contains(err.Error(), "invalid operation ID") {
			t.Errorf("Progress(unknown) = %v", err)
		}
		if err := a.Cancel(ctx, opID, backupObj()); err != nil {
			t.Errorf("Cancel: %v", err)
		}
		if err := a.Cancel(ctx, "other-op", backupObj()); err == nil {
			t.Error("Cancel(unknown) succeeded")
		}
		_, _, _, _, err = a.Execute(ctx, item("v1", "Pod", "ns1", spec.FailName), backupObj())
		wantFailure(t, err, "bia-v2: refusing item ns1/fail")
		_, _, _, _, err = a.Execute(ctx, item("v1", "Pod", "ns1", spec.PanicName), backupObj())
		wantPanic(t, err, spec.BackupItemActionV2)
	})

	t.Run("BackupItemAction as v2", func(t *testing.T) {
		a, err := m.BackupItemActionV2(ctx, veleroName(spec.BackupItemAction))
		if err != nil {
			t.Fatal(err)
		}
		in := item("v1", "Pod", "ns1", "web-0")
		_, _, opID, _, err := a.Execute(ctx, in, backupObj())
		if err != nil || opID != "" {
			t.Errorf("adapted Execute: operation %q, %v", opID, err)
		}
		if _, err := a.Progress(ctx, "x", backupObj()); !errors.Is(err, rigging.ErrAsyncNotSupported) {
			t.Errorf("adapted Progress = %v, want ErrAsyncNotSupported", err)
		}
	})

	t.Run("RestoreItemAction", func(t *testing.T) {
		for _, v2 := range []bool{false, true} {
			short := spec.RestoreItemAction
			var exec func(context.Context, *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error)
			var appliesTo func(context.Context) (rigging.ResourceSelector, error)
			var v2a rigging.RestoreItemActionV2
			if v2 {
				short = spec.RestoreItemActionV2
				a, err := m.RestoreItemActionV2(ctx, veleroName(short))
				if err != nil {
					t.Fatal(err)
				}
				exec, appliesTo, v2a = a.Execute, a.AppliesTo, a
			} else {
				a, err := m.RestoreItemAction(ctx, veleroName(short))
				if err != nil {
					t.Fatal(err)
				}
				exec, appliesTo = a.Execute, a.AppliesTo
			}
			if sel, err := appliesTo(ctx); err != nil || !reflect.DeepEqual(sel, selector(short)) {
				t.Errorf("%s AppliesTo = %+v, %v", short, sel, err)
			}
			for _, skip := range []bool{false, true} {
				in := item("v1", "ConfigMap", "ns1", "settings")
				if skip {
					in.SetLabels(map[string]string{spec.LabelSkip: "true"})
				}
				from := in.DeepCopy()
				from.SetResourceVersion("1234")
				out, err := exec(ctx, &rigging.RestoreItemActionExecuteInput{Item: in, ItemFromBackup: from, Restore: restoreObj()})
				if err != nil {
					t.Fatalf("%s Execute: %v", short, err)
				}
				want := spec.RestoreExecute(in, from, "nightly-restore", v2)
				got := spec.RestoreOutput{Item: out.UpdatedItem, Skip: out.SkipRestore, OperationID: out.OperationID,
					WaitForAdditionalItems: out.WaitForAdditionalItems, ReadyTimeout: out.AdditionalItemsReadyTimeout}
				if !reflect.DeepEqual(out.AdditionalItems, ids(want.Additional)) {
					t.Errorf("%s additional = %v, want %v", short, out.AdditionalItems, want.Additional)
				}
				want.Additional = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s Execute (skip %t) = %+v, want %+v", short, skip, got, want)
				}
			}
			_, err := exec(ctx, &rigging.RestoreItemActionExecuteInput{Item: item("v1", "Pod", "ns1", spec.FailName), ItemFromBackup: item("v1", "Pod", "ns1", spec.FailName), Restore: restoreObj()})
			wantFailure(t, err, short+": refusing item ns1/fail")
			_, err = exec(ctx, &rigging.RestoreItemActionExecuteInput{Item: item("v1", "Pod", "ns1", spec.PanicName), ItemFromBackup: item("v1", "Pod", "ns1", spec.PanicName), Restore: restoreObj()})
			wantPanic(t, err, short)
			if v2a == nil {
				continue
			}
			if v2a.Name() != veleroName(short) {
				t.Errorf("Name = %q", v2a.Name())
			}
			opID := spec.OperationID(spec.RestoreOperationPrefix, item("v1", "ConfigMap", "ns1", "settings"))
			p, err := v2a.Progress(ctx, opID, restoreObj())
			wantP, _ := spec.OperationProgress(spec.RestoreOperationPrefix, opID, "nightly-restore")
			if err != nil || p.Description != wantP.Description || !p.Started.Equal(wantP.Started) || p.NCompleted != 3 || !p.Completed {
				t.Errorf("Progress = %+v, %v; want %+v", p, err, wantP)
			}
			if err := v2a.Cancel(ctx, opID, restoreObj()); err != nil {
				t.Errorf("Cancel: %v", err)
			}
			if err := v2a.Cancel(ctx, "nope", restoreObj()); err == nil {
				t.Error("Cancel(unknown) succeeded")
			}
			for _, tc := range []struct {
				items []spec.ID
				want  bool
			}{
				{[]spec.ID{{Resource: "secrets", Namespace: "ns1", Name: "a-secret"}}, true},
				{[]spec.ID{{Resource: "secrets", Namespace: "ns1", Name: "a-secret"}, {Resource: "pods", Namespace: "ns1", Name: "b"}}, false},
			} {
				ready, err := v2a.AreAdditionalItemsReady(ctx, ids(tc.items), restoreObj())
				if err != nil || ready != tc.want {
					t.Errorf("AreAdditionalItemsReady(%v) = %t, %v; want %t", tc.items, ready, err, tc.want)
				}
			}
		}
	})

	t.Run("DeleteItemAction", func(t *testing.T) {
		a, err := m.DeleteItemAction(ctx, veleroName(spec.DeleteItemAction))
		if err != nil {
			t.Fatal(err)
		}
		if sel, err := a.AppliesTo(ctx); err != nil || !reflect.DeepEqual(sel, selector(spec.DeleteItemAction)) {
			t.Errorf("AppliesTo = %+v, %v", sel, err)
		}
		if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: item("v1", "Pod", "ns1", "web-0"), Backup: backupObj()}); err != nil {
			t.Errorf("Execute: %v", err)
		}
		err = a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: item("v1", "Pod", "ns1", spec.FailName), Backup: backupObj()})
		wantFailure(t, err, "dia: refusing to delete ns1/fail of backup nightly")
		err = a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: item("v1", "Pod", "ns1", spec.PanicName), Backup: backupObj()})
		wantPanic(t, err, spec.DeleteItemAction)
	})

	t.Run("ItemBlockAction", func(t *testing.T) {
		a, err := m.ItemBlockAction(ctx, veleroName(spec.ItemBlockAction))
		if err != nil {
			t.Fatal(err)
		}
		if a.Name() != veleroName(spec.ItemBlockAction) {
			t.Errorf("Name = %q", a.Name())
		}
		if sel, err := a.AppliesTo(ctx); err != nil || !reflect.DeepEqual(sel, selector(spec.ItemBlockAction)) {
			t.Errorf("AppliesTo = %+v, %v", sel, err)
		}
		in := item("v1", "Pod", "ns1", "web-0")
		got, err := a.GetRelatedItems(ctx, in, backupObj())
		if err != nil || !reflect.DeepEqual(got, ids(spec.RelatedItems(in, "nightly"))) {
			t.Errorf("GetRelatedItems = %v, %v", got, err)
		}
		_, err = a.GetRelatedItems(ctx, item("v1", "Pod", "ns1", spec.FailName), backupObj())
		wantFailure(t, err, "iba: refusing item ns1/fail")
		_, err = a.GetRelatedItems(ctx, item("v1", "Pod", "ns1", spec.PanicName), backupObj())
		wantPanic(t, err, spec.ItemBlockAction)
	})
}

// driveObjectStore runs every ObjectStore method but CreateSignedURL against
// st under bucket/prefix, and leaves nothing behind.
func driveObjectStore(ctx context.Context, t *testing.T, st rigging.ObjectStore, bucket, prefix string) {
	t.Helper()
	big := strings.Repeat("0123456789abcdef", 40000) // 640 000 bytes: many 16 KiB chunks each way
	objects := map[string]string{
		prefix + "backups/b1/velero-backup.json": `{"kind":"Backup"}`,
		prefix + "backups/b1/b1.tar.gz":          big,
		prefix + "backups/b2/velero-backup.json": `{}`,
		prefix + "restores/r1/log.gz":            "log",
		prefix + "top":                           "",
	}
	keys := make([]string, 0, len(objects))
	for k, v := range objects {
		if err := st.PutObject(ctx, bucket, k, strings.NewReader(v)); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for k, v := range objects {
		ok, err := st.ObjectExists(ctx, bucket, k)
		if err != nil || !ok {
			t.Errorf("ObjectExists(%s) = %t, %v", k, ok, err)
		}
		rc, err := st.GetObject(ctx, bucket, k)
		if err != nil {
			t.Fatalf("GetObject %s: %v", k, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != v {
			t.Errorf("GetObject %s: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
		}
	}
	if ok, err := st.ObjectExists(ctx, bucket, prefix+"nope"); err != nil || ok {
		t.Errorf("ObjectExists(missing) = %t, %v", ok, err)
	}
	got, err := st.ListObjects(ctx, bucket, prefix)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, keys) {
		t.Errorf("ListObjects = %q, %v; want %q", got, err, keys)
	}
	got, err = st.ListObjects(ctx, bucket, prefix+"backups/b1/")
	slices.Sort(got)
	if want := []string{prefix + "backups/b1/b1.tar.gz", prefix + "backups/b1/velero-backup.json"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ListObjects(b1) = %q, %v; want %q", got, err, want)
	}
	got, err = st.ListCommonPrefixes(ctx, bucket, prefix, "/")
	slices.Sort(got)
	if want := []string{prefix + "backups/", prefix + "restores/"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ListCommonPrefixes(%q) = %q, %v; want %q", prefix, got, err, want)
	}
	got, err = st.ListCommonPrefixes(ctx, bucket, prefix+"backups/", "/")
	slices.Sort(got)
	if want := []string{prefix + "backups/b1/", prefix + "backups/b2/"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ListCommonPrefixes(backups/) = %q, %v; want %q", got, err, want)
	}
	// Closing a reader early releases the stream; the next call works.
	rc, err := st.GetObject(ctx, bucket, prefix+"backups/b1/b1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
		t.Errorf("partial read: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("early Close: %v", err)
	}
	for _, k := range keys {
		if err := st.DeleteObject(ctx, bucket, k); err != nil {
			t.Errorf("DeleteObject %s: %v", k, err)
		}
	}
	if got, err := st.ListObjects(ctx, bucket, prefix); err != nil || len(got) != 0 {
		t.Errorf("ListObjects after delete = %q, %v", got, err)
	}
}
