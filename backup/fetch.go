package backup

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/resources"
)

// Fetcher is implemented by an Options.Lookup that can read one object
// afresh from its source (cluster.Lookup: a GET to the API server). With
// one, the pipeline gets items as Velero gets them from the API server:
// an additional item that is not in its item's block, a post-operation
// item, the CRD of a custom resource backed up, and a related item that is
// not among Options.Items are each fetched, so that an object deleted
// since it was listed is a warning naming it, never a stale copy. Fetch
// returns an error wrapping rigging.ErrNotFound for an object that does
// not exist. Without a Fetcher, such items come from Options.Items, then
// from Lookup.Get.
type Fetcher interface {
	Fetch(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error)
}

// fetches reports whether items are fetched from the cluster.
func (bk *backupper) fetches() bool {
	_, ok := bk.opts.Lookup.(Fetcher)
	return ok
}

// source names where items the pipeline looks for come from, for messages.
func (bk *backupper) source() string {
	if bk.fetches() {
		return "the cluster"
	}
	return "the input"
}

// find returns the object id names, with its resource. fresh asks for the
// object as its source has it now (Velero gets it from the API server):
// fetched when Options.Lookup is a Fetcher. Otherwise it comes from the
// input, and one that is not there from the Lookup (a backup of a cluster
// reads only the included namespaces): fetched, or else Lookup.Get.
// getErr is the cluster's error when it could not answer (not when the
// object does not exist): the caller warns with it, through the log of the
// block it runs in. find is safe for concurrent use by the block workers.
func (bk *backupper) find(ctx context.Context, id rigging.ResourceIdentifier, fresh bool) (it item, ok bool, getErr error) {
	res, err := bk.mapper.ForGroupResource(id.GroupResource)
	if err != nil {
		res = resources.Resource{}
	}
	fetcher, canFetch := bk.opts.Lookup.(Fetcher)
	if !fresh || !canFetch {
		if ref, found := bk.index.Ref(id.GroupResource, id.Namespace, id.Name); found {
			if res.Plural == "" {
				return item{}, false, nil
			}
			it := refItem(ref, res)
			if err := bk.load(&it); err != nil {
				return item{}, false, err
			}
			return it, true, nil
		}
		if bk.opts.Lookup == nil {
			return item{}, false, nil
		}
	}
	var obj *unstructured.Unstructured
	if canFetch {
		obj, err = fetcher.Fetch(ctx, id.GroupResource, id.Namespace, id.Name)
	} else {
		obj, err = bk.opts.Lookup.Get(ctx, id.GroupResource, id.Namespace, id.Name)
	}
	if err != nil {
		if !errors.Is(err, rigging.ErrNotFound) {
			getErr = err
		}
		return item{}, false, getErr
	}
	if res.Plural == "" {
		return item{}, false, nil
	}
	return newItem(obj, res, obj.GetLabels()), true, nil
}

// inBlock returns the item id names when it is in the run's block.
func (r *blockRun) inBlock(id rigging.ResourceIdentifier) (item, bool) {
	k := itemKey{gr: id.GroupResource, namespace: id.Namespace, name: id.Name}
	for _, it := range r.block {
		if it.key() == k {
			return it, true
		}
	}
	return item{}, false
}
