package backup_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/backup"
)

// TestPodHooksNotRun: every exec hook a pod's annotations ask for is a
// warning naming the hook, its phase, the pod and the container (the
// pod's first one when the annotations name none), as Velero reads them.
func TestPodHooksNotRun(t *testing.T) {
	pod := func(ann map[string]string) *unstructured.Unstructured {
		p := obj("v1", "Pod", "app", "db-0", nil)
		p.SetAnnotations(ann)
		_ = unstructured.SetNestedSlice(p.Object, []any{map[string]any{"name": "postgres"}, map[string]any{"name": "sidecar"}}, "spec", "containers")
		return p
	}
	tests := []struct {
		name string
		ann  map[string]string
		want []string // one line per warning, each holding these words
	}{
		{"none", nil, nil},
		{"pre and post", map[string]string{
			"pre.hook.backup.velero.io/container": "sidecar", "pre.hook.backup.velero.io/command": `["/bin/sh","-c","sync"]`,
			"post.hook.backup.velero.io/command": "/resume",
		}, []string{`pre hook <from-annotation> not run in container "sidecar" of pod app/db-0: rigging runs no pod exec hooks (no kubelet to exec in); command ["/bin/sh" "-c" "sync"]`,
			`post hook <from-annotation> not run in container "postgres" of pod app/db-0: rigging runs no pod exec hooks (no kubelet to exec in); command ["/resume"]`}},
		{"legacy keys are a pre hook", map[string]string{"hook.backup.velero.io/command": "/flush"},
			[]string{`pre hook <from-annotation> not run in container "postgres" of pod app/db-0: rigging runs no pod exec hooks (no kubelet to exec in); command ["/flush"]`}},
		{"phase keys win over legacy ones", map[string]string{"hook.backup.velero.io/command": "/old", "pre.hook.backup.velero.io/command": "/new"},
			[]string{`pre hook <from-annotation> not run in container "postgres" of pod app/db-0: rigging runs no pod exec hooks (no kubelet to exec in); command ["/new"]`}},
		{"container without command", map[string]string{"pre.hook.backup.velero.io/container": "postgres"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sum, err := run(t, backup.Options{Items: []*unstructured.Unstructured{obj("v1", "Namespace", "", "app", nil), pod(tt.ann)}})
			if err != nil {
				t.Fatal(err)
			}
			got := sum.Results.Warnings.Namespaces["app"]
			if len(got) != len(tt.want) || sum.Backup.Status.Warnings != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
			if sum.Backup.Status.Progress.ItemsBackedUp != 2 {
				t.Errorf("%d items backed up, want the pod and its namespace", sum.Backup.Status.Progress.ItemsBackedUp)
			}
		})
	}
}
