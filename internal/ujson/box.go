package ujson

import "unsafe"

// Boxing a string or an int64 in an interface normally allocates one small
// object per value, which is a third of the allocations of decoding a
// Kubernetes object. The decoder instead stores such values in slabs (one
// allocation per many values) and builds interfaces that point at the slab
// slots, as the runtime itself lays them out: a type word and a pointer to
// the value. A slot is written once, before its interface exists, and never
// again, so the interfaces behave exactly like ordinarily boxed values
// (type switches, assertions, reflect, equality); the garbage collector
// follows the interior pointer and keeps the slab alive while any of them
// is reachable.

// eface is the layout of an empty interface value.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	stringType = typeWord("")
	int64Type  = typeWord(int64(0))
	sliceType  = typeWord([]any(nil))
)

// pack returns the interface of dynamic type typ whose value is *data; typ
// must be the type word of a non-pointer-shaped type (string, int64,
// []any), and
// *data must never change afterwards.
func pack(typ, data unsafe.Pointer) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ = typ
	e.data = data
	return v
}

// slab hands out write-once slots in chunks; the chunks are not reused.
type slab[T any] struct {
	free []T // a chunk's unused tail
	next int // size of the next chunk
}

func (s *slab[T]) slot(v T) unsafe.Pointer {
	if len(s.free) == 0 {
		n := max(s.next, 8)
		s.free = make([]T, n)
		s.next = min(2*n, 4096)
	}
	p := &s.free[0]
	*p = v
	s.free = s.free[1:]
	return unsafe.Pointer(p)
}

// maxSlabSlice is the longest array whose elements come from a slab.
const maxSlabSlice = 64

// slice returns a zeroed slice of n elements whose capacity is n, so that
// appending to it never writes into a neighbour's elements.
func (s *slab[T]) slice(n int) []T {
	if n > maxSlabSlice {
		return make([]T, n)
	}
	if len(s.free) < n {
		s.free = make([]T, max(s.next, n, 8))
		s.next = min(2*len(s.free), 4096)
	}
	a := s.free[:n:n]
	s.free = s.free[n:]
	return a
}
