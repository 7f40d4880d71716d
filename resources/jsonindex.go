package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/internal/ujson"
)

// Encoded is an object held as its JSON encoding (encoding/json's bytes,
// as ujson.Marshal writes them), with the fields an index reads from it.
type Encoded struct {
	APIVersion, Kind, Namespace, Name string
	JSON                              []byte
}

// Encode returns obj as an Encoded. obj is not retained.
func Encode(obj *unstructured.Unstructured) (Encoded, error) {
	if obj == nil {
		return Encoded{}, errors.New("encode: nil object")
	}
	data, err := ujson.Marshal(obj.Object)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode %s %s: %w", obj.GetKind(), objectName(obj), err)
	}
	// The strings are copied: a decoder's strings may share memory with the
	// whole document they came from.
	return Encoded{
		APIVersion: strings.Clone(obj.GetAPIVersion()), Kind: strings.Clone(obj.GetKind()),
		Namespace: strings.Clone(obj.GetNamespace()), Name: strings.Clone(obj.GetName()), JSON: data,
	}, nil
}

// forEncoded is ForObject for an Encoded, with ForObject's errors.
func (m *Mapper) forEncoded(o Encoded) (Resource, error) {
	if gv, err := schema.ParseGroupVersion(o.APIVersion); err == nil && o.Kind != "" {
		if r, err := m.ForGVK(gv.WithKind(o.Kind)); err == nil {
			return r, nil
		}
	}
	stub := &unstructured.Unstructured{Object: map[string]any{}}
	stub.SetAPIVersion(o.APIVersion)
	stub.SetKind(o.Kind)
	stub.SetNamespace(o.Namespace)
	stub.SetName(o.Name)
	return m.ForObject(stub)
}

// decodeObject decodes an Encoded's JSON.
func decodeObject(data []byte) (*unstructured.Unstructured, error) {
	m, err := ujson.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// JSONIndex is a rigging.Lookup (and an IndexedLookup) with the answers of
// an Index holding the same objects, that keeps each object as its JSON
// encoding and decodes it when asked: a backup of many objects holds a few
// hundred bytes more than their JSON per object, not their decoded trees
// (ten times as much). Objects it returns are decoded for the call or
// shared with other callers (a small cache of recently decoded objects):
// callers must not modify them. Get, List and ListByIndex may run
// concurrently with each other and with Add.
type JSONIndex struct {
	mapper *Mapper
	// defaultNamespace, when set, is the namespace of a namespaced object
	// added without one.
	defaultNamespace string
	s                sorted[[]byte]

	mu        sync.Mutex
	defaulted int
	// namespaces interns the namespaces of the objects.
	namespaces map[string]string

	cacheMu sync.Mutex
	cache   map[*byte]*unstructured.Unstructured
	// lists caches List's answers (an action may list the same resource
	// for every item: the service accounts' bindings), lists holding
	// listed objects in all.
	lists  map[listKey][]*unstructured.Unstructured
	listed int
}

// listKey names one List answer.
type listKey struct {
	gr        schema.GroupResource
	namespace string
}

// jsonListCacheSize bounds the objects of the List answers a JSONIndex
// keeps.
const jsonListCacheSize = 1024

// jsonCacheSize bounds the decoded objects a JSONIndex keeps: enough for
// the items of the blocks a backup has in flight and the objects their
// actions look up, few enough that they weigh little next to the JSON.
const jsonCacheSize = 512

// JSONIndexOptions configure NewJSONIndex.
type JSONIndexOptions struct {
	// DefaultNamespace, when not empty, is put in a namespaced object added
	// without a namespace (into its JSON too), as kubectl apply does with
	// its default namespace; Defaulted counts them.
	DefaultNamespace string
}

// NewJSONIndex returns an empty JSONIndex that maps kinds with m (nil: a
// new NewMapper()).
func NewJSONIndex(m *Mapper, opts JSONIndexOptions) *JSONIndex {
	if m == nil {
		m = NewMapper()
	}
	return &JSONIndex{mapper: m, defaultNamespace: opts.DefaultNamespace,
		namespaces: map[string]string{}, cache: map[*byte]*unstructured.Unstructured{},
		lists: map[listKey][]*unstructured.Unstructured{}}
}

// Mapper returns the mapper the index maps kinds with.
func (ix *JSONIndex) Mapper() *Mapper { return ix.mapper }

// Add encodes and indexes objs, as Index.Add indexes them (the same
// replacement, the same errors); the index keeps none of them.
func (ix *JSONIndex) Add(objs ...*unstructured.Unstructured) error {
	enc := make([]Encoded, 0, len(objs))
	var errs []error
	for i, obj := range objs {
		if obj == nil {
			errs = append(errs, fmt.Errorf("index: object %d is nil", i))
			continue
		}
		if obj.GetName() == "" { // named here, by its place in objs
			errs = append(errs, fmt.Errorf("index: object %d (apiVersion %q kind %q) has no metadata.name", i, obj.GetAPIVersion(), obj.GetKind()))
			continue
		}
		e, err := Encode(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
			continue
		}
		enc = append(enc, e)
	}
	return errors.Join(append(errs, ix.AddEncoded(enc...))...)
}

// AddEncoded indexes objs, which it keeps (their JSON is not copied; the
// caller must not modify it). As Index.Add: the CustomResourceDefinitions
// among them are given to the mapper first, an object with the resource,
// namespace and name of one indexed before replaces it (the last one of
// objs wins), the namespace of a cluster-scoped object is ignored, and the
// objects that cannot be indexed (no name, an unknown kind, an invalid CRD,
// JSON that is not an object) are skipped, the error joining one error per
// object.
func (ix *JSONIndex) AddEncoded(objs ...Encoded) error {
	var errs []error
	for _, o := range objs {
		if o.Kind == "CustomResourceDefinition" && schema.FromAPIVersionAndKind(o.APIVersion, o.Kind).Group == crdGroup {
			crd, err := decodeObject(o.JSON)
			if err == nil {
				err = ix.mapper.AddCRD(crd)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	batch := make([]keyed[[]byte], 0, len(objs))
	defaulted := 0
	for i, o := range objs {
		if o.Name == "" {
			errs = append(errs, fmt.Errorf("index: object %d (apiVersion %q kind %q) has no metadata.name", i, o.APIVersion, o.Kind))
			continue
		}
		r, err := ix.mapper.forEncoded(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
			continue
		}
		ns, data := o.Namespace, o.JSON
		switch {
		case !r.Namespaced:
			ns = ""
		case ns == "" && ix.defaultNamespace != "":
			obj, err := decodeObject(data)
			if err == nil {
				obj.SetNamespace(ix.defaultNamespace)
				data, err = ujson.Marshal(obj.Object)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("index: object %q: %w", o.Name, err))
				continue
			}
			ns = ix.defaultNamespace
			defaulted++
		}
		batch = append(batch, keyed[[]byte]{r.GroupResource(), sortedEntry[[]byte]{ns, o.Name, data}})
	}
	ix.mu.Lock()
	ix.defaulted += defaulted
	for i := range batch {
		// One copy of each namespace's name, whatever the number of objects.
		ns := batch[i].namespace
		if in, ok := ix.namespaces[ns]; ok {
			batch[i].namespace = in
		} else {
			ix.namespaces[ns] = ns
		}
	}
	ix.mu.Unlock()
	ix.s.add(batch)
	ix.dropCache()
	return errors.Join(errs...)
}

// Defaulted returns how many namespaced objects added without a namespace
// were put in the default namespace (JSONIndexOptions.DefaultNamespace).
func (ix *JSONIndex) Defaulted() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.defaulted
}

// Len returns the number of objects indexed.
func (ix *JSONIndex) Len() int { return ix.s.len() }

// Ref is one indexed object, named without decoding it.
type Ref struct {
	Namespace, Name string
	data            []byte
}

// Size returns the length of the object's JSON.
func (r Ref) Size() int { return len(r.data) }

// Refs returns the objects of resource gr in namespace ("" for every
// namespace), sorted by namespace, then name, as List orders them, without
// decoding them.
func (ix *JSONIndex) Refs(gr schema.GroupResource, namespace string) []Ref {
	list := ix.s.list(gr, namespace)
	out := make([]Ref, len(list))
	for i, e := range list {
		out[i] = Ref{Namespace: e.namespace, Name: e.name, data: e.v}
	}
	return out
}

// Ref returns the object of resource gr named name in namespace ("" for a
// cluster-scoped resource), as Get finds it, without decoding it.
func (ix *JSONIndex) Ref(gr schema.GroupResource, namespace, name string) (Ref, bool) {
	e, found := ix.s.get(gr, namespace, name)
	return Ref{Namespace: e.namespace, Name: e.name, data: e.v}, found
}

// Object returns the object r names, decoded (or from the cache of
// recently decoded objects); it must not be modified.
func (ix *JSONIndex) Object(r Ref) (*unstructured.Unstructured, error) {
	return ix.decode(r.data)
}

// JSON returns the object's JSON, as it was added (with the default
// namespace put in); it must not be modified.
func (r Ref) JSON() []byte { return r.data }

func (ix *JSONIndex) decode(data []byte) (*unstructured.Unstructured, error) {
	if len(data) == 0 {
		return nil, errors.New("index: empty object")
	}
	key := &data[0]
	ix.cacheMu.Lock()
	obj, ok := ix.cache[key]
	ix.cacheMu.Unlock()
	if ok {
		return obj, nil
	}
	obj, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	ix.cacheMu.Lock()
	if len(ix.cache) >= jsonCacheSize {
		// Forget about half, at random (map order): cheap, and bounded.
		n := 0
		for k := range ix.cache {
			delete(ix.cache, k)
			if n++; n >= jsonCacheSize/2 {
				break
			}
		}
	}
	ix.cache[key] = obj
	ix.cacheMu.Unlock()
	return obj, nil
}

// dropCache forgets the decoded objects (an Add may have replaced some).
func (ix *JSONIndex) dropCache() {
	ix.cacheMu.Lock()
	clear(ix.cache)
	clear(ix.lists)
	ix.listed = 0
	ix.cacheMu.Unlock()
}

// Get implements rigging.Lookup, as Index.Get.
func (ix *JSONIndex) Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, found := ix.Ref(gr, namespace, name)
	if !found {
		return nil, notFound(gr, namespace, name)
	}
	return ix.decode(r.data)
}

// List implements rigging.Lookup, as Index.List. The slice is the
// caller's; the objects must not be modified.
func (ix *JSONIndex) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := listKey{gr, namespace}
	ix.cacheMu.Lock()
	cached, ok := ix.lists[k]
	ix.cacheMu.Unlock()
	if ok {
		return slices.Clone(cached), nil
	}
	gen := ix.s.generation()
	out, err := ix.decodeAll(ix.s.list(gr, namespace))
	if err != nil || len(out) == 0 || len(out) > jsonListCacheSize/4 {
		return out, err
	}
	ix.cacheMu.Lock()
	defer ix.cacheMu.Unlock()
	if ix.s.generation() != gen { // an Add ran meanwhile: out may be stale
		return out, nil
	}
	if ix.listed+len(out) > jsonListCacheSize {
		clear(ix.lists)
		ix.listed = 0
	}
	if _, ok := ix.lists[k]; !ok {
		ix.lists[k] = out
		ix.listed += len(out)
	}
	return slices.Clone(out), nil
}

func (ix *JSONIndex) decodeAll(list []sortedEntry[[]byte]) ([]*unstructured.Unstructured, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]*unstructured.Unstructured, len(list))
	for i, e := range list {
		obj, err := ix.decode(e.v)
		if err != nil {
			return nil, err
		}
		out[i] = obj
	}
	return out, nil
}

var _ IndexedLookup = (*JSONIndex)(nil)

// ListByIndex implements IndexedLookup, as Index.ListByIndex: the secondary
// index is built on first use (each object of gr decoded for fn, outside
// the lock) and kept until the next Add.
func (ix *JSONIndex) ListByIndex(ctx context.Context, gr schema.GroupResource, namespace, index string, fn IndexFunc, value string) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := ix.s.derivedIndex(gr, index, func(e sortedEntry[[]byte]) ([]string, error) {
		obj, err := ix.decode(e.v)
		if err != nil {
			return nil, err
		}
		return fn(obj)
	})
	list, err := d.lookup(namespace, value)
	if err != nil {
		return nil, err
	}
	out := make([]sortedEntry[[]byte], len(list))
	for i, data := range list {
		out[i].v = data
	}
	return ix.decodeAll(out)
}

var _ rigging.Lookup = (*JSONIndex)(nil)
