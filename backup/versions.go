package backup

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/internal/ujson"
)

// FeatureAPIGroupVersions is Velero's EnableAPIGroupVersions feature flag:
// a backup of a cluster holds each item in every version the API server
// serves, not only the preferred one.
const FeatureAPIGroupVersions = "EnableAPIGroupVersions"

// VersionLister is implemented by an Options.Lookup that can give an
// object in the versions its API server serves besides the preferred one
// (cluster.Lookup). With FeatureAPIGroupVersions among Options.Features,
// each item backed up is backed up in each of those versions too, as
// Velero does: the BackupItemActions run on each version's object, which
// is written at resources/<gr>/<version>/… (no classic copy), listed in
// the resource list under its own apiVersion and counted as an item.
// Without a VersionLister (a backup of manifests), the feature changes
// nothing.
type VersionLister interface {
	OtherVersions(ctx context.Context, gr schema.GroupResource, namespace, name string) ([]*unstructured.Unstructured, error)
}

// backupOtherVersions backs up it in the other versions the cluster serves
// it in, when the feature asks for them.
func (r *blockRun) backupOtherVersions(ctx context.Context, it item, il *itemLog) error {
	bk := r.bk
	vl, ok := bk.opts.Lookup.(VersionLister)
	if !ok || !slices.Contains(bk.opts.Features, FeatureAPIGroupVersions) {
		return nil
	}
	k := it.key()
	objs, err := vl.OtherVersions(ctx, k.gr, k.namespace, k.name)
	if err != nil {
		return err
	}
	for _, o := range objs {
		res := it.res
		res.Version = o.GroupVersionKind().Version
		listKey := o.GetAPIVersion() + "/" + o.GetKind()
		obj, err := r.executeActions(ctx, item{obj: o, res: res, k: k, labels: o.GetLabels()}, il, false)
		if err != nil {
			return err
		}
		if obj == nil {
			continue
		}
		data, err := ujson.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("encode %s in version %s: %w", k, res.Version, err)
		}
		if err := archive.CheckItem(k.gr, res.Version, k.namespace, obj.GetName()); err != nil {
			return err
		}
		r.writes = append(r.writes, written{k: k, version: res.Version, ns: k.namespace, name: obj.GetName(), data: data, listKey: listKey, otherVersion: true})
	}
	return nil
}
