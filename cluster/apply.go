package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/rigging-dev/rigging"
)

// Existing-resource policies (a Velero Restore's spec.existingResourcePolicy).
const (
	// PolicyNone leaves an existing object that differs as it is, with a
	// warning. "" (Velero's default) does the same.
	PolicyNone = "none"
	// PolicyUpdate patches an existing object that differs to the backup's
	// version, and the restore labels of one that does not.
	PolicyUpdate = "update"
)

// DefaultResourceTimeout bounds the wait for a created
// CustomResourceDefinition to be established (Velero's --resource-timeout
// default).
const DefaultResourceTimeout = 10 * time.Minute

// DefaultWorkers is the number of Applies to run at once (a restore's
// workers) for a client limited to qps requests a second (rest.Config's
// QPS: 0 is client-go's default, rest.DefaultQPS; negative, no limit):
// qps/25, at least 4, at most 64, 64 without a limit. A create is network-bound: it waits for the API server
// and etcd's commit, not for a CPU of this machine, so the workers are
// enough to keep qps creates a second in flight when each takes up to
// 40 ms (25 a second per worker), whatever the number of CPUs. Past the
// API server's own bound more workers only queue there.
func DefaultWorkers(qps float32) int {
	switch {
	case qps < 0:
		return maxWorkers
	case qps == 0:
		qps = rest.DefaultQPS
	}
	return min(maxWorkers, max(4, int(math.Ceil(float64(qps)/25))))
}

// maxWorkers bounds DefaultWorkers.
const maxWorkers = 64

// ErrCRDNotEstablished reports a created CustomResourceDefinition whose
// Established condition did not become True within the resource timeout.
var ErrCRDNotEstablished = errors.New("CustomResourceDefinition not established")

// ApplyOptions tune an Applier. The zero value is Velero's behaviour.
type ApplyOptions struct {
	// ExistingResourcePolicy is "" or PolicyNone (an existing object that
	// differs is a warning) or PolicyUpdate (it is patched).
	ExistingResourcePolicy string
	// ResourceTimeout bounds the wait for a created CRD to be established
	// (default DefaultResourceTimeout).
	ResourceTimeout time.Duration
	// PollInterval is how often a CRD or a terminating namespace is read
	// while waiting (default 100ms).
	PollInterval time.Duration
	// TerminatingTimeout bounds the wait for a terminating namespace of the
	// restore to be gone before it is created again (Velero's
	// --terminating-resource-timeout; default DefaultResourceTimeout).
	TerminatingTimeout time.Duration
}

// Applier creates the objects of a restore in a cluster through its API
// server, as Velero's restore creates them: create; an object that exists
// already is compared with the backup's version (server-set metadata,
// managedFields and status ignored) and skipped when it is the same,
// otherwise left with a warning or patched, by the policy; a status is
// restored through the status subresource; a created CRD is waited for
// until it is established. It is safe for concurrent use.
type Applier struct {
	dyn  dynamic.Interface
	rest rest.Interface
	opts ApplyOptions
}

// NewApplier returns an Applier writing to the API server of cfg. It makes
// no request until asked (Ping checks the server).
func NewApplier(cfg *rest.Config, opts ApplyOptions) (*Applier, error) {
	switch opts.ExistingResourcePolicy {
	case "", PolicyNone, PolicyUpdate:
	default:
		return nil, fmt.Errorf("cluster applier: existing resource policy %q: want %q or %q", opts.ExistingResourcePolicy, PolicyNone, PolicyUpdate)
	}
	if opts.ResourceTimeout <= 0 {
		opts.ResourceTimeout = DefaultResourceTimeout
	}
	if opts.TerminatingTimeout <= 0 {
		opts.TerminatingTimeout = DefaultResourceTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster applier: %w", err)
	}
	rc, err := newDiscoveryClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster applier: %w", err)
	}
	return &Applier{dyn: dyn, rest: rc, opts: opts}, nil
}

// Ping asks the API server for its version: an error (naming the server's
// answer or the connection's failure) means nothing can be restored.
func (a *Applier) Ping(ctx context.Context) error {
	if err := a.rest.Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return fmt.Errorf("cluster: API server: %w", err)
	}
	return nil
}

// Apply creates obj, an object of resource (its plural: "pods",
// "deployments"; the group and version are obj's apiVersion), in the
// namespace obj names. A status in obj is restored through the status
// subresource after the create (a failure is a warning, as in Velero).
//
// It returns what it did (a rigging.RestoreAction constant), the warnings, and
// rejected when the API server refused the object (the restore goes on
// without it; Apply's action is then rigging.RestoreActionFailed). err is any other
// failure: the API server cannot be reached, the context ended; nothing
// more can be restored.
func (a *Applier) Apply(ctx context.Context, obj *unstructured.Unstructured, resource string) (action string, warnings []error, rejected, err error) {
	gv, perr := schema.ParseGroupVersion(obj.GetAPIVersion())
	if perr != nil {
		return rigging.RestoreActionFailed, nil, fmt.Errorf("%s: %w", describe(obj), perr), nil
	}
	gvr := gv.WithResource(resource)
	var ri dynamic.ResourceInterface = a.dyn.Resource(gvr)
	if ns := obj.GetNamespace(); ns != "" {
		ri = a.dyn.Resource(gvr).Namespace(ns)
	}
	body := obj.DeepCopy()
	status, hasStatus := body.Object["status"]
	delete(body.Object, "status")
	created, cerr := ri.Create(ctx, body, metav1.CreateOptions{})
	switch {
	case cerr == nil:
	case apierrors.IsAlreadyExists(cerr), portsTaken(obj, cerr) && a.exists(ctx, ri, obj):
		return a.existing(ctx, ri, obj, resource)
	case isAPIAnswer(cerr):
		return rigging.RestoreActionFailed, nil, fmt.Errorf("error restoring %s: %w", describe(obj), cerr), nil
	default:
		return "", nil, nil, fmt.Errorf("create %s: %w", describe(obj), cerr)
	}
	if hasStatus && status != nil {
		if w, err := a.restoreStatus(ctx, ri, created, status); err != nil {
			return rigging.RestoreActionCreated, nil, nil, err
		} else if w != nil {
			warnings = append(warnings, w)
		}
	}
	if mf, ok := obj.Object["metadata"].(map[string]any)["managedFields"].([]any); ok && len(mf) > 0 {
		if w, err := a.restoreManagedFields(ctx, ri, obj, mf); err != nil {
			return rigging.RestoreActionCreated, warnings, nil, err
		} else if w != nil {
			warnings = append(warnings, w)
		}
	}
	if gvr.GroupResource() == crdsGroupResource {
		if rej, err := a.waitEstablished(ctx, ri, obj.GetName()); err != nil || rej != nil {
			return rigging.RestoreActionCreated, warnings, rej, err
		}
	}
	return rigging.RestoreActionCreated, warnings, nil, nil
}

var crdsGroupResource = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}

// split sorts err of the request what: the API server's answer (refused,
// the restore goes on without it) or a failure to reach the server (err).
func split(what string, err error) (refused, fatal error) {
	switch {
	case err == nil:
		return nil, nil
	case isAPIAnswer(err):
		return fmt.Errorf("%s: %w", what, err), nil
	default:
		return nil, fmt.Errorf("%s: %w", what, err)
	}
}

// isAPIAnswer reports whether err is the API server's answer (a Status),
// not a failure to reach it.
func isAPIAnswer(err error) bool {
	var st apierrors.APIStatus
	return errors.As(err, &st)
}

// portsTaken reports a Service refused only because its node ports are
// allocated: what the API server answers for a Service that exists with
// them, instead of AlreadyExists (Velero's isAlreadyExistsError).
func portsTaken(obj *unstructured.Unstructured, err error) bool {
	var st apierrors.APIStatus
	if obj.GetKind() != "Service" || !errors.As(err, &st) || st.Status().Details == nil || len(st.Status().Details.Causes) == 0 {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if !strings.Contains(c.Message, "provided port is already allocated") {
			return false
		}
	}
	return true
}

// exists reports whether obj's name exists (an error counts as no).
func (a *Applier) exists(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) bool {
	_, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	return err == nil
}

func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}

// restoreStatus sets status on created through the status subresource,
// retrying on conflict. A refusal is a warning; an unreachable server is
// err.
func (a *Applier) restoreStatus(ctx context.Context, ri dynamic.ResourceInterface, created *unstructured.Unstructured, status any) (warning, err error) {
	obj := created.DeepCopy()
	obj.Object["status"] = status
	rerr := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := ri.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			cur, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if gerr == nil {
				obj.SetResourceVersion(cur.GetResourceVersion())
			}
		}
		return err
	})
	return split("restore status of "+describe(created), rerr)
}

// restoreManagedFields patches the backup's managedFields onto the
// created object (a create ignores them), as Velero restores them, so that
// field ownership (server-side apply) survives the restore. A refusal is a
// warning; an unreachable server is err.
func (a *Applier) restoreManagedFields(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, mf []any) (warning, err error) {
	p, merr := json.Marshal(map[string]any{"metadata": map[string]any{"managedFields": mf}})
	if merr != nil {
		return fmt.Errorf("managed fields of %s not restored: %w", describe(obj), merr), nil
	}
	_, perr := ri.Patch(ctx, obj.GetName(), types.MergePatchType, p, metav1.PatchOptions{})
	return split("restore managed fields of "+describe(obj), perr)
}

// waitEstablished polls CRD name until its Established condition is True
// (Velero's crdAvailable).
func (a *Applier) waitEstablished(ctx context.Context, ri dynamic.ResourceInterface, name string) (rejected, err error) {
	var crd *unstructured.Unstructured
	timedOut, rej, err := a.poll(ctx, a.opts.ResourceTimeout, func(ctx context.Context) (bool, error) {
		var gerr error
		crd, gerr = ri.Get(ctx, name, metav1.GetOptions{})
		return gerr == nil && established(crd), gerr
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("wait for CRD %s: %w", name, err)
	case rej != nil:
		return fmt.Errorf("error verifying the CRD %s is ready to use: %w", name, rej), nil
	case timedOut:
		return fmt.Errorf("the CRD %s is not available to use for custom resources after %s: %w", name, a.opts.ResourceTimeout, ErrCRDNotEstablished), nil
	}
	return nil, nil
}

// poll calls check every PollInterval until it reports done, for at most
// timeout (timedOut). An error of check that is the API server's answer
// ends the wait (rejected); another one (the server not reached), or the
// end of ctx, is err.
func (a *Applier) poll(ctx context.Context, timeout time.Duration, check func(context.Context) (bool, error)) (timedOut bool, rejected, err error) {
	ctx2, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(a.opts.PollInterval)
	defer t.Stop()
	for {
		done, cerr := check(ctx2)
		switch {
		case done:
			return false, nil, nil
		case cerr != nil && isAPIAnswer(cerr):
			return false, cerr, nil
		case cerr != nil && ctx.Err() == nil && ctx2.Err() == nil:
			return false, nil, cerr
		}
		select {
		case <-ctx.Done():
			return false, nil, ctx.Err()
		case <-ctx2.Done():
			return true, nil, nil
		case <-t.C:
		}
	}
}

// terminating reports whether namespace ns is being deleted.
func terminating(ns *unstructured.Unstructured) bool {
	phase, _, _ := unstructured.NestedString(ns.Object, "status", "phase")
	return ns.GetDeletionTimestamp() != nil || phase == "Terminating"
}

// recreateNamespace waits, as Velero does, up to TerminatingTimeout for
// the terminating namespace obj names to be gone, and creates it again.
// Still there then, it is refused (and so is everything restored into it).
func (a *Applier) recreateNamespace(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) (action string, warnings []error, rejected, err error) {
	name := obj.GetName()
	timedOut, rej, err := a.poll(ctx, a.opts.TerminatingTimeout, func(ctx context.Context) (bool, error) {
		cur, gerr := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(gerr) {
			return true, nil
		}
		return gerr == nil && !terminating(cur), gerr
	})
	switch {
	case err != nil:
		return "", nil, nil, fmt.Errorf("wait for terminating namespace %s: %w", name, err)
	case rej != nil:
		return rigging.RestoreActionFailed, nil, fmt.Errorf("error getting namespace %s: %w", name, rej), nil
	case timedOut:
		return rigging.RestoreActionFailed, nil, fmt.Errorf("timed out waiting for terminating namespace %s to disappear before restoring (%s)", name, a.opts.TerminatingTimeout), nil
	}
	body := obj.DeepCopy()
	delete(body.Object, "status")
	_, cerr := ri.Create(ctx, body, metav1.CreateOptions{})
	switch {
	case cerr == nil:
		return rigging.RestoreActionCreated, nil, nil, nil
	case apierrors.IsAlreadyExists(cerr):
		// Created by someone else meanwhile: there, as Velero takes it.
		return rigging.RestoreActionExists, nil, nil, nil
	}
	rej, err = split("create "+describe(obj), cerr)
	return rigging.RestoreActionFailed, nil, rej, err
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// existing handles an object the create found in the cluster.
func (a *Applier) existing(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, resource string) (action string, warnings []error, rejected, err error) {
	cur, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case gerr != nil && isAPIAnswer(gerr):
		// Velero: the object may exist; it is left alone, with a warning.
		return rigging.RestoreActionFailed, []error{fmt.Errorf("%s exists, and reading it failed: %w", describe(obj), gerr)}, nil, nil
	case gerr != nil:
		return "", nil, nil, fmt.Errorf("get %s: %w", describe(obj), gerr)
	}
	if resource == "namespaces" && obj.GetAPIVersion() == "v1" {
		if terminating(cur) {
			return a.recreateNamespace(ctx, ri, obj)
		}
		return rigging.RestoreActionExists, nil, nil, nil
	}
	fromCluster := forComparison(cur)
	want := forComparison(obj)
	// The in-cluster object cannot carry this restore's labels: take them
	// from the object restored, as Velero does, before comparing.
	wantLabels := want.GetLabels()
	oldLabels := fromCluster.GetLabels()
	withLabels := fromCluster.DeepCopy()
	setRestoreLabels(withLabels, wantLabels[rigging.LabelBackupName], wantLabels[rigging.LabelRestoreName])
	if equality.Semantic.DeepEqual(withLabels.Object, want.Object) {
		if a.opts.ExistingResourcePolicy == PolicyUpdate && (oldLabels[rigging.LabelBackupName] != wantLabels[rigging.LabelBackupName] || oldLabels[rigging.LabelRestoreName] != wantLabels[rigging.LabelRestoreName]) {
			if rej, err := a.patch(ctx, ri, obj, fromCluster.Object, withLabels.Object); err != nil || rej != nil {
				return rigging.RestoreActionSkipped, nil, rej, err
			}
		}
		return rigging.RestoreActionSkipped, nil, nil, nil
	}
	if resource == "serviceaccounts" && obj.GetAPIVersion() == "v1" {
		return a.mergeServiceAccount(ctx, ri, obj, fromCluster, withLabels, want)
	}
	if a.opts.ExistingResourcePolicy != PolicyUpdate {
		return rigging.RestoreActionFailed, []error{fmt.Errorf("could not restore, %s %q already exists. Warning: the in-cluster version is different than the backed-up version", obj.GetKind(), obj.GetName())}, nil, nil
	}
	setRestoreLabels(fromCluster, "", "")
	rej, perr := a.patch(ctx, ri, obj, fromCluster.Object, want.Object)
	if perr != nil {
		return "", nil, nil, perr
	}
	if rej == nil {
		return rigging.RestoreActionUpdated, nil, nil, nil
	}
	// The patch was refused (an immutable field): at least the labels.
	warnings = append(warnings, rej)
	if rej, err := a.patch(ctx, ri, obj, fromCluster.Object, withLabels.Object); err != nil || rej != nil {
		return rigging.RestoreActionFailed, warnings, rej, err
	}
	return rigging.RestoreActionFailed, warnings, nil, nil
}

// mergeServiceAccount patches an existing ServiceAccount that differs with
// what the backup's has and it lacks, whatever the policy, as Velero
// merges service accounts: secrets and image pull secrets by name, labels
// and annotations by key (the in-cluster values win). A refused patch is a
// warning; under PolicyUpdate the restore labels are then patched alone.
func (a *Applier) mergeServiceAccount(ctx context.Context, ri dynamic.ResourceInterface, obj, fromCluster, withLabels, want *unstructured.Unstructured) (action string, warnings []error, rejected, err error) {
	desired := withLabels.DeepCopy()
	for _, field := range []string{"secrets", "imagePullSecrets"} {
		have, _, _ := unstructured.NestedSlice(desired.Object, field)
		more, _, _ := unstructured.NestedSlice(want.Object, field)
		names := map[any]bool{}
		for _, r := range have {
			m, _ := r.(map[string]any)
			names[m["name"]] = true
		}
		for _, r := range more {
			if m, _ := r.(map[string]any); !names[m["name"]] {
				names[m["name"]] = true
				have = append(have, r)
			}
		}
		if len(have) > 0 {
			if err := unstructured.SetNestedSlice(desired.Object, have, field); err != nil {
				return rigging.RestoreActionFailed, nil, fmt.Errorf("merge %s: %w", describe(obj), err), nil
			}
		}
	}
	desired.SetLabels(mergeMaps(desired.GetLabels(), want.GetLabels()))
	desired.SetAnnotations(mergeMaps(desired.GetAnnotations(), want.GetAnnotations()))
	if p, _ := mergePatch(withLabels.Object, desired.Object); p == nil {
		return rigging.RestoreActionSkipped, nil, nil, nil // merged already
	}
	rej, err := a.patch(ctx, ri, obj, withLabels.Object, desired.Object)
	switch {
	case err != nil:
		return "", nil, nil, err
	case rej == nil:
		return rigging.RestoreActionUpdated, nil, nil, nil
	}
	warnings = []error{rej}
	if a.opts.ExistingResourcePolicy == PolicyUpdate {
		setRestoreLabels(fromCluster, "", "")
		if rej, err := a.patch(ctx, ri, obj, fromCluster.Object, withLabels.Object); err != nil || rej != nil {
			return rigging.RestoreActionFailed, warnings, rej, err
		}
	}
	return rigging.RestoreActionFailed, warnings, nil, nil
}

// mergeMaps returns have with the keys of more it lacks.
func mergeMaps(have, more map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range more {
		if _, ok := have[k]; !ok {
			have[k] = v
		}
	}
	return have
}

// patch sends the JSON merge patch that turns from into to.
func (a *Applier) patch(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, from, to map[string]any) (rejected, err error) {
	p, merr := mergePatch(from, to)
	if merr != nil {
		return fmt.Errorf("patch %s: %w", describe(obj), merr), nil
	}
	if p == nil {
		return nil, nil
	}
	_, perr := ri.Patch(ctx, obj.GetName(), types.MergePatchType, p, metav1.PatchOptions{})
	return split("patch "+describe(obj), perr)
}

// forComparison returns a copy of obj without what the API server sets or
// Velero's comparison ignores: server metadata, managedFields, owner
// references, status.
func forComparison(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	delete(out.Object, "status")
	if md, ok := out.Object["metadata"].(map[string]any); ok {
		for _, k := range []string{"generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
			"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "managedFields"} {
			delete(md, k)
		}
	}
	return out
}

func setRestoreLabels(obj *unstructured.Unstructured, backup, restore string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[rigging.LabelBackupName] = backup
	l[rigging.LabelRestoreName] = restore
	obj.SetLabels(l)
}
