package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/resources"
)

type resolvedAction struct {
	name    string
	action  rigging.RestoreItemActionV2
	matcher *resources.Matcher
}

type operation struct {
	op     *archive.RestoreOperation
	action rigging.RestoreItemActionV2
}

// itemKey is an item of the backup: its folder, original namespace, name.
type itemKey struct {
	gr, namespace, name string
}

// restorer runs one restore.
type restorer struct {
	opts     Options
	restore  *rigging.Restore
	backup   *rigging.Backup
	contents *archive.Contents
	log      *slog.Logger
	user     *slog.Logger
	mapper   *resources.Mapper
	actions  []resolvedAction

	namespaces  *resources.CompiledIncludesExcludes
	resourcesIE *resources.CompiledIncludesExcludes
	selector    labels.Selector
	or          []labels.Selector
	order       []string
	position    map[string]int

	restoredItems map[itemKey]bool
	written       map[itemKey]bool   // items of the backup written to the output
	skipReasons   map[itemKey]string // why an item of the backup was not written
	volumes       *volumeData
	provision     map[string]bool // volumes provisioned again (Velero's pvsToProvision)
	namespacesOut map[string]bool // target namespaces written
	resourceList  archive.ResourceList
	ops           []*operation
	restored      int
	total         int
	workers       int              // concurrent Output writes within a tier
	batch         []*pending       // the tier's objects prepared and not yet written
	inBatch       map[itemKey]bool // the keys of batch
}

// pending is an object prepared for the output: written with the others
// of its tier (concurrently), then settled in restore order.
type pending struct {
	k       itemKey
	obj     *unstructured.Unstructured
	gr      string
	target  string // its namespace in the target
	listKey string // its resource list key, apiVersion/Kind
	log     *slog.Logger
	out     Outcome
	err     error
	tried   bool
}

func newRestorer(ctx context.Context, opts Options, r *rigging.Restore, b *rigging.Backup, c *archive.Contents, rlog, user *slog.Logger) (*restorer, error) {
	m := opts.Mapper
	if m == nil {
		m = resources.NewMapper()
	}
	rs := &restorer{
		opts: opts, restore: r, backup: b, contents: c, log: rlog, user: user, mapper: m,
		restoredItems: map[itemKey]bool{}, namespacesOut: map[string]bool{}, resourceList: archive.ResourceList{},
		written: map[itemKey]bool{}, skipReasons: map[itemKey]string{}, provision: map[string]bool{},
		inBatch: map[itemKey]bool{},
	}
	rs.workers = opts.Workers
	if rs.workers <= 0 {
		rs.workers = runtime.GOMAXPROCS(0)
	}
	if _, ok := opts.Output.(SequentialOutput); ok {
		rs.workers = 1
	}
	var err error
	if rs.volumes, err = readVolumeData(ctx, opts.Store, b.Name); err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.Name, err)
	}
	// Teach the mapper the backup's custom resources.
	for _, name := range c.Names(crdsGR, "") {
		crd, err := decode(c.Get(crdsGR, "", name))
		if err == nil {
			err = m.AddCRD(crd)
		}
		if err != nil {
			rs.warnf(rlog.With("namespace", ""), "cannot use CustomResourceDefinition from the backup", "name", name, "error", err)
		}
	}
	spec := &r.Spec
	if rs.namespaces, err = (resources.IncludesExcludes{Includes: spec.IncludedNamespaces, Excludes: spec.ExcludedNamespaces}).Compile(); err != nil {
		return nil, fmt.Errorf("namespace filter: %w", err)
	}
	if rs.resourcesIE, err = (resources.IncludesExcludes{Includes: resolveAll(m, spec.IncludedResources), Excludes: resolveAll(m, spec.ExcludedResources)}).Compile(); err != nil {
		return nil, fmt.Errorf("resource filter: %w", err)
	}
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("label selector: %w", err)
		}
		rs.selector = s
	}
	for _, ls := range spec.OrLabelSelectors {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, fmt.Errorf("or-label selector: %w", err)
		}
		rs.or = append(rs.or, s)
	}
	p := opts.Priorities
	if len(p.High) == 0 && len(p.Low) == 0 {
		p = DefaultPriorities
	}
	rs.order = orderResources(m, p, c.Resources())
	rs.position = map[string]int{}
	for i, gr := range rs.order {
		rs.position[gr] = i
	}
	if opts.Plugins != nil {
		list, err := opts.Plugins.RestoreItemActionsV2(ctx)
		if err != nil {
			return nil, fmt.Errorf("list RestoreItemActions: %w", err)
		}
		for _, a := range list {
			if strings.Contains(a.Name(), "velero.io/csi-") && !slices.Contains(opts.Features, "EnableCSI") {
				rlog.Info("skipping action: the CSI feature is not enabled", "plugin", a.Name())
				continue
			}
			sel, err := a.AppliesTo(ctx)
			if err != nil {
				return nil, fmt.Errorf("plugin %s: AppliesTo: %w", a.Name(), err)
			}
			mt, err := resources.CompileSelector(sel, m)
			if err != nil {
				return nil, fmt.Errorf("plugin %s: AppliesTo: %w", a.Name(), err)
			}
			rs.actions = append(rs.actions, resolvedAction{name: a.Name(), action: a, matcher: mt})
		}
	}
	return rs, nil
}

func resolveAll(m *resources.Mapper, names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "*" {
			out = append(out, n)
			continue
		}
		out = append(out, resolveName(m, n))
	}
	return out
}

func decode(it *archive.Item) (*unstructured.Unstructured, error) {
	if it == nil {
		return nil, rigging.ErrNotFound
	}
	return it.Object()
}

// resourceOf returns the resource of a backup folder; a folder the mapper
// does not know still restores, as a resource of that name.
func (rs *restorer) resourceOf(gr string, namespaced bool) resources.Resource {
	g := schema.ParseGroupResource(gr)
	if r, err := rs.mapper.ForGroupResource(g); err == nil {
		return r
	}
	return resources.Resource{Group: g.Group, Plural: g.Resource, Namespaced: namespaced}
}

// run restores every selected item in order, then waits for the
// asynchronous operations.
func (rs *restorer) run(ctx context.Context) error {
	var lookup rigging.Lookup = &contentsLookup{rs: rs}
	if rs.opts.Lookup != nil {
		lookup = rs.opts.Lookup
	}
	ctx = rigging.WithLookup(ctx, lookup)
	type selected struct {
		gr, ns, name string
	}
	var todo []selected
	for _, gr := range rs.order {
		if !rs.resourcesIE.ShouldInclude(gr) {
			rs.log.Info("skipping resource: excluded", "resource", gr)
			rs.skipAll(gr, rs.resourceExcludedReason(gr))
			continue
		}
		if gr == namespacesGR {
			// Namespaces are otherwise created on demand, from the backup's
			// copy; those selected by name are restored here, in their turn.
			for _, name := range rs.contents.Names(namespacesGR, "") {
				if rs.namespaces.ShouldInclude(name) {
					todo = append(todo, selected{namespacesGR, "", name})
				} else {
					rs.skip(itemKey{namespacesGR, "", name}, ReasonNamespaceFilter)
				}
			}
			continue
		}
		for _, ns := range rs.contents.Namespaces(gr) {
			if ns != "" && !rs.namespaces.ShouldInclude(ns) {
				rs.skipNamespace(gr, ns, ReasonNamespaceFilter)
				continue
			}
			if ns == "" && !rs.clusterScopedIncluded() {
				rs.log.Info("skipping resource: cluster-scoped and only specific namespaces are included", "resource", gr)
				rs.skipNamespace(gr, ns, ReasonClusterScoped)
				continue
			}
			for _, name := range rs.contents.Names(gr, ns) {
				todo = append(todo, selected{gr, ns, name})
			}
		}
	}
	rs.total = len(todo)
	tier := ""
	for _, s := range todo {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("restore interrupted: %w", err)
		}
		// A tier (one resource) is written before the next one starts.
		if s.gr != tier {
			if err := rs.flush(ctx); err != nil {
				return err
			}
			tier = s.gr
		}
		if s.gr == namespacesGR {
			obj, err := decode(rs.contents.Get(s.gr, "", s.name))
			if err != nil {
				rs.errorf("", "error decoding item", "resource", s.gr, "name", s.name, "error", err)
				rs.skip(itemKey{s.gr, "", s.name}, ReasonFailed)
				continue
			}
			if !rs.labelsMatch(obj.GetLabels()) {
				rs.skip(itemKey{s.gr, "", s.name}, ReasonLabelSelector)
				continue
			}
			if err := rs.ensureNamespace(ctx, s.name); err != nil {
				return err
			}
			continue
		}
		obj, err := decode(rs.contents.Get(s.gr, s.ns, s.name))
		if err != nil {
			rs.errorf(s.ns, "error decoding item", "resource", s.gr, "name", s.name, "error", err)
			rs.skip(itemKey{s.gr, s.ns, s.name}, ReasonFailed)
			continue
		}
		if !rs.labelsMatch(obj.GetLabels()) {
			rs.skip(itemKey{s.gr, s.ns, s.name}, ReasonLabelSelector)
			continue
		}
		if err := rs.restoreItem(ctx, obj, s.gr, s.ns, false, true); err != nil {
			return err
		}
	}
	if err := rs.flush(ctx); err != nil {
		return err
	}
	return rs.waitOperations(ctx)
}

func (rs *restorer) clusterScopedIncluded() bool {
	icr := rs.restore.Spec.IncludeClusterResources
	if icr != nil {
		return *icr
	}
	return rs.namespaces.IncludeEverything()
}

func (rs *restorer) labelsMatch(lbls map[string]string) bool {
	set := labels.Set(lbls)
	if rs.selector != nil {
		return rs.selector.Matches(set)
	}
	if len(rs.or) == 0 {
		return true
	}
	for _, s := range rs.or {
		if s.Matches(set) {
			return true
		}
	}
	return false
}

func (rs *restorer) targetNamespace(ns string) string {
	if t, ok := rs.restore.Spec.NamespaceMapping[ns]; ok && ns != "" {
		return t
	}
	return ns
}

// ensureNamespace writes the Namespace of original namespace ns (under its
// mapped name) once, from the backup's copy (labels, annotations, spec) or
// bare, as Velero's restore creates namespaces.
func (rs *restorer) ensureNamespace(ctx context.Context, ns string) error {
	target := rs.targetNamespace(ns)
	if rs.namespacesOut[target] {
		return nil
	}
	rs.namespacesOut[target] = true
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": target}}}
	if from, err := decode(rs.contents.Get(namespacesGR, "", ns)); err == nil {
		if l := from.GetLabels(); len(l) > 0 {
			out.SetLabels(l)
		}
		if a := from.GetAnnotations(); len(a) > 0 {
			out.SetAnnotations(a)
		}
		if spec, ok := from.Object["spec"]; ok {
			out.Object["spec"] = spec
		}
	}
	return rs.writeNow(ctx, &pending{k: itemKey{namespacesGR, "", ns}, obj: out, gr: namespacesGR, target: target,
		listKey: "v1/Namespace", log: rs.log.With("namespace", target)})
}

// restoreItem restores one item of folder gr and original namespace ns
// (Velero's restoreItem): checks, stripping, actions (their additional items
// first), namespace mapping and labels, then the output. Item-level
// failures are recorded; only an output failure is returned.
//
// An item of the tier being restored (top) joins the tier's batch, written
// when the tier ends (or before an action's additional items are
// restored); an additional item is written at once.
func (rs *restorer) restoreItem(ctx context.Context, obj *unstructured.Unstructured, gr, ns string, mustInclude, top bool) error {
	name := obj.GetName()
	target := rs.targetNamespace(ns)
	log := rs.log.With("resource", gr, "namespace", target, "name", name)
	k := itemKey{gr: gr, namespace: ns, name: name}
	if !mustInclude {
		if ns != "" && !rs.namespaces.ShouldInclude(ns) {
			log.Info("not restoring item because namespace is excluded")
			rs.skip(k, ReasonNamespaceFilter)
			return nil
		}
		if ns == "" && rs.restore.Spec.IncludeClusterResources != nil && !*rs.restore.Spec.IncludeClusterResources {
			log.Info("not restoring item because it's cluster-scoped")
			rs.skip(k, ReasonClusterScoped)
			return nil
		}
		if !rs.resourcesIE.ShouldInclude(gr) {
			log.Info("not restoring item because resource is excluded")
			rs.skip(k, rs.resourceExcludedReason(gr))
			return nil
		}
	}
	if rs.restoredItems[k] {
		log.Info("skipping item: already restored")
		return nil
	}
	rs.restoredItems[k] = true
	if skip, why := skipped(obj, gr); skip {
		log.Info("skipping item: " + why)
		rs.skip(k, why)
		return nil
	}
	if gr == persistentVolumesGR {
		skip, why, err := rs.prepareVolume(obj)
		if err != nil {
			rs.errorf(target, "error preparing persistent volume", "resource", gr, "name", name, "error", fmt.Errorf("%s: %w", ref(gr, ns, name), err))
			rs.skip(k, ReasonFailed)
			return nil
		}
		if skip {
			log.Info("skipping item: " + why)
			rs.skip(k, why)
			return nil
		}
	}
	if ns != "" {
		if err := rs.ensureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	listKey := obj.GetAPIVersion() + "/" + obj.GetKind()
	fromBackup := obj.DeepCopy()
	if err := resetMetadata(obj); err != nil {
		rs.errorf(target, "error preparing item", "resource", gr, "name", name, "error", err)
		rs.skip(k, ReasonFailed)
		return nil
	}
	keepStatus := rs.keepStatus(gr, fromBackup.GetAnnotations())
	if !keepStatus {
		unstructured.RemoveNestedField(obj.Object, "status")
	}
	res := rs.resourceOf(gr, ns != "")
	for _, a := range rs.actions {
		if !a.matcher.Matches(res, ns, fromBackup.GetLabels()) {
			continue
		}
		log.Info("executing item action", "plugin", a.name)
		out, err := a.action.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: obj, ItemFromBackup: fromBackup, Restore: rs.restore})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("plugin %s: execute on %s: %w", a.name, ref(gr, ns, name), ctx.Err())
			}
			rs.errorf(target, "error preparing item", "resource", gr, "name", name,
				"error", fmt.Errorf("%s: %w", ref(gr, ns, name), namePlugin(a.name, err)))
			rs.skip(k, ReasonFailed)
			return nil
		}
		if out == nil {
			continue
		}
		if out.SkipRestore {
			log.Info("skipping restore because a registered plugin discarded it", "plugin", a.name)
			rs.skip(k, ReasonSkippedBy+a.name)
			return nil
		}
		if out.UpdatedItem != nil {
			obj = out.UpdatedItem
		}
		if out.OperationID != "" {
			rs.addOperation(a, out.OperationID, gr, target, name)
		}
		mustIncludeAdd := obj.GetAnnotations()[rigging.AnnotationRestoreMustIncludeAdditionalItems] == "true"
		if rs.writesAdditional(out.AdditionalItems) {
			// What the tier prepared so far exists before the additional
			// items, as in a sequential restore. Additional items restored
			// already (a pod's claims, a claim's volume: the usual case)
			// write nothing, and the batch goes on.
			if err := rs.flush(ctx); err != nil {
				return err
			}
		}
		for _, id := range out.AdditionalItems {
			if err := rs.restoreAdditional(ctx, id, mustIncludeAdd, log, a.name); err != nil {
				return err
			}
		}
		if out.WaitForAdditionalItems && len(out.AdditionalItems) > 0 {
			rs.waitAdditional(ctx, a, out, log)
		}
	}
	if !keepStatus {
		// An action that returns a typed object gives it back with an
		// empty status ("status": {}): not restored, it would cost a
		// status update per object.
		unstructured.RemoveNestedField(obj.Object, "status")
	}
	if gr == persistentVolumeClaimsGR {
		if err := rs.prepareClaim(obj); err != nil {
			rs.errorf(target, "error preparing persistent volume claim", "resource", gr, "name", name, "error", fmt.Errorf("%s: %w", ref(gr, ns, name), err))
			rs.skip(k, ReasonFailed)
			return nil
		}
	}
	if ann := obj.GetAnnotations(); ann != nil {
		if _, ok := ann[rigging.AnnotationRestoreMustIncludeAdditionalItems]; ok {
			delete(ann, rigging.AnnotationRestoreMustIncludeAdditionalItems)
			obj.SetAnnotations(ann)
		}
	}
	if res.Namespaced || ns != "" {
		obj.SetNamespace(target)
	}
	lbls := obj.GetLabels()
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[rigging.LabelBackupName] = archive.ValidLabelValue(rs.backup.Name)
	lbls[rigging.LabelRestoreName] = archive.ValidLabelValue(rs.restore.Name)
	obj.SetLabels(lbls)
	p := &pending{k: k, obj: obj, gr: gr, target: target, listKey: listKey, log: log}
	if top {
		rs.batch = append(rs.batch, p)
		rs.inBatch[k] = true
		return nil
	}
	return rs.writeNow(ctx, p)
}

// writesAdditional reports whether the batch must be written before ids
// are restored: one of them is not restored (or skipped) already, and may
// be written now, or is in the batch, not written yet (an action waiting
// for it must find it). It depends only on what was prepared before,
// never on the writes in flight, so the batches, and with them the log
// and results, are the same whatever the number of workers.
func (rs *restorer) writesAdditional(ids []rigging.ResourceIdentifier) bool {
	for _, id := range ids {
		k := itemKey{id.GroupResource.String(), id.Namespace, id.Name}
		if !rs.restoredItems[k] || rs.inBatch[k] {
			return true
		}
	}
	return false
}

// restoreAdditional restores an item an action named, from the backup.
func (rs *restorer) restoreAdditional(ctx context.Context, id rigging.ResourceIdentifier, mustInclude bool, log *slog.Logger, plugin string) error {
	gr := id.GroupResource.String()
	obj, err := decode(rs.contents.Get(gr, id.Namespace, id.Name))
	if err != nil {
		if errors.Is(err, rigging.ErrNotFound) {
			rs.warnf(log, "additional item is not in the backup", "plugin", plugin, "item", id.String())
			return nil
		}
		rs.errorf(rs.targetNamespace(id.Namespace), "error decoding additional item", "item", id.String(), "error", err)
		return nil
	}
	return rs.restoreItem(ctx, obj, gr, id.Namespace, mustInclude, false)
}

// waitAdditional polls AreAdditionalItemsReady until true or the timeout.
func (rs *restorer) waitAdditional(ctx context.Context, a resolvedAction, out *rigging.RestoreItemActionExecuteOutput, log *slog.Logger) {
	timeout := out.AdditionalItemsReadyTimeout
	if timeout <= 0 {
		timeout = DefaultAdditionalItemsReadyTimeout
	}
	deadline := rs.now().Add(timeout)
	ticker := time.NewTicker(rs.pollInterval())
	defer ticker.Stop()
	for {
		ready, err := a.action.AreAdditionalItemsReady(ctx, out.AdditionalItems, rs.restore)
		if err != nil {
			rs.warnf(log, "error waiting for additional items to be ready", "plugin", a.name, "error", err)
			return
		}
		if ready {
			return
		}
		if !rs.now().Before(deadline) {
			rs.warnf(log, "timed out waiting for additional items to be ready", "plugin", a.name, "timeout", timeout)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// writeNow writes p and settles it.
func (rs *restorer) writeNow(ctx context.Context, p *pending) error {
	rs.writeOne(ctx, p)
	if p.err != nil {
		return p.err
	}
	rs.settle(p)
	return nil
}

func (rs *restorer) writeOne(ctx context.Context, p *pending) {
	pos, ok := rs.position[p.gr]
	if !ok {
		pos = len(rs.order)
	}
	p.tried = true
	p.out, p.err = rs.opts.Output.Write(ctx, Item{Object: p.obj, Resource: p.gr, Order: pos})
}

// flush writes the batch with up to rs.workers writes at once, then
// settles each object in restore order, so the log, results and resource
// list are those of a sequential run. A write that fails (the output is
// broken) stops the others; what was written is settled and the failure
// returned.
func (rs *restorer) flush(ctx context.Context) error {
	batch := rs.batch
	rs.batch = nil
	if len(batch) == 0 {
		return nil
	}
	clear(rs.inBatch)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	order := batch
	if rs.workers > 1 {
		order = acrossNamespaces(batch)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(rs.workers, len(batch)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(order) || wctx.Err() != nil {
					return
				}
				p := order[i]
				rs.writeOne(wctx, p)
				if p.err != nil {
					cancel(p.err)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range batch {
		if p.tried && p.err == nil {
			rs.settle(p)
		}
	}
	if err := context.Cause(wctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("restore interrupted: %w", ctx.Err())
		}
		return err
	}
	return nil
}

// acrossNamespaces returns batch in the order its writes start: one
// object of each target namespace in turn (in the order the namespaces
// first appear), each namespace's objects in batch order, so that the
// writes in flight at once are spread over the namespaces: an API server
// creates the objects of one namespace partly one after the other (the
// test API server created 218 pods a second with 16 client workers in one
// namespace, 371 over 16 namespaces). Only the writes' order changes; they
// are settled in batch order.
func acrossNamespaces(batch []*pending) []*pending {
	var groups [][]*pending
	index := map[string]int{}
	for _, p := range batch {
		i, ok := index[p.target]
		if !ok {
			i = len(groups)
			index[p.target] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	if len(groups) < 2 {
		return batch
	}
	out := make([]*pending, 0, len(batch))
	for round := 0; len(out) < len(batch); round++ {
		for _, g := range groups {
			if round < len(g) {
				out = append(out, g[round])
			}
		}
	}
	return out
}

// settle records what the output did with p: log lines, warnings and
// errors, the resource list, progress.
func (rs *restorer) settle(p *pending) {
	name := p.obj.GetName()
	for _, w := range p.out.Warnings {
		p.log.Warn("warning restoring item", "error", w)
		rs.user.Warn("warning restoring item", "restore", rs.restore.Name, "namespace", p.target, "resource", p.gr, "name", name, "error", w)
	}
	if p.out.Rejected != nil {
		rs.errorf(p.target, "error restoring item", "resource", p.gr, "name", name, "error", p.out.Rejected)
		rs.skip(p.k, ReasonFailed)
		rs.record(p.listKey, p.target, name, rigging.RestoreActionFailed)
		return
	}
	switch p.out.Action {
	case rigging.RestoreActionExists:
		p.log.Info("namespace exists")
		rs.written[p.k] = true
		return
	case rigging.RestoreActionFailed:
		// It exists and differs (a warning said so): not restored, but
		// counted, as Velero counts every item it got as far as trying
		// (its ItemsRestored is the size of its restoredItems, whatever
		// their action).
		p.log.Info("not restored: exists in the cluster and differs")
		rs.skip(p.k, ReasonExistsDiffers)
		rs.record(p.listKey, p.target, name, rigging.RestoreActionFailed)
		rs.count(p.gr)
		return
	}
	if p.gr == namespacesGR {
		p.log.Info("restored namespace", "action", p.out.Action)
	} else {
		p.log.Info("restored item", "action", p.out.Action)
	}
	rs.written[p.k] = true
	rs.record(p.listKey, p.target, name, p.out.Action)
	rs.count(p.gr)
}

// count adds an item of gr to the items restored and reports progress.
func (rs *restorer) count(gr string) {
	rs.restored++
	if rs.opts.Progress != nil {
		rs.opts.Progress(Progress{ItemsRestored: rs.restored, TotalItems: max(rs.total, rs.restored), Resource: gr})
	}
}

func (rs *restorer) record(listKey, ns, name, action string) {
	entry := name
	if ns != "" {
		entry = ns + "/" + name
	}
	rs.resourceList[listKey] = append(rs.resourceList[listKey], entry+"("+action+")")
}

// annRestoreStatus on an object overrides spec.restoreStatus for it:
// "true" or "false" (Velero's ObjectStatusRestoreAnnotationKey).
const annRestoreStatus = "velero.io/restore-status"

// keepStatus reports whether gr's status is restored: spec.restoreStatus
// includes it, unless the object's annotation velero.io/restore-status
// says "true" or "false" (any other value is ignored), as Velero decides.
func (rs *restorer) keepStatus(gr string, ann map[string]string) bool {
	keep := false
	if rsSpec := rs.restore.Spec.RestoreStatus; rsSpec != nil {
		ie := resources.IncludesExcludes{Includes: resolveAll(rs.mapper, rsSpec.IncludedResources), Excludes: resolveAll(rs.mapper, rsSpec.ExcludedResources)}
		keep = len(rsSpec.IncludedResources) > 0 && ie.ShouldInclude(gr)
	}
	switch strings.ToLower(strings.TrimSpace(ann[annRestoreStatus])) {
	case "true":
		return true
	case "false":
		return false
	}
	return keep
}

// skipped reports items Velero never restores whatever the filters:
// completed pods and jobs, and mirror pods. (Persistent volumes provisioned
// again are decided by prepareVolume.)
func skipped(obj *unstructured.Unstructured, gr string) (bool, string) {
	switch gr {
	case "pods":
		if phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase"); phase == "Succeeded" || phase == "Failed" {
			return true, "pod has completed (phase " + phase + ")"
		}
		if _, ok := obj.GetAnnotations()["kubernetes.io/config.mirror"]; ok {
			return true, "mirror pod"
		}
	case "jobs.batch":
		if t, ok, _ := unstructured.NestedString(obj.Object, "status", "completionTime"); ok && t != "" {
			return true, "job has completed"
		}
	}
	return false, ""
}

// resetMetadata strips what Velero strips before the actions run.
func resetMetadata(obj *unstructured.Unstructured) error {
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return errors.New("metadata not found")
	}
	for _, k := range []string{"generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
		"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences"} {
		delete(md, k)
	}
	return nil
}

func ref(gr, ns, name string) string {
	if ns == "" {
		return gr + "/" + name
	}
	return gr + "/" + ns + "/" + name
}

func (rs *restorer) now() time.Time {
	if rs.opts.Now != nil {
		return rs.opts.Now()
	}
	return time.Now()
}

func (rs *restorer) pollInterval() time.Duration {
	if rs.opts.OperationPollInterval > 0 {
		return rs.opts.OperationPollInterval
	}
	return time.Second
}

// errorf records an error under namespace and tells the caller.
func (rs *restorer) errorf(namespace, msg string, args ...any) {
	rs.log.Error(msg, append([]any{"namespace", namespace}, args...)...)
	rs.user.Error(msg, append([]any{"restore", rs.restore.Name, "namespace", namespace}, args...)...)
}

// warnf records a warning on log (which carries the namespace) and tells
// the caller.
func (rs *restorer) warnf(log *slog.Logger, msg string, args ...any) {
	log.Warn(msg, args...)
	rs.user.Warn(msg, append([]any{"restore", rs.restore.Name}, args...)...)
}

// contentsLookup is the rigging.Lookup of a restore: the backup's items.
type contentsLookup struct{ rs *restorer }

func (l *contentsLookup) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	it := l.rs.contents.Get(gr.String(), namespace, name)
	if it == nil {
		return nil, fmt.Errorf("%s: %w", rigging.ResourceIdentifier{GroupResource: gr, Namespace: namespace, Name: name}, rigging.ErrNotFound)
	}
	return decode(it)
}

func (l *contentsLookup) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, ns := range l.rs.contents.Namespaces(gr.String()) {
		if namespace != "" && ns != namespace {
			continue
		}
		for _, name := range l.rs.contents.Names(gr.String(), ns) {
			o, err := decode(l.rs.contents.Get(gr.String(), ns, name))
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// namePlugin prefixes err with the plugin's name unless it names it already
// (the Manager's middleware does).
func namePlugin(name string, err error) error {
	if strings.Contains(err.Error(), name) {
		return err
	}
	return fmt.Errorf("plugin %s: %w", name, err)
}
