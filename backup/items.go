package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/internal/ujson"
	"github.com/rigging-dev/rigging/resources"
)

// itemKey identifies an item once, whatever version it comes in.
type itemKey struct {
	gr        schema.GroupResource
	namespace string
	name      string
}

func (k itemKey) String() string {
	return rigging.ResourceIdentifier{GroupResource: k.gr, Namespace: k.namespace, Name: k.name}.String()
}

// item is an object with its resource, and what the pipeline reads of it
// more than once: its key and its labels (nil when it has none; shared,
// not to be modified). An item of the input is named by ref until a block
// needs it: obj and labels are then decoded from it (load), and dropped
// with the block, so the pipeline holds the items' JSON, not their trees.
type item struct {
	obj    *unstructured.Unstructured
	res    resources.Resource
	k      itemKey
	labels map[string]string
	ref    resources.Ref // the input's JSON; empty for an object of Options.Lookup
}

// newItem returns the item of obj, whose labels are lbls (obj.GetLabels(),
// which the caller may have read already).
func newItem(obj *unstructured.Unstructured, res resources.Resource, lbls map[string]string) item {
	ns := ""
	if res.Namespaced {
		ns = obj.GetNamespace()
	}
	return item{obj: obj, res: res, k: itemKey{gr: res.GroupResource(), namespace: ns, name: obj.GetName()}, labels: lbls}
}

// refItem returns the item of the input's object ref names, not loaded.
func refItem(ref resources.Ref, res resources.Resource) item {
	return item{res: res, k: itemKey{gr: res.GroupResource(), namespace: ref.Namespace, name: ref.Name}, ref: ref}
}

// load decodes it's object, unless it has it already.
func (bk *backupper) load(it *item) error {
	if it.obj != nil {
		return nil
	}
	obj, err := bk.index.Object(it.ref)
	if err != nil {
		return fmt.Errorf("%s: %w", it.k, err)
	}
	it.obj, it.labels = obj, obj.GetLabels()
	return nil
}

func (it item) key() itemKey { return it.k }

// namedAction is what the action kinds the pipeline runs have in common.
type namedAction interface {
	Name() string
	AppliesTo(ctx context.Context) (rigging.ResourceSelector, error)
}

// resolved is an action with its AppliesTo selector compiled.
type resolved[T namedAction] struct {
	name    string
	action  T
	matcher *resources.Matcher
}

// resolve asks each action of list what it applies to (once more if the
// plugin was unavailable), leaving out those skip names.
func resolve[T namedAction](ctx context.Context, bk *backupper, list []T, skip func(name string) bool) ([]resolved[T], error) {
	m := bk.mapper
	out := make([]resolved[T], 0, len(list))
	for _, a := range list {
		name := a.Name()
		if skip(name) {
			continue
		}
		sel, err := retryUnavailable(bk, newItemLog(bk.log), name, "AppliesTo", func() (rigging.ResourceSelector, error) { return a.AppliesTo(ctx) })
		if err == nil {
			var mt *resources.Matcher
			if mt, err = resources.CompileSelector(sel, m); err == nil {
				out = append(out, resolved[T]{name: name, action: a, matcher: mt})
				continue
			}
		}
		return nil, fmt.Errorf("plugin %s: AppliesTo: %w", name, err)
	}
	return out, nil
}

type operation struct {
	op     *archive.BackupOperation
	action rigging.BackupItemActionV2
}

// backupper runs one backup's item pipeline.
type backupper struct {
	opts         Options
	backup       *rigging.Backup
	log          *slog.Logger // the backup's own log (uploaded)
	user         *slog.Logger // the caller's logger
	mapper       *resources.Mapper
	index        *resources.JSONIndex
	filters      *filters
	actions      []resolved[rigging.BackupItemActionV2]
	blockActions []resolved[rigging.ItemBlockAction]

	tw *archive.Writer
	// backedUp holds the items of the committed blocks; workers read it.
	backedUpMu sync.RWMutex
	backedUp   map[itemKey]bool
	// inBlock holds the items put in a block so far (by the goroutine that
	// forms the blocks).
	inBlock      map[itemKey]bool
	grsBackedUp  map[schema.GroupResource]bool
	resourceList archive.ResourceList
	ops          []*operation
	itemsWritten int
	total        int
	// memo keeps the Execute answers while blocks run in parallel (nil
	// otherwise).
	memo *memo
}

func newBackupper(ctx context.Context, opts Options, b *rigging.Backup, blog, user *slog.Logger) (*backupper, error) {
	ix, inputErrs := opts.Input, opts.InputErrors
	if ix == nil {
		ix = resources.NewJSONIndex(opts.Mapper, resources.JSONIndexOptions{DefaultNamespace: DefaultNamespace})
		if err := ix.Add(opts.Items...); err != nil {
			inputErrs = append(slices.Clip(inputErrs), unjoin(err)...)
		}
	}
	bk := &backupper{
		opts: opts, backup: b, log: blog, user: user, mapper: ix.Mapper(),
		index:        ix,
		backedUp:     map[itemKey]bool{},
		inBlock:      map[itemKey]bool{},
		grsBackedUp:  map[schema.GroupResource]bool{},
		resourceList: archive.ResourceList{},
	}
	if n := ix.Defaulted(); n > 0 {
		blog.Info("namespaced objects without a namespace go to namespace "+DefaultNamespace+", as kubectl apply puts them", "count", n)
	}
	// Objects of kinds nobody defined cannot be placed in a backup; they
	// are reported and the others go on.
	for _, e := range inputErrs {
		bk.errorf(blog, "", "cannot back up an input object", "error", e)
	}
	f, err := newFilters(&b.Spec, bk.mapper)
	if err != nil {
		return nil, err
	}
	bk.filters = f
	if opts.Plugins != nil {
		if err := bk.resolveActions(ctx); err != nil {
			return nil, err
		}
	}
	return bk, nil
}

// DefaultNamespace is where a namespaced object without metadata.namespace
// goes, as kubectl apply puts it.
const DefaultNamespace = "default"

// NewInput returns objs indexed as Options.Input (m maps their kinds; nil:
// resources.NewMapper()): namespaced objects that lack a namespace are put
// in DefaultNamespace. It also returns one error per object that could not
// be indexed (an unknown kind, say), to pass as Options.InputErrors; the
// others are indexed. The index keeps objs' JSON.
func NewInput(m *resources.Mapper, objs []resources.Encoded) (*resources.JSONIndex, []error) {
	ix := resources.NewJSONIndex(m, resources.JSONIndexOptions{DefaultNamespace: DefaultNamespace})
	if err := ix.AddEncoded(objs...); err != nil {
		return ix, unjoin(err)
	}
	return ix, nil
}

func (bk *backupper) resolveActions(ctx context.Context) error {
	bias, err := bk.opts.Plugins.BackupItemActionsV2(ctx)
	if err != nil {
		return fmt.Errorf("list BackupItemActions: %w", err)
	}
	skipCSI := func(name string) bool {
		if SkipsAction(name, bk.opts.Features) {
			bk.log.Info("skipping action: the CSI feature is not enabled", "plugin", name, "features", bk.opts.Features)
			return true
		}
		return false
	}
	if bk.actions, err = resolve(ctx, bk, bias, skipCSI); err != nil {
		return err
	}
	ibas, err := bk.opts.Plugins.ItemBlockActions(ctx)
	if err != nil {
		return fmt.Errorf("list ItemBlockActions: %w", err)
	}
	bk.blockActions, err = resolve(ctx, bk, ibas, func(string) bool { return false })
	return err
}

// run writes the tarball to w: collection, item blocks, CRDs, then the
// asynchronous operations and the items they name.
func (bk *backupper) run(ctx context.Context, w io.Writer) error {
	var lookup rigging.Lookup = bk.index
	if bk.opts.Lookup != nil {
		lookup = bk.opts.Lookup
	}
	ctx = rigging.WithLookup(ctx, lookup)
	for _, w := range bk.opts.Warnings {
		bk.warnf(bk.log, "items not read", "error", w)
	}
	tw, err := archive.NewWriter(w, bk.backup.Status.StartTimestamp.Time)
	if err != nil {
		return err
	}
	defer tw.Abort() // after a failure; nothing once closed
	bk.tw = tw
	collected, err := bk.collect(ctx)
	if err != nil {
		return err
	}
	bk.total = len(collected)
	bk.log.Info("collected items", "count", len(collected))
	if err := bk.note(ctx); err != nil {
		return err
	}
	if err := bk.backupBlocks(ctx, collected); err != nil {
		return err
	}
	if err := bk.backupCRDs(ctx); err != nil {
		return err
	}
	if err := bk.waitOperations(ctx); err != nil {
		return err
	}
	return tw.Close()
}

// note fails fast once ctx is done.
func (bk *backupper) note(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("backup interrupted: %w", err)
	}
	return nil
}

// fatalError marks errors that end the backup (the tarball could not be
// written, the context ended) rather than one item.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func isFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// included runs Velero's inclusion checks on an item reached as an
// additional or related item.
func (bk *backupper) included(it item, il *itemLog) bool {
	k := it.key()
	if it.labels[rigging.LabelExcludeFromBackup] == "true" {
		il.info("excluding item because it has label " + rigging.LabelExcludeFromBackup + "=true")
		return false
	}
	gr := it.res.String()
	if k.namespace != "" && !bk.filters.namespaces.ShouldInclude(k.namespace) {
		il.info("excluding item because namespace is excluded")
		return false
	}
	if k.namespace == "" && gr != namespacesGR && bk.filters.resources.ShouldExclude(gr, it.res.Namespaced) {
		il.info("excluding item because resource is cluster-scoped and is excluded by cluster filter")
		return false
	}
	if k.namespace != "" && !bk.filters.resources.ShouldInclude(gr, true) {
		il.info("excluding item because resource is excluded")
		return false
	}
	if autoExcluded[gr] {
		il.info("excluding item because Velero excludes its resource from every backup")
		return false
	}
	return true
}

// backupItem backs up one item as Velero's itemBackupper does: inclusion
// checks (skipped when mustInclude), once per item, the BackupItemActions
// with their additional items (backed up first), then the tar entries. In
// finalize mode (items named by a finished operation) the actions run again
// and the entries are rewritten. It reports whether the item is in the
// backup.
func (r *blockRun) backupItem(ctx context.Context, it item, mustInclude, finalize bool) (bool, error) {
	bk := r.bk
	k := it.key()
	il := newItemLog(r.log, slog.String("resource", k.gr.String()), slog.String("namespace", k.namespace), slog.String("name", k.name))
	if mustInclude {
		il.info("skipping the exclusion checks for this resource")
	} else if !bk.included(it, il) {
		return false, nil
	}
	if it.obj.GetDeletionTimestamp() != nil {
		il.info("skipping item because it's being deleted")
		return false, nil
	}
	if !finalize {
		if r.isBackedUp(k) {
			il.info("skipping item because it's already been backed up")
			return true, nil
		}
		r.claim(k)
		r.noteHooks(it, il)
	}
	il.info("backing up item")
	// The resource-list key and folder come from the item as read, before
	// any action changes it.
	listKey := it.obj.GetAPIVersion() + "/" + it.obj.GetKind()
	obj, err := r.executeActions(ctx, it, il, finalize)
	if err != nil {
		if !finalize {
			delete(r.claimed, k)
		}
		return false, err
	}
	if obj == nil {
		il.info("item skipped by a plugin action")
		delete(r.claimed, k)
		return false, nil
	}
	var data []byte
	if obj == it.obj && it.ref.Size() > 0 {
		// The input as it was read: no action changed it.
		if data, err = r.bk.index.JSON(it.ref); err != nil {
			delete(r.claimed, k)
			return false, fmt.Errorf("read %s: %w", k, err)
		}
	} else if data, err = ujson.Marshal(obj.Object); err != nil { // encoding/json's bytes
		delete(r.claimed, k)
		return false, fmt.Errorf("encode %s: %w", k, err)
	}
	ns := ""
	if it.res.Namespaced {
		ns = obj.GetNamespace()
	}
	// The entry is written when the block is committed; an item the
	// tarball cannot hold fails here, as WriteItem would fail it.
	version := bk.preferredVersion(it)
	if err := archive.CheckItem(k.gr, version, ns, obj.GetName()); err != nil {
		if !finalize {
			delete(r.claimed, k)
		}
		return false, err
	}
	r.writes = append(r.writes, written{k: k, version: version, ns: ns, name: obj.GetName(), data: data, listKey: listKey, finalize: finalize})
	if !finalize {
		if err := r.backupOtherVersions(ctx, it, il); err != nil {
			if isFatal(err) {
				return true, err
			}
			r.errorf(il.logger(), k.namespace, "error backing up the item's other versions", "error", err)
		}
	}
	return true, nil
}

// preferredVersion is the version folder of an item's resource: the
// mapper's preferred version, else the item's own.
func (bk *backupper) preferredVersion(it item) string {
	if r, err := bk.mapper.ForGroupResource(it.res.GroupResource()); err == nil && r.Version != "" {
		return r.Version
	}
	return it.obj.GroupVersionKind().Version
}

// executeActions runs the matching actions in name order on a copy of the
// item (the item itself when none applies; it is then not modified). It
// returns nil when an action asks to skip the item.
func (r *blockRun) executeActions(ctx context.Context, it item, il *itemLog, finalize bool) (*unstructured.Unstructured, error) {
	bk := r.bk
	k := it.key()
	lbls := it.labels
	// The input is shared (the Lookup serves it): an action gets a copy,
	// made once, before the first one that may modify its item; an action
	// that declares it leaves its item alone (rigging.InputPreserver) gets
	// the shared item until then. private says obj is no longer it.obj.
	obj, private := it.obj, false
	for ai, a := range bk.actions {
		if !a.matcher.Matches(it.res, k.namespace, lbls) {
			continue
		}
		if a.name == csiPVCActionName && !snapshotVolumes(bk.backup) {
			il.info("skipping CSI snapshot of the claim: spec.snapshotVolumes is false", slog.String("plugin", a.name))
			continue
		}
		if !private && !rigging.PreservesInput(a.action) {
			obj, private = obj.DeepCopy(), true
		}
		il.info("executing custom action", slog.String("plugin", a.name))
		// An Execute that met a dead plugin process runs once more (see
		// retryUnavailable: the action may see this item twice, which
		// Velero's contract allows); a second failure fails the backup.
		res, err := r.execute(ctx, it, il, ai, obj, finalize)
		updated, additional, opID, postItems := res.updated, res.additional, res.opID, res.postItems
		if err != nil {
			if ctx.Err() != nil {
				return nil, &fatalError{fmt.Errorf("plugin %s: execute on %s: %w", a.name, k, ctx.Err())}
			}
			if isFatal(err) {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			return nil, fmt.Errorf("%s: %w", k, namePlugin(a.name, err))
		}
		if updated == nil {
			updated = obj
		}
		switch {
		case updated == it.obj:
			// The shared input again (an action may hand back the object
			// the Lookup serves, whatever it was given): the next action
			// that may modify its item, or the annotation strip below,
			// must copy it first.
			private = false
		case updated != obj:
			private = true // the action's own copy, or another object it made
		}
		ann := updated.GetAnnotations()
		if _, skip := ann[rigging.AnnotationSkipFromBackup]; skip {
			il.info("item is skipped from backup by action", slog.String("plugin", a.name))
			return nil, nil
		}
		mustInclude := ann[rigging.AnnotationBackupMustIncludeAdditionalItems] == "true" || finalize
		if _, ok := ann[rigging.AnnotationBackupMustIncludeAdditionalItems]; ok {
			if !private {
				updated, private = updated.DeepCopy(), true
			}
			delete(ann, rigging.AnnotationBackupMustIncludeAdditionalItems)
			updated.SetAnnotations(ann)
		}
		obj = updated
		if opID != "" {
			if finalize {
				return nil, fmt.Errorf("plugin %s: started operation %s on %s while finalizing", a.name, opID, k)
			}
			now := metav1.NewTime(bk.now())
			r.ops = append(r.ops, &operation{action: a.action, op: &archive.BackupOperation{
				Spec: archive.BackupOperationSpec{
					BackupName:         bk.backup.Name,
					BackupUID:          string(bk.backup.UID),
					BackupItemAction:   a.name,
					ResourceIdentifier: rigging.ResourceIdentifier{GroupResource: k.gr, Namespace: k.namespace, Name: k.name},
					OperationID:        opID,
					PostOperationItems: postItems,
				},
				Status: archive.OperationStatus{Phase: archive.OperationPhaseNew, Created: &now},
			}})
		}
		for _, id := range additional {
			add, ok := r.inBlock(id)
			var getErr error
			if !ok {
				add, ok, getErr = bk.find(ctx, id, true)
			}
			if getErr != nil {
				r.warnf(il.logger(), "could not get the item from the cluster", "plugin", a.name, "item", id.String(), "error", getErr)
			}
			if !ok {
				r.warnf(il.logger(), "additional item was not found in "+bk.source()+", can't back it up",
					"plugin", a.name, "item", id.String())
				continue
			}
			if _, err := r.backupItem(ctx, add, mustInclude, finalize); err != nil {
				return nil, err
			}
		}
	}
	return obj, nil
}

// executed is what a BackupItemActionV2's Execute returns.
type executed struct {
	updated    *unstructured.Unstructured
	additional []rigging.ResourceIdentifier
	opID       string
	postItems  []rigging.ResourceIdentifier
}

// csiPVCActionName is Velero's CSI claim action, which Velero runs only when
// the backup snapshots volumes.
const csiPVCActionName = "velero.io/csi-pvc-backupper"

func snapshotVolumes(b *rigging.Backup) bool {
	return b.Spec.SnapshotVolumes == nil || *b.Spec.SnapshotVolumes
}

// backupCRDs backs up the CustomResourceDefinition of every custom
// resource backed up, when CRDs are neither included nor excluded as such
// (Velero's backupCRD).
func (bk *backupper) backupCRDs(ctx context.Context) error {
	f := bk.filters.resources
	if f.ShouldExclude(crdsGR, false) || f.ShouldInclude(crdsGR, false) {
		return nil
	}
	crdGR := schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grs := make([]schema.GroupResource, 0, len(bk.grsBackedUp))
	for gr := range bk.grsBackedUp {
		grs = append(grs, gr)
	}
	slices.SortFunc(grs, func(a, b schema.GroupResource) int { return strings.Compare(a.String(), b.String()) })
	return bk.single(ctx, func(r *blockRun) error {
		for _, gr := range grs {
			crd, ok, getErr := bk.find(ctx, rigging.ResourceIdentifier{GroupResource: crdGR, Name: gr.String()}, true)
			if getErr != nil {
				r.warnf(r.log, "could not get the item from the cluster", "item", crdGR.String()+"/"+gr.String(), "error", getErr)
			}
			if !ok {
				continue
			}
			r.log.Info("found associated CRD to add to backup", "crd", gr.String())
			if _, err := r.backupItem(ctx, crd, false, false); err != nil {
				if isFatal(err) {
					return err
				}
				r.errorf(r.log, "", "error backing up item", "resource", crdsGR, "name", gr.String(), "error", err)
			}
		}
		return nil
	})
}

func (bk *backupper) now() time.Time {
	if bk.opts.Now != nil {
		return bk.opts.Now()
	}
	return time.Now()
}

// errorf logs an error into the backup log (counted in the results, under
// namespace) and to the caller's logger.
func (bk *backupper) errorf(log *slog.Logger, namespace, msg string, args ...any) {
	log.Error(msg, append([]any{"namespace", namespace}, args...)...)
	bk.user.Error(msg, append([]any{"backup", bk.backup.Name, "namespace", namespace}, args...)...)
}

// warnf logs a warning into log (which carries the item's attributes) and to
// the caller's logger.
func (bk *backupper) warnf(log *slog.Logger, msg string, args ...any) {
	log.Warn(msg, args...)
	bk.user.Warn(msg, append([]any{"backup", bk.backup.Name}, args...)...)
}

// unjoin splits an errors.Join result.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// namePlugin prefixes err with the plugin's name unless it names it already
// (the Manager's middleware does).
func namePlugin(name string, err error) error {
	if strings.Contains(err.Error(), name) {
		return err
	}
	return fmt.Errorf("plugin %s: %w", name, err)
}
