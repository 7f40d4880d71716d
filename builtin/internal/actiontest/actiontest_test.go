package actiontest

import (
	"context"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
)

func TestClusterExport(t *testing.T) {
	objs := ClusterExport(t)
	if len(objs) != 131 {
		t.Fatalf("got %d objects, the README says 131", len(objs))
	}
	ctx := Context(objs...)
	l := rigging.LookupFrom(ctx)
	if pods, err := l.List(ctx, kube.Pods, ""); err != nil || len(pods) != 15 {
		t.Errorf("List pods: %d, %v; want 15", len(pods), err)
	}
	if crbs, err := l.List(ctx, kube.ClusterRoleBindings, ""); err != nil || len(crbs) != 5 {
		t.Errorf("List clusterrolebindings: %d, %v; want 5", len(crbs), err)
	}
	if _, err := l.Get(context.Background(), kube.PriorityClasses, "", "shop-critical"); err != nil {
		t.Errorf("Get priorityclass shop-critical: %v", err)
	}
}
