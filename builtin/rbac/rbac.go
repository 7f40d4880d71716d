// Package rbac holds the restore actions for RBAC bindings: Velero's
// velero.io/role-bindings and velero.io/cluster-role-bindings.
//
// Both rewrite the namespace of each subject of a binding through the
// restore's spec.namespaceMapping, so that a ServiceAccount restored into a
// new namespace stays bound. A subject whose namespace is not a key of the
// mapping, and a subject without a namespace (a User or Group), is left as
// it is. Unlike Velero, which round-trips the binding through the typed RBAC
// struct, the actions edit the item in place and so keep fields a typed
// struct does not know.
package rbac

import (
	"context"
	"log/slog"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Registered names.
const (
	RoleBindingsName        = "velero.io/role-bindings"
	ClusterRoleBindingsName = "velero.io/cluster-role-bindings"
)

func init() {
	registry.Register(RoleBindingsName, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return NewRoleBindingAction(log), nil
	})
	registry.Register(ClusterRoleBindingsName, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return NewClusterRoleBindingAction(log), nil
	})
}

// BindingAction remaps the subjects' namespaces of one kind of binding. It
// is safe for concurrent use.
type BindingAction struct {
	name     string
	resource string
	log      *slog.Logger
}

// NewRoleBindingAction returns the velero.io/role-bindings action, applying
// to rolebindings. A nil log discards logs.
func NewRoleBindingAction(log *slog.Logger) *BindingAction {
	return newBindingAction(RoleBindingsName, "rolebindings", log)
}

// NewClusterRoleBindingAction returns the velero.io/cluster-role-bindings
// action, applying to clusterrolebindings. A nil log discards logs.
func NewClusterRoleBindingAction(log *slog.Logger) *BindingAction {
	return newBindingAction(ClusterRoleBindingsName, "clusterrolebindings", log)
}

func newBindingAction(name, resource string, log *slog.Logger) *BindingAction {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BindingAction{name: name, resource: resource, log: log}
}

// AppliesTo selects the action's binding resource.
func (a *BindingAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{a.resource}}, nil
}

// Execute returns a copy of the binding whose subjects' namespaces are
// mapped by the restore's namespace mapping, normalised as Velero's typed
// round trip normalises it (kube.Normalize). Without a mapping the item is
// returned as it is. input is not modified. A binding whose subjects are not
// a list of objects is an error naming the binding.
func (a *BindingAction) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	var mapping map[string]string
	if input.Restore != nil {
		mapping = input.Restore.Spec.NamespaceMapping
	}
	if len(mapping) == 0 {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}, nil
	}
	item := input.Item.DeepCopy()
	subjects, found, err := unstructured.NestedSlice(item.Object, "subjects")
	if err != nil {
		return nil, a.errorf(item, "read subjects: %w", err)
	}
	if !found {
		return a.normalized(item)
	}
	changed := false
	for i, s := range subjects {
		subject, ok := s.(map[string]any)
		if !ok {
			return nil, a.errorf(item, "subjects[%d] is a %T, not an object", i, s)
		}
		ns, _ := subject["namespace"].(string)
		if to, ok := mapping[ns]; ok && ns != "" {
			a.log.Debug("remapping subject namespace", "binding", kube.Ref(item), "subject", subject["name"], "from", ns, "to", to)
			subject["namespace"] = to
			changed = true
		}
	}
	if changed {
		if err := unstructured.SetNestedSlice(item.Object, subjects, "subjects"); err != nil {
			return nil, a.errorf(item, "set subjects: %w", err)
		}
	}
	return a.normalized(item)
}

// normalized returns item as Velero's typed round trip of the binding
// leaves it (kube.Normalize).
func (a *BindingAction) normalized(item *unstructured.Unstructured) (*rigging.RestoreItemActionExecuteOutput, error) {
	normalize := kube.Normalize[rbacv1.RoleBinding]
	if a.resource == "clusterrolebindings" {
		normalize = kube.Normalize[rbacv1.ClusterRoleBinding]
	}
	typed, err := normalize(a.name, item)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
}

func (a *BindingAction) errorf(item *unstructured.Unstructured, format string, args ...any) error {
	return kube.Errorf(a.name, item, format, args...)
}

var _ rigging.RestoreItemAction = (*BindingAction)(nil)
