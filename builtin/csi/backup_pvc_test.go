package csi

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
)

var (
	gvrVolumeSnapshots        = snapshotv1.SchemeGroupVersion.WithResource("volumesnapshots")
	gvrVolumeSnapshotContents = snapshotv1.SchemeGroupVersion.WithResource("volumesnapshotcontents")
)

// controller plays the snapshot controller and CSI snapshotter on a fake
// clientset: the first look at a new VolumeSnapshot binds it to a new
// content; the content gets its snapshot handle on the handleAfter-th look.
type controller struct {
	driver      string
	handleAfter int
	restoreSize int64
	never       bool   // never bind
	contentErr  string // content error reported until the handle appears
}

func (ctl controller) install(t testing.TB, c *fake.Clientset) {
	var mu sync.Mutex
	gets := 0
	c.PrependReactor("get", "volumesnapshots", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if ctl.never {
			return false, nil, nil
		}
		get := a.(k8stesting.GetAction)
		obj, err := c.Tracker().Get(gvrVolumeSnapshots, get.GetNamespace(), get.GetName())
		if err != nil {
			return false, nil, nil
		}
		vs := obj.(*snapshotv1.VolumeSnapshot)
		if vs.Status != nil {
			return false, nil, nil
		}
		content := "snapcontent-" + vs.Name
		vs.Status = &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: &content}
		if err := c.Tracker().Update(gvrVolumeSnapshots, vs, vs.Namespace); err != nil {
			t.Error(err)
		}
		vsc := &snapshotv1.VolumeSnapshotContent{
			ObjectMeta: metav1.ObjectMeta{Name: content},
			Spec: snapshotv1.VolumeSnapshotContentSpec{
				DeletionPolicy:    snapshotv1.VolumeSnapshotContentDelete,
				Driver:            ctl.driver,
				VolumeSnapshotRef: corev1.ObjectReference{Namespace: vs.Namespace, Name: vs.Name},
			},
		}
		if ctl.contentErr != "" {
			msg := ctl.contentErr
			vsc.Status = &snapshotv1.VolumeSnapshotContentStatus{Error: &snapshotv1.VolumeSnapshotError{Message: &msg}}
		}
		if err := c.Tracker().Create(gvrVolumeSnapshotContents, vsc, ""); err != nil {
			t.Error(err)
		}
		return false, nil, nil
	})
	c.PrependReactor("get", "volumesnapshotcontents", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		gets++
		ready := ctl.handleAfter > 0 && gets >= ctl.handleAfter
		mu.Unlock()
		if !ready {
			return false, nil, nil
		}
		obj, err := c.Tracker().Get(gvrVolumeSnapshotContents, "", a.(k8stesting.GetAction).GetName())
		if err != nil {
			return false, nil, nil
		}
		vsc := obj.(*snapshotv1.VolumeSnapshotContent)
		if vsc.Status == nil || vsc.Status.SnapshotHandle == nil {
			handle, size := "snap-"+vsc.Name, ctl.restoreSize
			vsc.Status = &snapshotv1.VolumeSnapshotContentStatus{SnapshotHandle: &handle, RestoreSize: &size}
			if err := c.Tracker().Update(gvrVolumeSnapshotContents, vsc, ""); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
}

func hostpathPV(t testing.TB) *unstructured.Unstructured {
	return testmanifest.FromYAML(t, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pvc-1f0e9a4c}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: csi-hostpath-sc
  claimRef: {kind: PersistentVolumeClaim, namespace: default, name: hpvc, uid: 1f0e9a4c}
  csi: {driver: hostpath.csi.k8s.io, volumeHandle: 3c2d6f2e-hostpath}
`)
}

// boundHPVC is the external-snapshotter example claim, bound as the API
// server shows it once provisioned.
func boundHPVC(t *testing.T, s *scenario) *unstructured.Unstructured {
	pvc := s.find(t, "PersistentVolumeClaim", "", "hpvc")
	pvc.SetNamespace("default")
	pvc.SetLabels(map[string]string{"app": "hostpath-demo"})
	_ = unstructured.SetNestedField(pvc.Object, "pvc-1f0e9a4c", "spec", "volumeName")
	_ = unstructured.SetNestedField(pvc.Object, "Bound", "status", "phase")
	return pvc
}

func TestPVCBackupper(t *testing.T) {
	s := loadScenario(t)
	ebsClass := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "ebs-csi-snapclass"))
	hostpathClass := typed[snapshotv1.VolumeSnapshotClass](t, s.find(t, "VolumeSnapshotClass", "", "csi-hostpath-snapclass-v1"))
	f := false
	tr := true

	type want struct {
		err         error  // errors.Is target
		errText     string // substring
		snapshot    bool   // a VolumeSnapshot was created and returned
		class       string // its class
		request     string // the returned claim's storage request
		skippedNoPV bool
		unchanged   bool
	}
	tests := []struct {
		name    string
		item    func() *unstructured.Unstructured
		backup  func(*rigging.Backup)
		extra   []*unstructured.Unstructured
		classes []runtime.Object
		ctl     controller
		want    want
	}{
		{
			name: "CSI claim of a StatefulSet: snapshotted with the labelled class",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			classes: []runtime.Object{ebsClass, hostpathClass},
			ctl:     controller{driver: "ebs.csi.aws.com", handleAfter: 3, restoreSize: 100 << 30},
			want:    want{snapshot: true, class: "ebs-csi-snapclass", request: "100Gi"},
		},
		{
			name: "restore size above the request raises it",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0")
			},
			classes: []runtime.Object{ebsClass},
			ctl:     controller{driver: "ebs.csi.aws.com", handleAfter: 1, restoreSize: 64 << 30},
			want:    want{snapshot: true, class: "ebs-csi-snapclass", request: "64Gi"},
		},
		{
			name: "opt-out file-system backup selects every pod volume",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			backup: func(b *rigging.Backup) { b.Spec.DefaultVolumesToFsBackup = &tr },
			want:   want{unchanged: true},
		},
		{
			name:    "example claim: the driver's only class",
			item:    func() *unstructured.Unstructured { return boundHPVC(t, s) },
			extra:   []*unstructured.Unstructured{hostpathPV(t)},
			classes: []runtime.Object{ebsClass, hostpathClass},
			ctl:     controller{driver: "hostpath.csi.k8s.io", handleAfter: 2, restoreSize: 2 << 30},
			want:    want{snapshot: true, class: "csi-hostpath-snapclass-v1", request: "2Gi"},
		},
		{
			name: "pod opts the volume in to file-system backup",
			item: func() *unstructured.Unstructured { return s.find(t, "PersistentVolumeClaim", "shop", "redis-data") },
			want: want{unchanged: true},
		},
		{
			name: "snapshotVolumes=false",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0")
			},
			backup: func(b *rigging.Backup) { b.Spec.SnapshotVolumes = &f },
			want:   want{unchanged: true},
		},
		{
			name: "in-tree EBS volume is not CSI",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "monitoring", "grafana-storage")
			},
			want: want{skippedNoPV: true},
		},
		{
			name: "static NFS volume is not CSI",
			item: func() *unstructured.Unstructured { return s.find(t, "PersistentVolumeClaim", "shop", "shop-assets") },
			want: want{skippedNoPV: true},
		},
		{
			name: "claim without storage class",
			item: func() *unstructured.Unstructured {
				pvc := s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
				unstructured.RemoveNestedField(pvc.Object, "spec", "storageClassName")
				return pvc
			},
			want: want{errText: "plugin velero.io/csi-pvc-backupper: PersistentVolumeClaim shop/data-postgres-0: cannot snapshot a claim without a storage class"},
		},
		{
			name: "unbound example claim",
			item: func() *unstructured.Unstructured { return s.find(t, "PersistentVolumeClaim", "", "hpvc") },
			want: want{errText: "PersistentVolumeClaim hpvc: no volume backs this claim"},
		},
		{
			name:  "PV missing from the lookup",
			item:  func() *unstructured.Unstructured { return boundHPVC(t, s) },
			want:  want{err: rigging.ErrNotFound, errText: "get its PersistentVolume pvc-1f0e9a4c"},
			extra: nil,
		},
		{
			name: "data mover",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			backup: func(b *rigging.Backup) { b.Spec.SnapshotMoveData = &tr },
			want:   want{err: ErrDataMoverUnsupported},
		},
		{
			name: "volume group",
			item: func() *unstructured.Unstructured {
				pvc := s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
				pvc.SetLabels(map[string]string{"consistency-group": "db"})
				return pvc
			},
			backup: func(b *rigging.Backup) { b.Spec.VolumeGroupSnapshotLabelKey = "consistency-group" },
			want:   want{err: ErrVolumeGroupSnapshotUnsupported},
		},
		{
			name: "finalizing backup",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			backup: func(b *rigging.Backup) { b.Status.Phase = rigging.BackupPhaseFinalizing },
			want:   want{unchanged: true},
		},
		{
			name: "no class for the driver",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			classes: []runtime.Object{hostpathClass},
			want:    want{errText: "StorageClass gp3-csi: no VolumeSnapshotClass for driver ebs.csi.aws.com (0 candidates)"},
		},
		{
			name: "snapshot never bound: timeout, snapshot deleted",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			backup:  func(b *rigging.Backup) { b.Spec.CSISnapshotTimeout = metav1.Duration{Duration: 30 * time.Millisecond} },
			classes: []runtime.Object{ebsClass},
			ctl:     controller{never: true},
			want:    want{err: context.DeadlineExceeded, errText: "VolumeSnapshot shop/velero-data-postgres-0-ax7k2q: no snapshot handle after 30ms"},
		},
		{
			name: "content error until timeout",
			item: func() *unstructured.Unstructured {
				return s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0")
			},
			backup:  func(b *rigging.Backup) { b.Spec.CSISnapshotTimeout = metav1.Duration{Duration: 30 * time.Millisecond} },
			classes: []runtime.Object{ebsClass},
			ctl:     controller{driver: "ebs.csi.aws.com", contentErr: "SnapshotCreationFailed: quota exceeded"},
			want:    want{err: context.DeadlineExceeded, errText: "content error: SnapshotCreationFailed: quota exceeded"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(tt.classes...)
			tt.ctl.install(t, c)
			a := &pvcBackupper{base: newBase(PVCBackupperName, nil), pollInterval: time.Millisecond}
			a.clients = factory(c)
			backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20240314", Namespace: "velero", UID: "b0a1"}}
			if tt.backup != nil {
				tt.backup(backup)
			}
			item := tt.item()
			before := item.DeepCopy()
			out, extra, opID, post, err := a.Execute(s.ctx(tt.extra...), item, backup)
			if !reflect.DeepEqual(item, before) {
				t.Error("Execute modified its input")
			}
			if tt.want.err != nil || tt.want.errText != "" {
				if err == nil {
					t.Fatalf("want error, got item %v", out)
				}
				if tt.want.err != nil && !errors.Is(err, tt.want.err) {
					t.Errorf("error %v does not match %v", err, tt.want.err)
				}
				if !strings.Contains(err.Error(), tt.want.errText) {
					t.Errorf("error %q does not contain %q", err, tt.want.errText)
				}
				if tt.ctl.never || tt.ctl.contentErr != "" {
					list, _ := c.SnapshotV1().VolumeSnapshots("").List(context.Background(), metav1.ListOptions{})
					if len(list.Items) != 0 {
						t.Errorf("failed snapshot not cleaned up: %v", list.Items)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opID != "" || post != nil {
				t.Errorf("operation %q %v, want none", opID, post)
			}
			list, _ := c.SnapshotV1().VolumeSnapshots("").List(context.Background(), metav1.ListOptions{})
			if !tt.want.snapshot {
				if len(list.Items) != 0 || len(extra) != 0 {
					t.Errorf("snapshots %v, additional %v; want none", list.Items, extra)
				}
				if tt.want.unchanged && !reflect.DeepEqual(out, before) {
					t.Error("item changed")
				}
				if tt.want.skippedNoPV {
					if out.GetAnnotations()[AnnotationSkippedNoCSIPV] != "true" {
						t.Errorf("annotations %v lack %s", out.GetAnnotations(), AnnotationSkippedNoCSIPV)
					}
				}
				return
			}
			if len(list.Items) != 1 {
				t.Fatalf("%d snapshots, want 1", len(list.Items))
			}
			vs := list.Items[0]
			if vs.Namespace != before.GetNamespace() || !strings.HasPrefix(vs.Name, "velero-"+before.GetName()+"-") {
				t.Errorf("snapshot %s/%s", vs.Namespace, vs.Name)
			}
			if *vs.Spec.Source.PersistentVolumeClaimName != before.GetName() || *vs.Spec.VolumeSnapshotClassName != tt.want.class {
				t.Errorf("snapshot spec %+v", vs.Spec)
			}
			wantLabels := map[string]string{LabelBackupName: "nightly-20240314"}
			for k, v := range before.GetLabels() {
				wantLabels[k] = v
			}
			if !reflect.DeepEqual(vs.Labels, wantLabels) {
				t.Errorf("snapshot labels %v, want %v", vs.Labels, wantLabels)
			}
			if want := []rigging.ResourceIdentifier{{GroupResource: grVolumeSnapshots, Namespace: vs.Namespace, Name: vs.Name}}; !reflect.DeepEqual(extra, want) {
				t.Errorf("additional %v, want %v", extra, want)
			}
			if a := out.GetAnnotations(); a[AnnotationVolumeSnapshotName] != vs.Name || a[rigging.AnnotationBackupMustIncludeAdditionalItems] != "true" {
				t.Errorf("annotations %v", a)
			}
			if l := out.GetLabels(); l[LabelVolumeSnapshotName] != vs.Name || l[LabelBackupName] != "nightly-20240314" {
				t.Errorf("labels %v", l)
			}
			if r, _, _ := unstructured.NestedString(out.Object, "spec", "resources", "requests", "storage"); r != tt.want.request {
				t.Errorf("request %q, want %q", r, tt.want.request)
			}
		})
	}
}

func TestPickClass(t *testing.T) {
	class := func(name, driver string, labels, annotations map[string]string) snapshotv1.VolumeSnapshotClass {
		return snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}, Driver: driver}
	}
	sel := map[string]string{LabelVolumeSnapshotClassSelector: "true"}
	def := map[string]string{AnnotationDefaultSnapshotClass: "true"}
	classes := []snapshotv1.VolumeSnapshotClass{
		class("gp-plain", "ebs.csi.aws.com", nil, nil),
		class("gp-default", "ebs.csi.aws.com", nil, def),
		class("gp-velero", "ebs.csi.aws.com", sel, nil),
		class("gp-fast", "ebs.csi.aws.com", nil, nil),
		class("disk", "pd.csi.storage.gke.io", nil, def),
		class("efs", "efs.csi.aws.com", nil, nil),
	}
	tests := []struct {
		name       string
		driver     string
		pvcAnn     map[string]string
		backupAnn  map[string]string
		classes    []snapshotv1.VolumeSnapshotClass
		want, fail string
	}{
		{"label wins over default", "ebs.csi.aws.com", nil, nil, classes, "gp-velero", ""},
		{"claim annotation, case-insensitive", "ebs.csi.aws.com", map[string]string{AnnotationVolumeSnapshotClassForPVC: "GP-FAST"}, nil, classes, "gp-fast", ""},
		{"claim annotation naming another driver's class falls through", "ebs.csi.aws.com", map[string]string{AnnotationVolumeSnapshotClassForPVC: "disk"}, nil, classes, "gp-velero", ""},
		{"backup annotation per driver", "ebs.csi.aws.com", nil, map[string]string{AnnotationVolumeSnapshotClassPrefix + "ebs.csi.aws.com": "gp-plain"}, classes, "gp-plain", ""},
		{"claim annotation before backup annotation", "ebs.csi.aws.com", map[string]string{AnnotationVolumeSnapshotClassForPVC: "gp-fast"}, map[string]string{AnnotationVolumeSnapshotClassPrefix + "ebs.csi.aws.com": "gp-plain"}, classes, "gp-fast", ""},
		{"default annotation", "pd.csi.storage.gke.io", nil, nil, classes, "disk", ""},
		{"only class", "efs.csi.aws.com", nil, nil, classes, "efs", ""},
		{"ambiguous", "ebs.csi.aws.com", nil, nil, classes[:1:1], "gp-plain", ""},
		{"two unlabelled", "ebs.csi.aws.com", nil, nil, []snapshotv1.VolumeSnapshotClass{classes[0], classes[3]}, "", "(2 candidates)"},
		{"none", "rbd.csi.ceph.com", nil, nil, classes, "", "no VolumeSnapshotClass for driver rbd.csi.ceph.com (0 candidates)"},
	}
	a := &pvcBackupper{base: newBase(PVCBackupperName, nil)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: tt.pvcAnn}}
			backup := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Annotations: tt.backupAnn}}
			got, err := a.pickClass(tt.driver, pvc, backup, tt.classes)
			if tt.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fail) {
					t.Errorf("error %v, want %q", err, tt.fail)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPVCBackupperNoCluster(t *testing.T) {
	s := loadScenario(t)
	a := &pvcBackupper{base: newBase(PVCBackupperName, nil)}
	a.clients = func() (versioned.Interface, error) { return nil, errors.New("no kubeconfig") }
	_, _, _, _, err := a.Execute(s.ctx(), s.find(t, "PersistentVolumeClaim", "shop", "data-postgres-0"), &rigging.Backup{})
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "PersistentVolumeClaim shop/data-postgres-0") || !strings.Contains(err.Error(), "no kubeconfig") {
		t.Errorf("error %v", err)
	}
	// A claim that needs no cluster is still handled.
	out, _, _, _, err := a.Execute(s.ctx(), s.find(t, "PersistentVolumeClaim", "monitoring", "grafana-storage"), &rigging.Backup{})
	if err != nil || out.GetAnnotations()[AnnotationSkippedNoCSIPV] != "true" {
		t.Errorf("in-tree claim without cluster: %v", err)
	}
	if _, err := a.Progress(context.Background(), "x", &rigging.Backup{}); !errors.Is(err, rigging.ErrInvalidOperationID) {
		t.Errorf("Progress: %v", err)
	}
}

func TestFSBackupSelects(t *testing.T) {
	pod := func(ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: ann}}
	}
	tests := []struct {
		pod    *corev1.Pod
		optOut bool
		want   bool
	}{
		{pod(nil), false, false},
		{pod(map[string]string{AnnotationVolumesToBackup: "logs,data"}), false, true},
		{pod(map[string]string{AnnotationVolumesToBackup: "logs"}), false, false},
		{pod(nil), true, true},
		{pod(map[string]string{AnnotationVolumesToExclude: "cache,data"}), true, false},
		{pod(map[string]string{AnnotationVolumesToExclude: "cache"}), true, true},
	}
	for _, tt := range tests {
		if got := fsBackupSelects(tt.pod, "data", tt.optOut); got != tt.want {
			t.Errorf("annotations %v optOut %v: %v, want %v", tt.pod.Annotations, tt.optOut, got, tt.want)
		}
	}
}
