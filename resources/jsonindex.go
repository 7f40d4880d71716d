package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/internal/ujson"
)

// Encoded is an object held as its JSON encoding (encoding/json's bytes,
// as ujson.Marshal writes them), with the fields an index reads from it.
// One made by Spool.Encode has its JSON in the spool and JSON nil.
type Encoded struct {
	APIVersion, Kind, Namespace, Name string
	JSON                              []byte

	spooled blob   // where the JSON is in spool
	spool   *Spool // nil: the JSON is JSON
}

// bytes returns the object's JSON (read from its spool: a new copy).
func (o Encoded) bytes() ([]byte, error) {
	if o.spool == nil {
		return o.JSON, nil
	}
	return o.spool.read(o.spooled)
}

// value returns where the object's JSON is, as an index holds it.
func (o Encoded) value() blob {
	if o.spool == nil {
		return blob{data: o.JSON}
	}
	return o.spooled
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
	s                sorted[blob]
	// spool holds the JSON of the objects added spooled (set by the first
	// one, never changed).
	spool atomic.Pointer[Spool]

	mu        sync.Mutex
	defaulted int
	// namespaces interns the namespaces of the objects.
	namespaces map[string]string

	cacheMu sync.Mutex
	cache   map[blobKey]decoded
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
	// Spool, when not nil, holds the JSON of the objects Add encodes, and
	// is the one spool of the objects AddEncoded is given spooled. It must
	// stay open while the index is used; the caller closes it.
	Spool *Spool
}

// NewJSONIndex returns an empty JSONIndex that maps kinds with m (nil: a
// new NewMapper()).
func NewJSONIndex(m *Mapper, opts JSONIndexOptions) *JSONIndex {
	if m == nil {
		m = NewMapper()
	}
	ix := &JSONIndex{mapper: m, defaultNamespace: opts.DefaultNamespace,
		namespaces: map[string]string{}, cache: map[blobKey]decoded{},
		lists: map[listKey][]*unstructured.Unstructured{}}
	ix.spool.Store(opts.Spool)
	return ix
}

// Mapper returns the mapper the index maps kinds with.
func (ix *JSONIndex) Mapper() *Mapper { return ix.mapper }

// Add encodes and indexes objs, as Index.Add indexes them (the same
// replacement, the same errors); the index keeps none of them. With a
// spool (JSONIndexOptions.Spool, or the one of objects AddEncoded was
// given), their JSON goes to it.
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
		encode := Encode
		if sp := ix.spool.Load(); sp != nil {
			encode = sp.Encode
		}
		e, err := encode(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
			continue
		}
		enc = append(enc, e)
	}
	return errors.Join(append(errs, ix.AddEncoded(enc...))...)
}

// AddEncoded indexes objs, which it keeps (their JSON is not copied; the
// caller must not modify it). Objects made by Spool.Encode stay in their
// spool, which must be the same for every spooled object of the index
// (another one's objects are refused) and stay open while the index is
// used. As Index.Add: the CustomResourceDefinitions
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
			data, err := o.bytes()
			var crd *unstructured.Unstructured
			if err == nil {
				crd, err = decodeObject(data)
			}
			if err == nil {
				err = ix.mapper.AddCRD(crd)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	batch := make([]keyed[blob], 0, len(objs))
	defaulted := 0
	for i, o := range objs {
		if o.spool != nil && !ix.spool.CompareAndSwap(nil, o.spool) && ix.spool.Load() != o.spool {
			errs = append(errs, fmt.Errorf("index: object %q: %w", o.Name, errOtherSpool))
			continue
		}
		if o.Name == "" {
			errs = append(errs, fmt.Errorf("index: object %d (apiVersion %q kind %q) has no metadata.name", i, o.APIVersion, o.Kind))
			continue
		}
		r, err := ix.mapper.forEncoded(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
			continue
		}
		ns, v := o.Namespace, o.value()
		switch {
		case !r.Namespaced:
			ns = ""
		case ns == "" && ix.defaultNamespace != "":
			data, err := o.bytes()
			var obj *unstructured.Unstructured
			if err == nil {
				obj, err = decodeObject(data)
			}
			if err == nil {
				obj.SetNamespace(ix.defaultNamespace)
				data, err = ujson.Marshal(obj.Object)
			}
			if err == nil {
				v = blob{data: data}
				if o.spool != nil { // kept where the others are
					v, err = o.spool.put(data)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("index: object %q: %w", o.Name, err))
				continue
			}
			ns = ix.defaultNamespace
			defaulted++
		}
		batch = append(batch, keyed[blob]{r.GroupResource(), sortedEntry[blob]{ns, o.Name, v}})
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

// errOtherSpool refuses an object spooled in another spool than the
// index's.
var errOtherSpool = errors.New("spooled in another spool than the index's objects")

// Ref is one indexed object, named without decoding it.
type Ref struct {
	Namespace, Name string
	data            blob
	spool           *Spool
}

// Size returns the length of the object's JSON.
func (r Ref) Size() int { return r.data.size() }

// Refs returns the objects of resource gr in namespace ("" for every
// namespace), sorted by namespace, then name, as List orders them, without
// decoding them.
func (ix *JSONIndex) Refs(gr schema.GroupResource, namespace string) []Ref {
	list := ix.s.list(gr, namespace)
	out := make([]Ref, len(list))
	for i, e := range list {
		out[i] = ix.ref(e)
	}
	return out
}

// Ref returns the object of resource gr named name in namespace ("" for a
// cluster-scoped resource), as Get finds it, without decoding it.
func (ix *JSONIndex) Ref(gr schema.GroupResource, namespace, name string) (Ref, bool) {
	e, found := ix.s.get(gr, namespace, name)
	return ix.ref(e), found
}

func (ix *JSONIndex) ref(e sortedEntry[blob]) Ref {
	r := Ref{Namespace: e.namespace, Name: e.name, data: e.v}
	if e.v.data == nil {
		r.spool = ix.spool.Load()
	}
	return r
}

// Object returns the object r names, decoded (or from the cache of
// recently decoded objects); it must not be modified.
func (ix *JSONIndex) Object(r Ref) (*unstructured.Unstructured, error) {
	return ix.decode(r.data)
}

// JSON returns the object's JSON, as it was added (with the default
// namespace put in); it must not be modified. It is nil for an object kept
// in a spool (Spool.Encode): ReadJSON reads either.
func (r Ref) JSON() []byte { return r.data.data }

// Encoded returns the object as an Encoded of apiVersion and kind (the
// index's resource's) for another JSONIndex's AddEncoded: it shares the
// object's JSON (not to be modified) or, for an object kept in a spool, its
// place there (JSON nil; the spool must stay open while it is used).
func (r Ref) Encoded(apiVersion, kind string) Encoded {
	e := Encoded{APIVersion: apiVersion, Kind: kind, Namespace: r.Namespace, Name: r.Name, JSON: r.data.data}
	if r.data.data == nil && r.spool != nil {
		e.spooled, e.spool = r.data, r.spool
	}
	return e
}

// ReadJSON returns the object's JSON, as JSON does, read from the spool
// for an object kept in one (a new copy each call); a spool that cannot
// be read (closed: ErrSpoolClosed) is an error.
func (r Ref) ReadJSON() ([]byte, error) { return r.data.bytes(r.spool) }

// JSON returns r's JSON, as r.ReadJSON does, from the JSON of the recently
// decoded objects when it is there (no read of the spool); it must not be
// modified.
func (ix *JSONIndex) JSON(r Ref) ([]byte, error) {
	if r.data.size() > 0 {
		ix.cacheMu.Lock()
		d, ok := ix.cache[r.data.key()]
		ix.cacheMu.Unlock()
		if ok {
			return d.data, nil
		}
	}
	return r.ReadJSON()
}

// decoded is an object of the cache of recently decoded objects, with the
// JSON it was decoded from.
type decoded struct {
	obj  *unstructured.Unstructured
	data []byte
}

func (ix *JSONIndex) decode(b blob) (*unstructured.Unstructured, error) {
	if b.size() == 0 {
		return nil, errors.New("index: empty object")
	}
	key := b.key()
	ix.cacheMu.Lock()
	d, ok := ix.cache[key]
	ix.cacheMu.Unlock()
	if ok {
		return d.obj, nil
	}
	data, err := b.bytes(ix.spool.Load())
	if err != nil {
		return nil, err
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
	ix.cache[key] = decoded{obj, data}
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

func (ix *JSONIndex) decodeAll(list []sortedEntry[blob]) ([]*unstructured.Unstructured, error) {
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
	d := ix.s.derivedIndex(gr, index, func(e sortedEntry[blob]) ([]string, error) {
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
	out := make([]sortedEntry[blob], len(list))
	for i, data := range list {
		out[i].v = data
	}
	return ix.decodeAll(out)
}

var _ rigging.Lookup = (*JSONIndex)(nil)
