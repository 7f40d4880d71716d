// Package serviceaccount ports Velero v1.18's built-in actions on
// ServiceAccounts:
//
//   - BackupItemAction velero.io/service-account: backs up, with a service
//     account, the ClusterRoleBindings that name it as a subject and the
//     ClusterRoles they bind;
//   - ItemBlockAction velero.io/service-account: puts the same objects in the
//     service account's item block;
//   - RestoreItemAction velero.io/service-account: drops the reference to the
//     legacy auto-generated token Secret, which the new cluster generates
//     under another name.
//
// Velero lists the ClusterRoleBindings from the cluster once, when the action
// is created; rigging's actions read them through the rigging.Lookup in the
// call's context (rigging.LookupFrom) on every call, so they see the items of
// the backup being processed. The package registers all three in init; import
// it for its side effect.
package serviceaccount

import (
	"cmp"
	"context"
	"log/slog"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the three actions.
const Name = "velero.io/service-account"

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.BackupItemAction, error) {
		return &BackupAction{log: log}, nil
	})
	registry.Register(Name, func(log *slog.Logger) (rigging.ItemBlockAction, error) {
		return &ItemBlockAction{log: log}, nil
	})
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
}

func selector() rigging.ResourceSelector {
	return rigging.ResourceSelector{IncludedResources: []string{"serviceaccounts"}}
}

// relatedItems returns the ClusterRoleBindings (sorted by name) that have
// the service account item as a ServiceAccount subject, then the
// ClusterRoles they refer to (sorted, each once). Velero returns the same
// set in map order; sorting makes the result deterministic.
func relatedItems(ctx context.Context, item *unstructured.Unstructured) ([]rigging.ResourceIdentifier, error) {
	if item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	namespace, name := item.GetNamespace(), item.GetName()
	crbs, err := rigging.LookupFrom(ctx).List(ctx, kube.ClusterRoleBindings, "")
	if err != nil {
		return nil, kube.Errorf(Name, item, "list clusterrolebindings: %w", err)
	}
	var bindings, roles []rigging.ResourceIdentifier
	for _, u := range crbs {
		var crb rbacv1.ClusterRoleBinding
		if err := kube.Decode(Name, u, &crb); err != nil {
			return nil, kube.Errorf(Name, item, "%w", err)
		}
		if !bindsServiceAccount(&crb, namespace, name) {
			continue
		}
		bindings = append(bindings, rigging.ResourceIdentifier{GroupResource: kube.ClusterRoleBindings, Name: crb.Name})
		role := rigging.ResourceIdentifier{GroupResource: kube.ClusterRoles, Name: crb.RoleRef.Name}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	byName := func(a, b rigging.ResourceIdentifier) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(bindings, byName)
	slices.SortFunc(roles, byName)
	return append(bindings, roles...), nil
}

func bindsServiceAccount(crb *rbacv1.ClusterRoleBinding, namespace, name string) bool {
	for _, s := range crb.Subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == namespace && s.Name == name {
			return true
		}
	}
	return false
}

// BackupAction is the BackupItemAction velero.io/service-account. It is
// safe for concurrent use.
type BackupAction struct {
	log *slog.Logger
}

var _ rigging.BackupItemAction = (*BackupAction)(nil)

var _ rigging.InputPreserver = (*BackupAction)(nil)

var _ rigging.LookupUser = (*BackupAction)(nil)

// LookupResources implements rigging.LookupUser: the ClusterRoleBindings.
func (a *BackupAction) LookupResources() []schema.GroupResource { return lookupResources() }

// PreservesInput reports true: Execute never modifies the item it is given
// (rigging.InputPreserver), so a host need not copy a shared item for it.
func (a *BackupAction) PreservesInput() bool { return true }

// AppliesTo selects ServiceAccounts.
func (a *BackupAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// Execute returns item itself, unmodified, with the ClusterRoleBindings
// (group rbac.authorization.k8s.io, sorted by name) that name it as a
// ServiceAccount subject and then the ClusterRoles they bind (sorted, each
// once) as additional items. A Lookup error fails the call, as does a
// context without a Lookup (rigging.ErrNoCluster).
func (a *BackupAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	related, err := relatedItems(ctx, item)
	if err != nil {
		return nil, nil, err
	}
	if kube.DebugEnabled(ctx, a.log) && len(related) > 0 {
		a.log.Debug("adding RBAC objects", "serviceaccount", kube.Ref(item), "count", len(related))
	}
	return item, related, nil
}

// ItemBlockAction is the ItemBlockAction velero.io/service-account. It is
// safe for concurrent use.
type ItemBlockAction struct {
	log *slog.Logger
}

var (
	_ rigging.ItemBlockAction = (*ItemBlockAction)(nil)
	_ rigging.LookupUser      = (*ItemBlockAction)(nil)
)

// LookupResources implements rigging.LookupUser: the ClusterRoleBindings.
func (a *ItemBlockAction) LookupResources() []schema.GroupResource { return lookupResources() }

// lookupResources is what both actions read through the Lookup.
func lookupResources() []schema.GroupResource {
	return []schema.GroupResource{kube.ClusterRoleBindings}
}

// Name returns the registered name, velero.io/service-account.
func (a *ItemBlockAction) Name() string { return Name }

// AppliesTo selects ServiceAccounts.
func (a *ItemBlockAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return selector(), nil
}

// GetRelatedItems returns what BackupAction.Execute returns as additional
// items.
func (a *ItemBlockAction) GetRelatedItems(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) ([]rigging.ResourceIdentifier, error) {
	return relatedItems(ctx, item)
}
