package rigginghost

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
)

// benchPod is the ~2 KiB pod of external's BenchmarkBackupItemActionExecute.
func benchPod(b *testing.B) *unstructured.Unstructured {
	u := pod("web-0")
	var containers []any
	for i := range 7 {
		containers = append(containers, map[string]any{
			"name": fmt.Sprintf("c%d", i), "image": "registry.example.com/team/app:v1.2.3",
			"env":          []any{map[string]any{"name": "MODE", "value": "production"}, map[string]any{"name": "LOG", "value": "json"}},
			"volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/var/lib/app"}},
			"resources":    map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}},
		})
	}
	u.Object["spec"] = map[string]any{"containers": containers, "nodeName": "node-1", "serviceAccountName": "web",
		"volumes": []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data-web-0"}}}}
	if j, _ := json.Marshal(u.Object); len(j) < 1800 || len(j) > 2300 {
		b.Fatalf("bench pod is %d bytes", len(j))
	}
	return u
}

// BenchmarkVeleroFrameworkExecute: BackupItemAction Execute on the ~2 KiB
// pod through a plugin built on Velero's framework, driven by rigging's host.
func BenchmarkVeleroFrameworkExecute(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "veleroplugin"), "../veleroplugin").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	cat, err := external.Discover(ctx, external.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	v, err := cat.Open(ctx, rigging.KindBackupItemAction, "interop.rigging.dev/bia")
	if err != nil {
		b.Fatal(err)
	}
	a := v.(rigging.BackupItemAction)
	item, bk := benchPod(b), &rigging.Backup{}
	bk.Name = "b1"
	if _, err := a.AppliesTo(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.Execute(ctx, item, bk); err != nil {
			b.Fatal(err)
		}
	}
}
