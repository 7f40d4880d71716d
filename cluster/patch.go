package cluster

import (
	"encoding/json"
	"reflect"
)

// mergePatch returns the JSON merge patch (RFC 7386) that turns from into
// to, or nil when they are the same: keys of from missing in to are set to
// null, changed values are given whole (lists are replaced, as merge patches
// replace them), nested objects are diffed key by key.
func mergePatch(from, to map[string]any) ([]byte, error) {
	d := diffObjects(from, to)
	if len(d) == 0 {
		return nil, nil
	}
	return json.Marshal(d)
}

func diffObjects(from, to map[string]any) map[string]any {
	out := map[string]any{}
	for k := range from {
		if _, ok := to[k]; !ok {
			out[k] = nil
		}
	}
	for k, tv := range to {
		fv, ok := from[k]
		if !ok {
			out[k] = tv
			continue
		}
		fm, fok := fv.(map[string]any)
		tm, tok := tv.(map[string]any)
		if fok && tok {
			if d := diffObjects(fm, tm); len(d) > 0 {
				out[k] = d
			}
			continue
		}
		if !reflect.DeepEqual(fv, tv) {
			out[k] = tv
		}
	}
	return out
}
