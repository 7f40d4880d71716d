package resources

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// sorted is what Index and JSONIndex have in common: values (an object,
// or its JSON) per group resource, sorted by namespace and name without
// duplicates, and the secondary indexes built on them. It is safe for
// concurrent use.
type sorted[V any] struct {
	mu   sync.RWMutex
	byGR map[schema.GroupResource][]sortedEntry[V]
	// gen counts the adds; derived holds the secondary indexes
	// (ListByIndex) built since the last one.
	gen     uint64
	derived map[derivedKey]*derivedOf[V]
}

// sortedEntry is one value, with its namespace ("" when cluster-scoped) and name.
type sortedEntry[V any] struct {
	namespace, name string
	v               V
}

// keyed is an entry with its group resource, as add takes it.
type keyed[V any] struct {
	gr schema.GroupResource
	sortedEntry[V]
}

func compareEntry[V any](a sortedEntry[V], ns, name string) int {
	return cmp.Or(cmp.Compare(a.namespace, ns), cmp.Compare(a.name, name))
}

// add puts batch in: an entry with the key of one already there replaces
// it, the last of equal keys in batch winning. The secondary indexes are
// dropped.
func (s *sorted[V]) add(batch []keyed[V]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byGR == nil {
		s.byGR = map[schema.GroupResource][]sortedEntry[V]{}
	}
	s.gen++
	s.derived = nil
	touched := map[schema.GroupResource]bool{}
	for _, k := range batch {
		s.byGR[k.gr] = append(s.byGR[k.gr], k.sortedEntry)
		touched[k.gr] = true
	}
	// Sorted once per resource, stably (equal keys keep their order), then
	// the last of equal keys kept.
	for gr := range touched {
		list := s.byGR[gr]
		slices.SortStableFunc(list, func(a, b sortedEntry[V]) int { return compareEntry(a, b.namespace, b.name) })
		out := list[:0]
		for i, e := range list {
			if i+1 < len(list) && compareEntry(list[i+1], e.namespace, e.name) == 0 {
				continue
			}
			out = append(out, e)
		}
		clear(list[len(out):])
		s.byGR[gr] = out
	}
}

// generation returns how many adds ran so far.
func (s *sorted[V]) generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// len returns the number of entries.
func (s *sorted[V]) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, l := range s.byGR {
		n += len(l)
	}
	return n
}

// get returns the entry of gr named name in namespace.
func (s *sorted[V]) get(gr schema.GroupResource, namespace, name string) (sortedEntry[V], bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byGR[gr]
	i, found := slices.BinarySearchFunc(list, name, func(a sortedEntry[V], name string) int { return compareEntry(a, namespace, name) })
	if !found {
		return sortedEntry[V]{}, false
	}
	return list[i], true
}

// list returns (a copy of) the entries of gr in namespace ("" for all),
// in order.
func (s *sorted[V]) list(gr schema.GroupResource, namespace string) []sortedEntry[V] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byGR[gr]
	if namespace != "" {
		lo, _ := slices.BinarySearchFunc(list, namespace, func(a sortedEntry[V], ns string) int { return cmp.Compare(a.namespace, ns) })
		hi := lo
		for hi < len(list) && list[hi].namespace == namespace {
			hi++
		}
		list = list[lo:hi]
	}
	if len(list) == 0 {
		return nil
	}
	return slices.Clone(list)
}

// derivedOf is a secondary index of one resource: the values per indexed
// value, in the primary order, with and without their namespace.
type derivedOf[V any] struct {
	byNamespace map[nsValue][]V
	byValue     map[string][]V
	// failed holds the entries fn failed on, in order, with fn's error.
	failed []failedObject
}

// lookup returns the values of the index for value in namespace ("" for
// all), or the error fn gave for the first entry of namespace it failed on.
func (d *derivedOf[V]) lookup(namespace, value string) ([]V, error) {
	for _, f := range d.failed {
		if namespace == "" || f.namespace == namespace {
			return nil, f.err
		}
	}
	if namespace == "" {
		return d.byValue[value], nil
	}
	return d.byNamespace[nsValue{namespace, value}], nil
}

// derivedIndex returns the secondary index named index of gr, building it
// from fn (called outside the lock, once per entry of gr) when an add ran
// since it was last built.
func (s *sorted[V]) derivedIndex(gr schema.GroupResource, index string, fn func(sortedEntry[V]) ([]string, error)) *derivedOf[V] {
	k := derivedKey{gr, index}
	s.mu.RLock()
	d, ok := s.derived[k]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return d
	}
	list := s.list(gr, "")
	d = &derivedOf[V]{byNamespace: map[nsValue][]V{}, byValue: map[string][]V{}}
	for _, e := range list {
		values, err := fn(e)
		if err != nil {
			d.failed = append(d.failed, failedObject{namespace: e.namespace, err: err})
			continue
		}
		for i, v := range values {
			if slices.Contains(values[:i], v) {
				continue // an entry is listed once per value
			}
			v = strings.Clone(v) // a value fn read from a decoded object would keep all of its memory
			nk := nsValue{e.namespace, v}
			d.byNamespace[nk] = append(d.byNamespace[nk], e.v)
			d.byValue[v] = append(d.byValue[v], e.v)
		}
	}
	s.mu.Lock()
	// Kept only if no add ran meanwhile; a concurrent builder of the same
	// index may have stored an equal one first.
	if s.gen == gen {
		if s.derived == nil {
			s.derived = map[derivedKey]*derivedOf[V]{}
		}
		s.derived[k] = d
	}
	s.mu.Unlock()
	return d
}
