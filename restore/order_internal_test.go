package restore

import (
	"slices"
	"testing"
)

// TestAcrossNamespaces: the writes of a batch start one namespace after
// the other, each namespace's objects in order; the batch itself (the
// settle order) is left as it is.
func TestAcrossNamespaces(t *testing.T) {
	mk := func(targets ...string) []*pending {
		var out []*pending
		for i, ns := range targets {
			out = append(out, &pending{target: ns, k: itemKey{name: string(rune('a' + i))}})
		}
		return out
	}
	names := func(ps []*pending) string {
		var b []byte
		for _, p := range ps {
			b = append(b, p.target[0], p.k.name[0], ' ')
		}
		return string(b)
	}
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{nil, ""},
		{[]string{"x", "x", "x"}, "xa xb xc "},
		{[]string{"x", "x", "y", "y", "y", "z"}, "xa yc zf xb yd ye "},
	} {
		batch := mk(tc.targets...)
		before := slices.Clone(batch)
		got := acrossNamespaces(batch)
		if s := names(got); s != tc.want {
			t.Errorf("%q: %q, want %q", tc.targets, s, tc.want)
		}
		if !slices.Equal(batch, before) {
			t.Errorf("%q: the batch was reordered", tc.targets)
		}
	}
}
