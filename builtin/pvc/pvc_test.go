package pvc

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/actiontest"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/builtin/internal/testmanifest"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

func pv(name string) rigging.ResourceIdentifier { return kube.VolumeIdentifier(name) }
func claim(ns, name string) rigging.ResourceIdentifier {
	return kube.ClaimIdentifier(ns, name)
}
func pod(ns, name string) rigging.ResourceIdentifier {
	return rigging.ResourceIdentifier{GroupResource: kube.Pods, Namespace: ns, Name: name}
}

// variant returns a renamed copy of obj changed by edit.
func variant(obj *unstructured.Unstructured, name string, edit func(*unstructured.Unstructured)) *unstructured.Unstructured {
	c := obj.DeepCopy()
	c.SetName(name)
	edit(c)
	return c
}

func withLabel(obj *unstructured.Unstructured, k, v string) *unstructured.Unstructured {
	c := obj.DeepCopy()
	l := c.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[k] = v
	c.SetLabels(l)
	return c
}

var errBroken = errors.New("lookup broken")

// indexContext returns a context carrying a resources.Index of copies of
// objs (those a mapper knows).
func indexContext(objs ...*unstructured.Unstructured) context.Context {
	ix := resources.NewIndex(nil)
	for _, o := range objs {
		_ = ix.Add(o.DeepCopy()) // objects of unknown kinds are left out
	}
	return rigging.WithLookup(context.Background(), ix)
}

func TestItemBlockActionGetRelatedItems(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	find := func(kind, ns, name string) *unstructured.Unstructured {
		return testmanifest.Find(t, objs, kind, ns, name)
	}
	storefront := find("Pod", "shop", "storefront-6d4cf56db6-2jxkq")
	notRunning := []*unstructured.Unstructured{
		variant(storefront, "storefront-succeeded", func(p *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(p.Object, "Succeeded", "status", "phase")
		}),
		variant(storefront, "storefront-pending", func(p *unstructured.Unstructured) {
			unstructured.RemoveNestedField(p.Object, "spec", "nodeName")
			_ = unstructured.SetNestedField(p.Object, "Pending", "status", "phase")
		}),
		variant(storefront, "storefront-terminating", func(p *unstructured.Unstructured) {
			now := metav1.Now()
			p.SetDeletionTimestamp(&now)
		}),
	}
	postgres := withLabel(find("PersistentVolumeClaim", "shop", "data-postgres-0"), DefaultVolumeGroupLabelKey, "shop-db")
	redis := withLabel(find("PersistentVolumeClaim", "shop", "redis-data"), DefaultVolumeGroupLabelKey, "shop-db")
	redisOtherKey := withLabel(find("PersistentVolumeClaim", "shop", "redis-data"), "backup.example.com/group", "shop-db")
	postgresOtherKey := withLabel(postgres, "backup.example.com/group", "shop-db")
	pending := find("PersistentVolumeClaim", "shop", "redis-data").DeepCopy()
	_ = unstructured.SetNestedField(pending.Object, "Pending", "status", "phase")

	// The labelled claims come after objs' own: an Index keeps the last
	// object of a name.
	customKey := &rigging.Backup{Spec: rigging.BackupSpec{VolumeGroupSnapshotLabelKey: "backup.example.com/group"}}
	tests := []struct {
		name   string
		item   *unstructured.Unstructured
		objs   []*unstructured.Unstructured // the Lookup's; nil: none
		backup *rigging.Backup
		want   []rigging.ResourceIdentifier
	}{
		{"RWX claim mounted by two pods", find("PersistentVolumeClaim", "shop", "shop-assets"), objs, nil,
			[]rigging.ResourceIdentifier{pv("shop-assets-nfs"), pod("shop", "storefront-6d4cf56db6-2jxkq"), pod("shop", "storefront-6d4cf56db6-wlm8h")}},
		{"pods not running are left out", find("PersistentVolumeClaim", "shop", "shop-assets"), slices.Concat(notRunning, objs), nil,
			[]rigging.ResourceIdentifier{pv("shop-assets-nfs"), pod("shop", "storefront-6d4cf56db6-2jxkq"), pod("shop", "storefront-6d4cf56db6-wlm8h")}},
		{"statefulset claim", find("PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0"), objs, &rigging.Backup{},
			[]rigging.ResourceIdentifier{pv("pvc-6799d81d-c5fd-4290-b3ba-9ca9c35cdfcf"), pod("monitoring", "prometheus-0")}},
		{"no pods in the lookup", find("PersistentVolumeClaim", "monitoring", "grafana-storage"), []*unstructured.Unstructured{}, nil,
			[]rigging.ResourceIdentifier{pv("pvc-4bfcbf27-8286-49ad-9281-8d33906bb842")}},
		{"volume group by the default key", postgres, slices.Concat(objs, []*unstructured.Unstructured{redis, postgres}), &rigging.Backup{},
			[]rigging.ResourceIdentifier{pv("pvc-ed173a47-6f0a-45a4-831a-17d847759f56"), pod("shop", "postgres-0"), claim("shop", "redis-data")}},
		{"volume group by the backup's key ignores the default", postgres, slices.Concat(objs, []*unstructured.Unstructured{redis, postgres}), customKey,
			[]rigging.ResourceIdentifier{pv("pvc-ed173a47-6f0a-45a4-831a-17d847759f56"), pod("shop", "postgres-0")}},
		{"volume group by the backup's key", postgresOtherKey, []*unstructured.Unstructured{redisOtherKey, postgresOtherKey, storefront}, customKey,
			[]rigging.ResourceIdentifier{pv("pvc-ed173a47-6f0a-45a4-831a-17d847759f56"), claim("shop", "redis-data")}},
		{"unbound claim", pending, objs, nil, nil},
	}
	a := &ItemBlockAction{}
	if a.Name() != "velero.io/pvc" {
		t.Errorf("Name() = %q", a.Name())
	}
	for _, tc := range tests {
		// The same answers from a plain Lookup (scanned) and from the
		// backup pipeline's resources.Index (its pods-by-claim index).
		ctxs := map[string]context.Context{"lookup": actiontest.Context(tc.objs...), "index": indexContext(tc.objs...)}
		for lname, ctx := range ctxs {
			t.Run(tc.name+"/"+lname, func(t *testing.T) {
				before := tc.item.DeepCopy()
				got, err := a.GetRelatedItems(ctx, tc.item, tc.backup)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("related items\n got %v\nwant %v", got, tc.want)
				}
				if !reflect.DeepEqual(before.Object, tc.item.Object) {
					t.Error("GetRelatedItems modified its input")
				}
			})
		}
	}

	// A running pod whose volumes cannot be read fails the claims of its
	// namespace, naming the pod; other namespaces are not affected.
	broken := variant(storefront, "storefront-broken", func(p *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(p.Object, "not-a-list", "spec", "volumes")
	})
	withBroken := append([]*unstructured.Unstructured{broken}, objs...)
	for lname, ctx := range map[string]context.Context{
		"lookup": actiontest.Context(withBroken...),
		"index":  indexContext(withBroken...),
	} {
		t.Run("malformed pod/"+lname, func(t *testing.T) {
			_, err := a.GetRelatedItems(ctx, find("PersistentVolumeClaim", "shop", "shop-assets"), nil)
			if err == nil || !strings.Contains(err.Error(), "plugin velero.io/pvc: PersistentVolumeClaim shop/shop-assets: pod shop/storefront-broken: spec.volumes") {
				t.Errorf("error %v: want one naming the plugin, the claim and the pod", err)
			}
			got, err := a.GetRelatedItems(ctx, find("PersistentVolumeClaim", "monitoring", "prometheus-data-prometheus-0"), nil)
			if err != nil || len(got) != 2 {
				t.Errorf("claim of another namespace: %v, %v; want its volume and pod", got, err)
			}
		})
	}

	t.Run("lookup error", func(t *testing.T) {
		ctx := actiontest.FailingContext(errBroken)
		_, err := a.GetRelatedItems(ctx, find("PersistentVolumeClaim", "shop", "shop-assets"), nil)
		if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "plugin velero.io/pvc: PersistentVolumeClaim shop/shop-assets: list pods") {
			t.Errorf("error %v: want the lookup's error, naming the plugin and the claim", err)
		}
	})
}

func TestRestoreAction(t *testing.T) {
	objs := actiontest.ClusterExport(t)
	find := func(ns, name string) *unstructured.Unstructured {
		return testmanifest.Find(t, objs, "PersistentVolumeClaim", ns, name)
	}
	// stripped is what a host hands a restore action: status removed.
	stripped := func(u *unstructured.Unstructured) *unstructured.Unstructured {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "status")
		return c
	}
	postgres := find("shop", "data-postgres-0")
	redis := find("shop", "redis-data")
	marked := redis.DeepCopy()
	ann := marked.GetAnnotations()
	ann["velero.io/volume-snapshot-name"] = "velero-redis-data-x2k9p"
	ann["velero.io/data-upload-name"] = "nightly-x2k9p"
	ann["volume.kubernetes.io/storage-provisioner"] = "ebs.csi.aws.com"
	marked.SetAnnotations(ann)
	pending := redis.DeepCopy()
	_ = unstructured.SetNestedField(pending.Object, "Pending", "status", "phase")

	lastApplied := map[string]string{"kubectl.kubernetes.io/last-applied-configuration": redis.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]}
	tests := []struct {
		name            string
		item, fromBkp   *unstructured.Unstructured
		wantAnnotations map[string]string
		wantPV          string
	}{
		{"every annotation removed", stripped(postgres), postgres, nil, "pvc-ed173a47-6f0a-45a4-831a-17d847759f56"},
		{"other annotations kept", stripped(redis), redis, lastApplied, "pvc-fdaa0c8d-a004-43bb-8405-675f02589234"},
		{"snapshot and upload markers removed", stripped(marked), marked, lastApplied, "pvc-fdaa0c8d-a004-43bb-8405-675f02589234"},
		{"static claim", stripped(find("shop", "shop-assets")), find("shop", "shop-assets"),
			map[string]string{"kubectl.kubernetes.io/last-applied-configuration": find("shop", "shop-assets").GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]}, "shop-assets-nfs"},
		{"pending in the backup", stripped(pending), pending, lastApplied, ""},
		{"no item from backup, item without status", stripped(redis), nil, lastApplied, ""},
		{"no item from backup, item with status", redis.DeepCopy(), nil, lastApplied, "pvc-fdaa0c8d-a004-43bb-8405-675f02589234"},
	}
	a := &RestoreAction{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.item.DeepCopy()
			out, err := a.Execute(context.Background(), &rigging.RestoreItemActionExecuteInput{Item: tc.item, ItemFromBackup: tc.fromBkp, Restore: &rigging.Restore{}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before.Object, tc.item.Object) {
				t.Error("Execute modified its input")
			}
			if got := out.UpdatedItem.GetAnnotations(); !reflect.DeepEqual(got, tc.wantAnnotations) {
				t.Errorf("annotations\n got %v\nwant %v", got, tc.wantAnnotations)
			}
			if _, found := out.UpdatedItem.Object["metadata"].(map[string]any)["annotations"]; found && tc.wantAnnotations == nil {
				t.Error("empty annotations map left in the item")
			}
			want := before.DeepCopy()
			want.SetAnnotations(tc.wantAnnotations)
			want, err = kube.Normalize[corev1.PersistentVolumeClaim](Name, want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.UpdatedItem.Object, want.Object) {
				t.Errorf("fields other than the annotations changed")
			}
			var wantExtra []rigging.ResourceIdentifier
			if tc.wantPV != "" {
				wantExtra = []rigging.ResourceIdentifier{pv(tc.wantPV)}
			}
			if !reflect.DeepEqual(out.AdditionalItems, wantExtra) {
				t.Errorf("additional items %v, want %v", out.AdditionalItems, wantExtra)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	for _, kind := range []rigging.Kind{rigging.KindItemBlockAction, rigging.KindRestoreItemAction} {
		e, ok := registry.Default.Lookup(kind, Name)
		if !ok {
			t.Fatalf("%s %s not registered", kind, Name)
		}
		v, err := e.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		sel, _ := v.(interface {
			AppliesTo(context.Context) (rigging.ResourceSelector, error)
		}).AppliesTo(context.Background())
		if !reflect.DeepEqual(sel.IncludedResources, []string{"persistentvolumeclaims"}) {
			t.Errorf("%s AppliesTo = %+v", kind, sel)
		}
	}
}

// TestItemBlockActionFieldTypes checks that each field GetRelatedItems
// reads of the claim is type-checked, with an error naming the field.
func TestItemBlockActionFieldTypes(t *testing.T) {
	a := &ItemBlockAction{}
	tests := []struct {
		field []string
		value any
	}{
		{[]string{"status", "phase"}, int64(1)},
		{[]string{"spec", "volumeName"}, true},
		{[]string{"metadata", "labels", DefaultVolumeGroupLabelKey}, int64(2)},
	}
	for _, tc := range tests {
		name := strings.Join(tc.field, ".")
		t.Run(name, func(t *testing.T) {
			item := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{"name": "c", "namespace": "shop"},
				"spec":     map[string]any{"volumeName": "pv-1"},
				"status":   map[string]any{"phase": "Bound"},
			}}
			if err := unstructured.SetNestedField(item.Object, tc.value, tc.field...); err != nil {
				t.Fatal(err)
			}
			_, err := a.GetRelatedItems(indexContext(), item, nil)
			if err == nil || !strings.Contains(err.Error(), "plugin velero.io/pvc: PersistentVolumeClaim shop/c: "+name) {
				t.Errorf("error %v, want one naming the plugin, the claim and %s", err, name)
			}
		})
	}
	if _, err := a.GetRelatedItems(context.Background(), nil, nil); !errors.Is(err, kube.ErrNilItem) {
		t.Errorf("nil item: error %v, want kube.ErrNilItem", err)
	}
}

// TestItemBlockActionWithoutLookup: with no Lookup in the context a bound
// claim's call fails, naming the plugin, the claim and ErrNoCluster, instead
// of returning a block without the pods that mount it; an unbound claim,
// which needs no other object, still answers.
func TestItemBlockActionWithoutLookup(t *testing.T) {
	a := &ItemBlockAction{}
	claim := testmanifest.Find(t, actiontest.ClusterExport(t), "PersistentVolumeClaim", "monitoring", "grafana-storage")
	got, err := a.GetRelatedItems(context.Background(), claim, nil)
	if !errors.Is(err, rigging.ErrNoCluster) || got != nil {
		t.Fatalf("GetRelatedItems = %v, %v; want no items and ErrNoCluster", got, err)
	}
	if want := "plugin velero.io/pvc: PersistentVolumeClaim monitoring/grafana-storage: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	pending := claim.DeepCopy()
	unstructured.RemoveNestedField(pending.Object, "spec", "volumeName")
	if got, err := a.GetRelatedItems(context.Background(), pending, nil); err != nil || got != nil {
		t.Errorf("unbound claim: GetRelatedItems = %v, %v; want nothing", got, err)
	}
	if got := rigging.LookupResources(a); !reflect.DeepEqual(got, []schema.GroupResource{kube.PersistentVolumeClaims, kube.Pods}) {
		t.Errorf("LookupResources = %v", got)
	}
}
