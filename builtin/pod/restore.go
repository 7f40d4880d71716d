package pod

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

// RestoreAction is the RestoreItemAction velero.io/pod. It prepares a pod
// to be created in a new cluster: the scheduler picks the node again, the
// admission controller resolves the priority again, and the legacy
// service-account token (whose Secret the new cluster generates under another
// name) is no longer mounted. It is safe for concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*RestoreAction)(nil)

// AppliesTo selects pods.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns a modified copy of input.Item (the input is not changed):
//   - spec.nodeName and spec.priority are removed;
//   - the volumes whose name starts with "<spec.serviceAccountName>-token-",
//     and the volumeMounts of that name in containers and init containers,
//     are removed (a list left empty is removed too);
//   - the result is normalised as Velero's typed round trip normalises it
//     (kube.Normalize: fields at their zero value, such as a volume's
//     readOnly: false or a volumes list left empty, are dropped);
//
// and, when spec.priorityClassName is set, the PriorityClass (group
// scheduling.k8s.io) as the additional item to restore first.
func (a *RestoreAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	pod := input.Item.DeepCopy()
	spec, ok := pod.Object["spec"].(map[string]any)
	if !ok {
		if pod.Object["spec"] != nil {
			return nil, kube.Errorf(Name, input.Item, "spec: is %T, not an object", pod.Object["spec"])
		}
		typed, err := kube.Normalize[corev1.Pod](Name, pod)
		if err != nil {
			return nil, err
		}
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
	}
	delete(spec, "nodeName")
	delete(spec, "priority")

	serviceAccount, err := kube.NestedString(spec, "serviceAccountName")
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "spec.%w", err)
	}
	tokenPrefix := serviceAccount + "-token-"
	if _, err := kube.RemoveByNamePrefix(spec, tokenPrefix, "volumes"); err != nil {
		return nil, kube.Errorf(Name, input.Item, "spec.%w", err)
	}
	for _, field := range []string{"containers", "initContainers"} {
		containers, err := kube.NestedSlice(spec, field)
		if err != nil {
			return nil, kube.Errorf(Name, input.Item, "spec.%w", err)
		}
		for i, c := range containers {
			container, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if _, err := kube.RemoveByNamePrefix(container, tokenPrefix, "volumeMounts"); err != nil {
				return nil, kube.Errorf(Name, input.Item, "spec.%s[%d].%w", field, i, err)
			}
		}
	}

	typed, err := kube.Normalize[corev1.Pod](Name, pod)
	if err != nil {
		return nil, err
	}
	out := &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}
	priorityClass, err := kube.NestedString(spec, "priorityClassName")
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "spec.%w", err)
	}
	if priorityClass != "" {
		out.AdditionalItems = []rigging.ResourceIdentifier{{GroupResource: kube.PriorityClasses, Name: priorityClass}}
	}
	return out, nil
}
