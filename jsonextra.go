package rigging

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Unknown holds the JSON members of an object that its Go type does not
// declare, so that a decode followed by an encode loses nothing: a Backup
// written by a newer Velero keeps its new fields when rigging rewrites it.
type Unknown map[string]json.RawMessage

// knownKeys caches, per struct type, the JSON member names its fields declare.
var knownKeys sync.Map // reflect.Type -> map[string]bool

func keysOf(t reflect.Type) map[string]bool {
	if v, ok := knownKeys.Load(t); ok {
		return v.(map[string]bool)
	}
	keys := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			keys[name] = true
		}
	}
	walk(t)
	knownKeys.Store(t, keys)
	return keys
}

// decodeKeepingUnknown decodes data into v (a pointer to a struct whose type
// has no UnmarshalJSON of its own) and stores the members v's type does not
// declare in *unknown.
func decodeKeepingUnknown(data []byte, v any, unknown *Unknown) error {
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	*unknown = nil
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	known := keysOf(reflect.TypeOf(v).Elem())
	for k, raw := range all {
		// encoding/json matches member names case-insensitively; so must we,
		// or a member it decoded would also be kept as unknown.
		if known[k] || knownFold(known, k) {
			continue
		}
		if *unknown == nil {
			*unknown = Unknown{}
		}
		(*unknown)[k] = raw
	}
	return nil
}

func knownFold(known map[string]bool, k string) bool {
	for name := range known {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// encodeWithUnknown encodes v (a struct value whose type has no MarshalJSON
// of its own) and appends the members of unknown that v does not already
// encode, in sorted order, keeping v's own member order.
func encodeWithUnknown(v any, unknown Unknown) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(unknown) == 0 {
		return b, err
	}
	known := keysOf(reflect.TypeOf(v))
	names := make([]string, 0, len(unknown))
	for k := range unknown {
		if !known[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := bytes.NewBuffer(make([]byte, 0, len(b)+64*len(names)))
	out.Write(b[:len(b)-1]) // drop the closing brace
	first := len(b) == 2    // "{}"
	for _, k := range names {
		if !first {
			out.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(unknown[k])
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
