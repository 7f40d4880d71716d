package csi

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// secretRefBackupper is velero.io/csi-volumesnapshotcontent-backupper and
// velero.io/csi-volumesnapshotclass-backupper: both add the Secret that a
// pair of annotations names (the snapshotter's delete secret on a
// VolumeSnapshotContent, its list secret on a VolumeSnapshotClass) as an
// additional item that bypasses the backup's filters. Every item they do
// not skip comes back through a typed round trip, as Velero's does (the
// class backupper's on every class, secret or not). They need no cluster.
type secretRefBackupper struct {
	base
	noBackupOperations
	resource                    string
	secretName, secretNamespace string
	// skipWhenFinalizing returns items untouched while the backup finalizes
	// (the content backupper does, the class backupper does not).
	skipWhenFinalizing bool
	// normalize is kube.Normalize of the item's typed struct: Velero's
	// actions return every item they do not skip through a typed round trip.
	normalize func(plugin string, item *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

func (a *secretRefBackupper) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.resource}}, nil
}

func (a *secretRefBackupper) Execute(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if a.skipWhenFinalizing && finalizing(backup) {
		return item, nil, "", nil, nil
	}
	out, err := a.normalize(a.name, item)
	if err != nil {
		return nil, nil, "", nil, err
	}
	secret, ok := secretRef(out, a.secretName, a.secretNamespace)
	if !ok {
		return out, nil, "", nil, nil
	}
	addAnnotations(out, map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"})
	a.log.Info("adding snapshotter secret", "item", describe(item), "secret", secret.Namespace+"/"+secret.Name)
	return out, []rigging.ResourceIdentifier{secret}, "", nil, nil
}

var _ rigging.BackupItemActionV2 = (*secretRefBackupper)(nil)
