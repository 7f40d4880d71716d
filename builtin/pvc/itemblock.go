package pvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/resources"
)

// ItemBlockAction is the ItemBlockAction velero.io/pvc. It finds pods and
// claims through the rigging.Lookup in the context (rigging.LookupFrom), and
// declares it (rigging.LookupUser); with none, a bound claim's call fails with
// an error matching rigging.ErrNoCluster that names the plugin and the claim,
// rather than leave the pods that mount it out of its block. It keeps no
// state between calls and is safe for concurrent use.
type ItemBlockAction struct {
	log *slog.Logger
}

var (
	_ rigging.ItemBlockAction = (*ItemBlockAction)(nil)
	_ rigging.LookupUser      = (*ItemBlockAction)(nil)
)

// LookupResources implements rigging.LookupUser: the pods that mount a
// claim and the claims of its volume group.
func (a *ItemBlockAction) LookupResources() []schema.GroupResource {
	return []schema.GroupResource{kube.PersistentVolumeClaims, kube.Pods}
}

// Name returns the registered name, velero.io/pvc.
func (a *ItemBlockAction) Name() string { return Name }

// AppliesTo selects PersistentVolumeClaims.
func (a *ItemBlockAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// GetRelatedItems returns nothing for a claim that is not bound (status.phase
// not Bound, or no spec.volumeName). For a bound claim it returns, in this
// order:
//   - the PersistentVolume spec.volumeName;
//   - the pods of the claim's namespace that mount it and are running
//     (scheduled to a node, phase Running, not being deleted), in Lookup
//     order, so that pods sharing a ReadWriteMany claim are backed up
//     together;
//   - when the claim has a non-empty value for the backup's
//     spec.volumeGroupSnapshotLabelKey (DefaultVolumeGroupLabelKey when
//     empty), the other claims of its namespace with the same value, in
//     Lookup order.
//
// A Lookup error fails the call, naming the claim; so does a field it reads
// (status.phase, spec.volumeName, the volume group label) that is not a
// string.
func (a *ItemBlockAction) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, backup *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	if item == nil {
		return nil, fmt.Errorf("plugin %s: %w", Name, kube.ErrNilItem)
	}
	// The fields are read in place: decoding the whole claim into a typed
	// one would cost more than the rest of the call.
	volume, err := boundVolume(item)
	if err != nil {
		return nil, kube.Errorf(Name, item, "%w", err)
	}
	if volume == "" {
		return nil, nil
	}
	ns, name := item.GetNamespace(), item.GetName()
	related := []rigging.ResourceIdentifier{kube.VolumeIdentifier(volume)}
	lookup := rigging.LookupFrom(ctx)
	pods, err := podsMounting(ctx, lookup, ns, name)
	if err != nil {
		var pe *podError
		if errors.As(err, &pe) {
			return nil, kube.Errorf(Name, item, "%w", err)
		}
		return nil, kube.Errorf(Name, item, "list pods in namespace %q: %w", ns, err)
	}
	for _, pod := range pods {
		related = append(related, rigging.ResourceIdentifier{GroupResource: kube.Pods, Namespace: ns, Name: pod.GetName()})
	}
	key := DefaultVolumeGroupLabelKey
	if backup != nil && backup.Spec.VolumeGroupSnapshotLabelKey != "" {
		key = backup.Spec.VolumeGroupSnapshotLabelKey
	}
	group, err := kube.NestedString(item.Object, "metadata", "labels", key)
	if err != nil {
		return nil, kube.Errorf(Name, item, "%w", err)
	}
	if group != "" {
		claims, err := lookup.List(ctx, kube.PersistentVolumeClaims, ns)
		if err != nil {
			return nil, kube.Errorf(Name, item, "list claims of volume group %s=%s: %w", key, group, err)
		}
		for _, c := range claims {
			if c.GetName() != name && c.GetLabels()[key] == group {
				related = append(related, kube.ClaimIdentifier(ns, c.GetName()))
			}
		}
	}
	if kube.DebugEnabled(ctx, a.log) {
		a.log.Debug("related items", "claim", kube.Ref(item), "count", len(related))
	}
	return related, nil
}

// runningPodClaimsIndex names runningPodClaims as an index of a
// resources.IndexedLookup.
const runningPodClaimsIndex = Name + ":running-pod-claims"

// podsMounting returns the running pods of namespace that mount claim, in
// Lookup order. A Lookup that keeps indexes (resources.IndexedLookup, the
// backup pipeline's) answers from an index of every pod by claim, built
// once; any other is listed and scanned.
func podsMounting(ctx context.Context, lookup rigging.Lookup, namespace, claim string) ([]*unstructured.Unstructured, error) {
	return resources.ListByIndexOf(ctx, lookup, kube.Pods, namespace, runningPodClaimsIndex, runningPodClaims, claim)
}

// runningPodClaims is the claims a running pod mounts (none for a pod that
// is not running); a malformed volume list is a *podError.
func runningPodClaims(pod *unstructured.Unstructured) ([]string, error) {
	if !running(pod) {
		return nil, nil
	}
	claims, err := kube.PodClaimNames(pod)
	if err != nil {
		return nil, &podError{pod: kube.Ref(pod), err: err}
	}
	return claims, nil
}

// podError is a pod whose claims could not be read.
type podError struct {
	pod string
	err error
}

func (e *podError) Error() string { return "pod " + e.pod + ": " + e.err.Error() }
func (e *podError) Unwrap() error { return e.err }

// running reports what Velero's IsPodRunning does: the pod is scheduled to
// a node, its phase is Running, and it is not being deleted.
func running(pod *unstructured.Unstructured) bool {
	node, _, _ := unstructured.NestedString(pod.Object, "spec", "nodeName")
	phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase")
	return node != "" && phase == string(corev1.PodRunning) && pod.GetDeletionTimestamp() == nil
}
