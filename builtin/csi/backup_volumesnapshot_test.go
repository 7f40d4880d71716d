package csi

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

var clockTime = time.Date(2024, 3, 14, 9, 30, 0, 0, time.UTC)

func newVSBackupper(c any) *volumeSnapshotBackupper {
	a := &volumeSnapshotBackupper{base: newBase(VolumeSnapshotBackupperName, nil), now: func() time.Time { return clockTime }}
	if c != nil {
		a.clients = c.(ClientFactory)
	}
	return a
}

func TestVolumeSnapshotBackupper(t *testing.T) {
	s := loadScenario(t)
	vsItem := s.find(t, "VolumeSnapshot", "shop", "data-postgres-0-snap-20240313")
	vscItem := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	c := newFake(typed[snapshotv1.VolumeSnapshot](t, vsItem), typed[snapshotv1.VolumeSnapshotContent](t, vscItem))
	a := newVSBackupper(factory(c))
	backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero"}}

	before := vsItem.DeepCopy()
	out, extra, opID, post, err := a.Execute(context.Background(), vsItem, backup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vsItem, before) {
		t.Error("Execute modified its input")
	}
	wantAnn := map[string]string{
		AnnotationVSCDeletionPolicy: "Retain",
		AnnotationSnapshotHandle:    "snap-0c1d2e3f4a5b6c7d8",
		AnnotationDriverName:        "ebs.csi.aws.com",
		AnnotationRestoreSize:       "100Gi",
	}
	got := out.GetAnnotations()
	for k, v := range wantAnn {
		if got[k] != v {
			t.Errorf("item annotation %s = %q, want %q", k, got[k], v)
		}
	}
	if got[rigging.AnnotationBackupMustIncludeAdditionalItems] != "true" {
		t.Error("must-include annotation missing")
	}
	wantExtra := []rigging.ResourceIdentifier{
		{GroupResource: grVolumeSnapshotClasses, Name: "ebs-csi-snapclass"},
		{GroupResource: grVolumeSnapshotContents, Name: "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc"},
	}
	if !reflect.DeepEqual(extra, wantExtra) {
		t.Errorf("additional %v, want %v", extra, wantExtra)
	}
	if opID != "shop/data-postgres-0-snap-20240313/2024-03-14T09:30:00Z" {
		t.Errorf("operation ID %q", opID)
	}
	wantPost := []rigging.ResourceIdentifier{
		{GroupResource: grVolumeSnapshots, Namespace: "shop", Name: "data-postgres-0-snap-20240313"},
		{GroupResource: grVolumeSnapshotContents, Name: "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc"},
	}
	if !reflect.DeepEqual(post, wantPost) {
		t.Errorf("post-operation items %v", post)
	}
	// The cluster's objects were patched.
	vs, _ := c.SnapshotV1().VolumeSnapshots("shop").Get(context.Background(), "data-postgres-0-snap-20240313", metav1.GetOptions{})
	for k, v := range wantAnn {
		if vs.Annotations[k] != v {
			t.Errorf("cluster VolumeSnapshot annotation %s = %q, want %q", k, vs.Annotations[k], v)
		}
	}
	if _, ok := vs.Annotations[rigging.AnnotationBackupMustIncludeAdditionalItems]; ok {
		t.Error("must-include annotation patched onto the cluster's object")
	}
	vsc, _ := c.SnapshotV1().VolumeSnapshotContents().Get(context.Background(), "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc", metav1.GetOptions{})
	if vsc.Labels[LabelBackupName] != "nightly-20240314" {
		t.Errorf("content labels %v", vsc.Labels)
	}

	// The snapshot is ready: the operation is complete.
	p, err := a.Progress(context.Background(), opID, backup)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Completed || p.Err != "" || !p.Started.Equal(clockTime) || !p.Updated.Equal(clockTime) {
		t.Errorf("progress %+v", p)
	}
	if !strings.Contains(p.Description, "snapshot taken at 2024-03-13T01:00:02Z") {
		t.Errorf("description %q", p.Description)
	}
}

// TestVolumeSnapshotProgress follows an operation from a snapshot the
// controller has not seen to a ready one, and the failure paths.
func TestVolumeSnapshotProgress(t *testing.T) {
	ctx := context.Background()
	const opID = "shop/velero-redis-data-x1/2024-03-14T09:30:00Z"
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "velero-redis-data-x1", Namespace: "shop"}}
	c := newFake(vs)
	a := newVSBackupper(factory(c))
	update := func(f func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent)) {
		t.Helper()
		v, err := c.SnapshotV1().VolumeSnapshots("shop").Get(ctx, vs.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		content, err := c.SnapshotV1().VolumeSnapshotContents().Get(ctx, "snapcontent-x1", metav1.GetOptions{})
		if err != nil {
			content = &snapshotv1.VolumeSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: "snapcontent-x1"}}
			if content, err = c.SnapshotV1().VolumeSnapshotContents().Create(ctx, content, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		f(v, content)
		if _, err := c.SnapshotV1().VolumeSnapshots("shop").Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SnapshotV1().VolumeSnapshotContents().Update(ctx, content, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ptr := func(s string) *string { return &s }
	yes, no := true, false
	steps := []struct {
		name     string
		change   func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent)
		complete bool
		err      string
		desc     string
	}{
		{"no status yet", func(*snapshotv1.VolumeSnapshot, *snapshotv1.VolumeSnapshotContent) {}, false, "", "waiting for the snapshot controller"},
		{"bound, content cutting", func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent) {
			vs.Status = &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr("snapcontent-x1"), ReadyToUse: &no}
		}, false, "", "snapshot not ready"},
		{"temporary error on the snapshot", func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent) {
			vs.Status.Error = &snapshotv1.VolumeSnapshotError{Message: ptr("throttled")}
		}, false, "", "retrying after error: throttled"},
		{"content has a handle but is not ready", func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent) {
			vs.Status.Error = nil
			vs.Status.CreationTime = &metav1.Time{Time: time.Date(2024, 3, 14, 9, 30, 5, 0, time.UTC)}
			vsc.Status = &snapshotv1.VolumeSnapshotContentStatus{SnapshotHandle: ptr("snap-x1"), ReadyToUse: &no}
		}, false, "", "snapshot not ready; snapshot taken at 2024-03-14T09:30:05Z"},
		{"ready", func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent) {
			vs.Status.ReadyToUse = &yes
			vsc.Status.ReadyToUse = &yes
		}, true, "", "snapshot ready; snapshot taken at 2024-03-14T09:30:05Z"},
		{"content failed", func(vs *snapshotv1.VolumeSnapshot, vsc *snapshotv1.VolumeSnapshotContent) {
			vs.Status.ReadyToUse = &no
			vsc.Status = &snapshotv1.VolumeSnapshotContentStatus{Error: &snapshotv1.VolumeSnapshotError{Message: ptr("snapshot deleted on the provider")}}
		}, true, "snapshot deleted on the provider", "snapshot failed"},
	}
	for _, st := range steps {
		update(st.change)
		p, err := a.Progress(ctx, opID, &rigging.Backup{})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if p.Completed != st.complete || p.Err != st.err || !strings.Contains(p.Description, st.desc) {
			t.Errorf("%s: progress %+v, want completed=%v err=%q description ~%q", st.name, p, st.complete, st.err, st.desc)
		}
		if !p.Started.Equal(clockTime) {
			t.Errorf("%s: started %v", st.name, p.Started)
		}
		if p.Completed != !p.Updated.IsZero() {
			t.Errorf("%s: updated %v with completed %v", st.name, p.Updated, p.Completed)
		}
	}

	for _, bad := range []string{"", "shop/x", "shop/x/yesterday", "a/b/c/d"} {
		if _, err := a.Progress(ctx, bad, &rigging.Backup{}); !errors.Is(err, rigging.ErrInvalidOperationID) {
			t.Errorf("Progress(%q) = %v, want ErrInvalidOperationID", bad, err)
		}
	}
	if _, err := a.Progress(ctx, "shop/gone/2024-03-14T09:30:00Z", &rigging.Backup{}); err == nil || !strings.Contains(err.Error(), "VolumeSnapshot shop/gone: get: ") {
		t.Errorf("Progress of a deleted snapshot: %v", err)
	}
	if err := a.Cancel(ctx, opID, &rigging.Backup{}); err != nil {
		t.Errorf("Cancel: %v", err)
	}
}

func TestVolumeSnapshotBackupperFinalizing(t *testing.T) {
	s := loadScenario(t)
	vsItem := s.find(t, "VolumeSnapshot", "shop", "data-postgres-0-snap-20240313")
	vscItem := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	vsc := typed[snapshotv1.VolumeSnapshotContent](t, vscItem)
	vsc.Spec.DeletionPolicy = snapshotv1.VolumeSnapshotContentDelete
	c := newFake(typed[snapshotv1.VolumeSnapshot](t, vsItem), vsc)
	a := newVSBackupper(factory(c))
	out, extra, opID, _, err := a.Execute(context.Background(), vsItem, &rigging.Backup{Status: rigging.BackupStatus{Phase: rigging.BackupPhaseFinalizingPartiallyFailed}})
	if err != nil || out != vsItem || extra != nil || opID != "" {
		t.Fatalf("got %v %v %q %v", out, extra, opID, err)
	}
	want := []string{"patch volumesnapshotcontents", "delete volumesnapshotcontents", "delete volumesnapshots"}
	if got := verbs(c); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	patch := c.Actions()[0].(interface{ GetPatch() []byte }).GetPatch()
	if string(patch) != `{"spec":{"deletionPolicy":"Retain"}}` {
		t.Errorf("patch %s", patch)
	}
}

func TestVolumeSnapshotBackupperUnbound(t *testing.T) {
	s := loadScenario(t)
	vs := s.find(t, "VolumeSnapshot", "", "new-snapshot-demo-v1")
	vs.SetNamespace("default")
	c := newFake(typed[snapshotv1.VolumeSnapshot](t, vs))
	a := newVSBackupper(factory(c))
	_, _, _, _, err := a.Execute(context.Background(), vs, &rigging.Backup{})
	if err == nil || err.Error() != "plugin velero.io/csi-volumesnapshot-backupper: VolumeSnapshot default/new-snapshot-demo-v1: it is bound to no VolumeSnapshotContent" {
		t.Errorf("error %v", err)
	}
	if list, _ := c.SnapshotV1().VolumeSnapshots("").List(context.Background(), metav1.ListOptions{}); len(list.Items) != 0 {
		t.Error("unbound snapshot not cleaned up")
	}
}

func TestSecretRefBackuppers(t *testing.T) {
	s := loadScenario(t)
	vsc := s.find(t, "VolumeSnapshotContent", "", "snapcontent-0c41a8fe-cf4a-4a9e-a08f-5bef91d950bc")
	vscWithSecret := vsc.DeepCopy()
	addAnnotations(vscWithSecret, map[string]string{AnnotationSnapshotterSecretName: "ebs-snapshotter", AnnotationSnapshotterSecretNamespace: "kube-system"})
	class := s.find(t, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1")
	classWithSecret := class.DeepCopy()
	addAnnotations(classWithSecret, map[string]string{AnnotationListerSecretName: "hostpath-lister", AnnotationListerSecretNamespace: "default"})
	classHalf := class.DeepCopy()
	addAnnotations(classHalf, map[string]string{AnnotationListerSecretName: "hostpath-lister"})

	contentAction := newSecretRefAction(t, VolumeSnapshotContentBackupperName)
	classAction := newSecretRefAction(t, VolumeSnapshotClassBackupperName)
	finalizing := &rigging.Backup{Status: rigging.BackupStatus{Phase: rigging.BackupPhaseFinalizing}}
	tests := []struct {
		name   string
		action rigging.BackupItemActionV2
		item   *unstructured.Unstructured
		backup *rigging.Backup
		want   []rigging.ResourceIdentifier
	}{
		{"content without secret", contentAction, vsc, &rigging.Backup{}, nil},
		{"content with delete secret", contentAction, vscWithSecret, &rigging.Backup{}, []rigging.ResourceIdentifier{{GroupResource: grSecrets, Namespace: "kube-system", Name: "ebs-snapshotter"}}},
		{"content while finalizing", contentAction, vscWithSecret, finalizing, nil},
		{"class without secret", classAction, class, &rigging.Backup{}, nil},
		{"class with list secret", classAction, classWithSecret, &rigging.Backup{}, []rigging.ResourceIdentifier{{GroupResource: grSecrets, Namespace: "default", Name: "hostpath-lister"}}},
		{"class with list secret while finalizing", classAction, classWithSecret, finalizing, []rigging.ResourceIdentifier{{GroupResource: grSecrets, Namespace: "default", Name: "hostpath-lister"}}},
		{"class with only the secret's name", classAction, classHalf, &rigging.Backup{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.item.DeepCopy()
			out, extra, opID, post, err := tt.action.Execute(context.Background(), tt.item, tt.backup)
			if err != nil || opID != "" || post != nil {
				t.Fatalf("%v %q %v", err, opID, post)
			}
			if !reflect.DeepEqual(tt.item, before) {
				t.Error("Execute modified its input")
			}
			if !reflect.DeepEqual(extra, tt.want) {
				t.Errorf("additional %v, want %v", extra, tt.want)
			}
			must := out.GetAnnotations()[rigging.AnnotationBackupMustIncludeAdditionalItems] == "true"
			if must != (tt.want != nil) {
				t.Errorf("must-include annotation %v", must)
			}
		})
	}
	if _, err := contentAction.Progress(context.Background(), "x", &rigging.Backup{}); !errors.Is(err, rigging.ErrAsyncNotSupported) {
		t.Errorf("Progress: %v", err)
	}
}
