package actiontest

import (
	"context"
	"errors"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

func TestClusterExport(t *testing.T) {
	objs := ClusterExport(t)
	if len(objs) != 131 {
		t.Fatalf("got %d objects, the README says 131", len(objs))
	}
	l := NewLookup(objs...)
	ctx := context.Background()
	pods, err := l.List(ctx, kube.Pods, "shop")
	if err != nil || len(pods) == 0 {
		t.Fatalf("List pods in shop: %d, %v", len(pods), err)
	}
	if _, err := l.Get(ctx, kube.PriorityClasses, "", "shop-critical"); err != nil {
		t.Fatalf("Get priorityclass shop-critical: %v", err)
	}
	if _, err := l.Get(ctx, kube.ClusterRoleBindings, "", "nope"); !errors.Is(err, rigging.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}
	crbs, _ := l.List(ctx, kube.ClusterRoleBindings, "")
	if len(crbs) != 5 {
		t.Fatalf("got %d clusterrolebindings, want 5", len(crbs))
	}
}
