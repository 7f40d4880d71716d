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
// additional item that bypasses the backup's filters. They need no cluster.
type secretRefBackupper struct {
	base
	noBackupOperations
	resource                    string
	secretName, secretNamespace string
	// skipWhenFinalizing returns items untouched while the backup finalizes
	// (the content backupper does, the class backupper does not).
	skipWhenFinalizing bool
}

func (a *secretRefBackupper) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.resource}}, nil
}

func (a *secretRefBackupper) Execute(_ context.Context, item *unstructured.Unstructured, backup *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	if a.skipWhenFinalizing && finalizing(backup) {
		return item, nil, "", nil, nil
	}
	secret, ok := secretRef(item, a.secretName, a.secretNamespace)
	if !ok {
		return item, nil, "", nil, nil
	}
	out := item.DeepCopy()
	addAnnotations(out, map[string]string{rigging.AnnotationBackupMustIncludeAdditionalItems: "true"})
	a.log.Info("adding snapshotter secret", "item", describe(item), "secret", secret.Namespace+"/"+secret.Name)
	return out, []rigging.ResourceIdentifier{secret}, "", nil, nil
}

var _ rigging.BackupItemActionV2 = (*secretRefBackupper)(nil)
