package rigging_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
)

var pods = schema.GroupResource{Resource: "pods"}

// TestLookupFromWithoutLookup: a context without a Lookup gives one whose
// every answer is an error matching ErrNoCluster (never ErrNotFound, never
// an empty list) that names what was asked.
func TestLookupFromWithoutLookup(t *testing.T) {
	l := rigging.LookupFrom(context.Background())
	for _, tc := range []struct {
		name string
		call func() (any, error)
		want string
	}{
		{"get", func() (any, error) { return l.Get(context.Background(), pods, "shop", "web-0") }, "pods/shop/web-0: "},
		{"list namespace", func() (any, error) { return l.List(context.Background(), pods, "shop") }, "pods: no cluster"},
		{"list all", func() (any, error) { return l.List(context.Background(), pods, "") }, "pods: no cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call()
			if !errors.Is(err, rigging.ErrNoCluster) || errors.Is(err, rigging.ErrNotFound) {
				t.Fatalf("error %v: want ErrNoCluster and not ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			switch v := got.(type) {
			case *unstructured.Unstructured:
				if v != nil {
					t.Errorf("answer %v with the error", v)
				}
			case []*unstructured.Unstructured:
				if v != nil {
					t.Errorf("answer %v with the error", v)
				}
			}
		})
	}
	if nilCtx := rigging.LookupFrom(rigging.WithLookup(context.Background(), nil)); nilCtx == nil {
		t.Fatal("LookupFrom returned nil for a nil Lookup")
	} else if _, err := nilCtx.List(context.Background(), pods, ""); !errors.Is(err, rigging.ErrNoCluster) {
		t.Errorf("nil Lookup in the context: %v, want ErrNoCluster", err)
	}
}

type reader struct{ grs []schema.GroupResource }

func (r reader) LookupResources() []schema.GroupResource { return r.grs }

func TestLookupResources(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action any
		want   []schema.GroupResource
	}{
		{"declared", reader{[]schema.GroupResource{pods}}, []schema.GroupResource{pods}},
		{"not a LookupUser", struct{}{}, nil},
		{"nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rigging.LookupResources(tc.action); !slices.Equal(got, tc.want) {
				t.Errorf("LookupResources = %v, want %v", got, tc.want)
			}
		})
	}
}
