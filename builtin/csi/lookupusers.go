package csi

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

// The CSI actions that read other objects through the Lookup declare them
// (rigging.LookupUser). The snapshot API they reach through their own
// clientset (ClientFactory) is not read through the Lookup.
var (
	_ rigging.LookupUser = (*pvcBackupper)(nil)
	_ rigging.LookupUser = (*pvcRestorer)(nil)
)

// LookupResources implements rigging.LookupUser: a claim's volume, the pods
// that mount it and its storage class.
func (a *pvcBackupper) LookupResources() []schema.GroupResource {
	return []schema.GroupResource{grPersistentVolumes, grPods, grStorageClasses}
}

// LookupResources implements rigging.LookupUser: the restore's Backup.
func (a *pvcRestorer) LookupResources() []schema.GroupResource {
	return []schema.GroupResource{grBackups}
}
