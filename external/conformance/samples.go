package conformance

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// Samples returns the default action inputs: a pod mounting a claim, the
// claim, its CSI volume, a service, a service account, a job and a secret,
// as a live cluster reports them. Each call returns fresh copies.
func Samples() []*unstructured.Unstructured {
	objs := []map[string]any{
		{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web-0", "namespace": "shop", "uid": "0b7c5c1e-0000-4000-8000-000000000001",
			"labels": map[string]any{"app": "web"}, "resourceVersion": "1201"},
			"spec": map[string]any{"nodeName": "node-1", "serviceAccountName": "web", "priorityClassName": "high",
				"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27",
					"volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data"}}}},
				"volumes": []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data-web-0"}}}},
			"status": map[string]any{"phase": "Running"}},
		{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data-web-0", "namespace": "shop",
			"annotations": map[string]any{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/selected-node": "node-1"}},
			"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "csi-fast", "volumeName": "pvc-1",
				"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}},
			"status": map[string]any{"phase": "Bound"}},
		{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pvc-1"},
			"spec": map[string]any{"capacity": map[string]any{"storage": "1Gi"}, "storageClassName": "csi-fast",
				"claimRef": map[string]any{"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data-web-0"},
				"csi":      map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc"}},
			"status": map[string]any{"phase": "Bound"}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web", "namespace": "shop"},
			"spec": map[string]any{"type": "NodePort", "clusterIP": "10.0.0.12", "clusterIPs": []any{"10.0.0.12"},
				"ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}}, "selector": map[string]any{"app": "web"}}},
		{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web", "namespace": "shop"},
			"secrets": []any{map[string]any{"name": "web-token-abcde"}, map[string]any{"name": "registry"}}},
		{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "migrate", "namespace": "shop",
			"labels": map[string]any{"controller-uid": "9f0c", "batch.kubernetes.io/controller-uid": "9f0c"}},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"controller-uid": "9f0c"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"controller-uid": "9f0c"}},
					"spec": map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{"name": "m", "image": "busybox"}}}}}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "registry", "namespace": "shop"},
			"type": "kubernetes.io/dockerconfigjson", "data": map[string]any{".dockerconfigjson": "e30="}},
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = &unstructured.Unstructured{Object: o}
	}
	return out
}

// SampleBackup is the default backup passed to backup and delete actions.
func SampleBackup() *rigging.Backup {
	return &rigging.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: "velero.io/v1", Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: "conformance", Namespace: "velero"},
		Spec:       rigging.BackupSpec{IncludedNamespaces: []string{"shop"}, StorageLocation: "default"},
		Status:     rigging.BackupStatus{Phase: rigging.BackupPhaseInProgress},
	}
}

// SampleRestore is the default restore passed to restore actions.
func SampleRestore() *rigging.Restore {
	return &rigging.Restore{
		TypeMeta:   metav1.TypeMeta{APIVersion: "velero.io/v1", Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{Name: "conformance", Namespace: "velero"},
		Spec:       rigging.RestoreSpec{BackupName: "conformance"},
		Status:     rigging.RestoreStatus{Phase: rigging.RestorePhaseInProgress},
	}
}
