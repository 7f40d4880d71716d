package external

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/registry"
)

// benchPod is a pod of about 2 KiB of JSON, like a small real pod.
func benchPod(b *testing.B) *unstructured.Unstructured {
	u := pod("web-0", 0)
	containers := []any{}
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
	j, _ := json.Marshal(u.Object)
	if len(j) < 1800 || len(j) > 2300 {
		b.Fatalf("bench pod is %d bytes, want about 2 KiB", len(j))
	}
	return u
}

// BenchmarkBackupItemActionExecute compares BackupItemAction.Execute on a
// ~2 KiB pod in-process and through a rigging plugin subprocess.
func BenchmarkBackupItemActionExecute(b *testing.B) {
	ctx := context.Background()
	item, bk := benchPod(b), backup()
	run := func(b *testing.B, a rigging.BackupItemAction) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := a.Execute(ctx, item, bk); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("inproc", func(b *testing.B) {
		reg := registry.New()
		testplugin.Register(reg)
		e, _ := reg.Lookup(rigging.KindBackupItemAction, testplugin.BIA)
		v, err := e.New(slog.Default())
		if err != nil {
			b.Fatal(err)
		}
		run(b, v.(rigging.BackupItemAction))
	})
	for _, mode := range []struct {
		name string
		mtls bool
	}{{"subprocess", false}, {"subprocess-mtls", true}} {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			bin, _ := os.ReadFile(pluginBin)
			os.WriteFile(dir+"/testplugin", bin, 0o755)
			c, err := Discover(ctx, Options{Dir: dir, Logger: slog.New(slog.DiscardHandler), AutoMTLS: mode.mtls})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			v, err := c.Open(ctx, rigging.KindBackupItemAction, testplugin.BIA)
			if err != nil {
				b.Fatal(err)
			}
			a := v.(rigging.BackupItemAction)
			if _, err := a.AppliesTo(ctx); err != nil { // start the process outside the timing
				b.Fatal(err)
			}
			run(b, a)
		})
	}
}
