// Package secret ports Velero v1.18's RestoreItemAction velero.io/secret,
// which handles service-account token Secrets. The package registers the
// action in init; import it for its side effect.
package secret

import (
	"context"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the RestoreItemAction.
const Name = "velero.io/secret"

// removedData are the keys of a token Secret that the new cluster's token
// controller fills in again.
var removedData = []string{"token", "ca.crt"}

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
}

// RestoreAction is the RestoreItemAction velero.io/secret. It finds service
// accounts through the rigging.Lookup in the context (rigging.LookupFrom),
// and declares it (rigging.LookupUser). It is safe for concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var (
	_ rigging.RestoreItemAction = (*RestoreAction)(nil)
	_ rigging.LookupUser        = (*RestoreAction)(nil)
)

// LookupResources implements rigging.LookupUser: the service accounts whose
// auto-generated token Secrets are skipped.
func (a *RestoreAction) LookupResources() []schema.GroupResource {
	return []schema.GroupResource{kube.ServiceAccounts}
}

// AppliesTo selects Secrets.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"secrets"}}, nil
}

// Execute leaves every Secret whose type is not
// kubernetes.io/service-account-token alone (UpdatedItem is input.Item
// itself). For a token Secret:
//   - when its name starts with "<sa>-token-" for a ServiceAccount <sa> of
//     its namespace (listed through the Lookup), it is an auto-generated
//     token that the token controller recreates: SkipRestore is set and
//     UpdatedItem is input.Item itself;
//   - otherwise (a token Secret a user created) it returns a copy (the input
//     is not changed) without the kubernetes.io/service-account.uid
//     annotation and without the token and ca.crt data, which the new
//     cluster's token controller fills in for the new service account (maps
//     left empty are removed), normalised as Velero's typed round trip
//     normalises it (kube.Normalize).
//
// A Lookup error fails the call, naming the Secret; so does a token Secret
// with no Lookup in the context (rigging.ErrNoCluster): without the service
// accounts, an auto-generated token cannot be told from a user's.
func (a *RestoreAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	item := input.Item
	typ, err := kube.NestedString(item.Object, "type")
	if err != nil {
		return nil, kube.Errorf(Name, item, "%w", err)
	}
	if corev1.SecretType(typ) != corev1.SecretTypeServiceAccountToken {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
	}

	accounts, err := rigging.LookupFrom(ctx).List(ctx, kube.ServiceAccounts, item.GetNamespace())
	if err != nil {
		return nil, kube.Errorf(Name, item, "list serviceaccounts in namespace %q: %w", item.GetNamespace(), err)
	}
	for _, sa := range accounts {
		if strings.HasPrefix(item.GetName(), sa.GetName()+"-token-") {
			if kube.DebugEnabled(ctx, a.log) {
				a.log.Debug("skipping auto-generated token secret", "secret", kube.Ref(item), "serviceaccount", sa.GetName())
			}
			return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item, SkipRestore: true}, nil
		}
	}

	out := item.DeepCopy()
	if _, err := kube.RemoveKeys(out.Object, []string{corev1.ServiceAccountUIDKey}, "metadata", "annotations"); err != nil {
		return nil, kube.Errorf(Name, item, "%w", err)
	}
	if _, err := kube.RemoveKeys(out.Object, removedData, "data"); err != nil {
		return nil, kube.Errorf(Name, item, "%w", err)
	}
	typed, err := kube.Normalize[corev1.Secret](Name, out)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
}
