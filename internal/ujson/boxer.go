package ujson

// Boxer boxes strings and int64s in interfaces as the decoder does, from
// slabs (see box.go): one allocation per many values instead of one per
// value. It is for other decoders that build the same trees (the manifest
// reader's YAML decoder). The zero Boxer is ready to use; a Boxer is not
// safe for concurrent use.
type Boxer struct {
	strs slab[string]
	ints slab[int64]
}

// String returns s in an interface.
func (b *Boxer) String(s string) any { return pack(stringType, b.strs.slot(s)) }

// Int64 returns n in an interface.
func (b *Boxer) Int64(n int64) any { return pack(int64Type, b.ints.slot(n)) }
