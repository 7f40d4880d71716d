package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"pod", "pod", 0},
		{"pod", "podd", 1},
		{"pod", "pd", 1},
		{"pod", "pxd", 1},
		{"kitten", "sitting", 3},
		{"velero.io/change-storage-clas", "velero.io/change-storage-class", 1},
		{"héllo", "hello", 1}, // runes, not bytes
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestClosestNames(t *testing.T) {
	known := []string{"velero.io/pod", "velero.io/pv", "velero.io/pvc", "velero.io/service", "velero.io/change-storage-class", "velero.io/change-image-name", "velero.io/pod"}
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"velero.io/podd", []string{"velero.io/pod"}},
		{"velero.io/pvcc", []string{"velero.io/pvc", "velero.io/pv"}},
		{"velero.io/change-storage-clas", []string{"velero.io/change-storage-class"}},
		{"velero.io/servce", []string{"velero.io/service"}},
		{"example.com/something-else", nil},
		{"velero.io/pod", []string{"velero.io/pod", "velero.io/pv", "velero.io/pvc"}}, // exact first, duplicates once
	} {
		if got := closestNames(tt.name, known); !slices.Equal(got, tt.want) {
			t.Errorf("closestNames(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := didYouMean([]string{"a", "b"}); got != ` (closest known: "a", "b")` {
		t.Errorf("didYouMean = %q", got)
	}
	if got := didYouMean(nil); got != "" {
		t.Errorf("didYouMean(nil) = %q, want nothing", got)
	}
	if s := strings.Repeat("x", 3); closestNames(s, []string{"y"}) != nil {
		t.Errorf("a name 3 edits away from a 3-rune name is no suggestion")
	}
}
