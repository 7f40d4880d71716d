package manager

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// benchPodJSON is a realistic running pod as a live cluster returns it:
// labels, annotations, two containers, a PVC volume, a projected token volume
// and a status. It is about 2 KiB of JSON.
const benchPodJSON = `{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "web-7c9f8d6b5-x2k4p", "namespace": "shop", "uid": "0b6f2a4e-3c1d-4e8b-9f7a-5d2c1b0a9e8f",
    "resourceVersion": "184467", "creationTimestamp": "2026-11-20T09:14:03Z",
    "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop", "pod-template-hash": "7c9f8d6b5", "tier": "frontend"},
    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9113"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9f8d6b5", "uid": "7e1d2c3b-4a59-4687-b8c9-d0e1f2a3b4c5", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {
    "containers": [
      {"name": "nginx", "image": "nginx:1.27.3", "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
       "volumeMounts": [{"name": "content", "mountPath": "/usr/share/nginx/html"}, {"name": "kube-api-access-8xq2d", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]},
      {"name": "exporter", "image": "nginx/nginx-prometheus-exporter:1.3.0",
       "ports": [{"containerPort": 9113, "name": "metrics", "protocol": "TCP"}]}
    ],
    "volumes": [
      {"name": "content", "persistentVolumeClaim": {"claimName": "web-content"}},
      {"name": "cache", "persistentVolumeClaim": {"claimName": "web-cache"}},
      {"name": "kube-api-access-8xq2d", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}
    ],
    "nodeName": "ip-10-0-3-17.eu-west-1.compute.internal", "serviceAccountName": "web", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"
  },
  "status": {
    "phase": "Running", "podIP": "10.0.3.142", "hostIP": "10.0.3.17", "qosClass": "Burstable", "startTime": "2026-11-20T09:14:03Z",
    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T09:14:09Z"}],
    "containerStatuses": [
      {"name": "nginx", "ready": true, "restartCount": 0, "image": "docker.io/library/nginx:1.27.3", "state": {"running": {"startedAt": "2026-11-20T09:14:06Z"}}},
      {"name": "exporter", "ready": true, "restartCount": 0, "image": "docker.io/nginx/nginx-prometheus-exporter:1.3.0", "state": {"running": {"startedAt": "2026-11-20T09:14:07Z"}}}
    ]
  }
}`

func benchPod(tb testing.TB) *unstructured.Unstructured {
	tb.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(benchPodJSON), &obj); err != nil {
		tb.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// podClaimsAction is what Velero's velero.io/pod BackupItemAction does: it
// names the claims the pod mounts as additional items. It reads the item in
// place, without copying it.
type podClaimsAction struct{}

func (podClaimsAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"pods"}}, nil
}

func (podClaimsAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	spec, _ := item.Object["spec"].(map[string]any)
	vols, _ := spec["volumes"].([]any)
	var out []rigging.ResourceIdentifier
	for _, v := range vols {
		vol, _ := v.(map[string]any)
		pvc, ok := vol["persistentVolumeClaim"].(map[string]any)
		if !ok {
			continue
		}
		claim, _ := pvc["claimName"].(string)
		if out == nil {
			out = make([]rigging.ResourceIdentifier, 0, len(vols))
		}
		out = append(out, rigging.ResourceIdentifier{
			GroupResource: schema.GroupResource{Resource: "persistentvolumeclaims"},
			Namespace:     item.GetNamespace(), Name: claim,
		})
	}
	return item, out, nil
}

func BenchmarkExecute(b *testing.B) {
	item := benchPod(b)
	if n, _ := json.Marshal(item.Object); len(n) < 1792 || len(n) > 2304 {
		b.Fatalf("pod item is %d bytes of JSON, want about 2 KiB", len(n))
	}
	backup := &rigging.Backup{}
	backup.Name = "nightly"
	ctx := context.Background()

	run := func(b *testing.B, a rigging.BackupItemAction) {
		b.ReportAllocs()
		for b.Loop() {
			_, add, err := a.Execute(ctx, item, backup)
			if err != nil || len(add) != 2 {
				b.Fatalf("Execute = %v, %v", add, err)
			}
		}
	}

	b.Run("direct", func(b *testing.B) { run(b, podClaimsAction{}) })

	b.Run("manager", func(b *testing.B) {
		reg := registry.New()
		registry.RegisterIn(reg, "velero.io/pod", func(*slog.Logger) (rigging.BackupItemAction, error) { return podClaimsAction{}, nil })
		m := New(Options{
			Registry: reg,
			Metrics:  prometheus.NewRegistry(),
			Logger:   slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		})
		defer m.Close()
		a, err := m.BackupItemAction(ctx, "pod")
		if err != nil {
			b.Fatal(err)
		}
		run(b, a)
	})
}

// noopAction returns at once: through the Manager, all that is measured is
// the middleware.
type noopAction struct{}

func (noopAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

func (noopAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	return item, nil, nil
}

// BenchmarkMiddleware isolates the Manager's per-call cost on an action that
// does nothing.
func BenchmarkMiddleware(b *testing.B) {
	item := benchPod(b)
	ctx := context.Background()
	run := func(b *testing.B, a rigging.BackupItemAction) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := a.Execute(ctx, item, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, noopAction{}) })
	b.Run("manager", func(b *testing.B) {
		reg := registry.New()
		registry.RegisterIn(reg, "velero.io/noop", func(*slog.Logger) (rigging.BackupItemAction, error) { return noopAction{}, nil })
		m := New(Options{Registry: reg, Metrics: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		defer m.Close()
		a, err := m.BackupItemAction(ctx, "noop")
		if err != nil {
			b.Fatal(err)
		}
		run(b, a)
	})
}

var (
	sinkDuration time.Duration
	sinkCtx      *callCtx
)

// BenchmarkFloor measures what the middleware cannot avoid on this machine:
// the two monotonic clock reads (start and end, for the duration histogram)
// and the one allocation (the deadline context).
func BenchmarkFloor(b *testing.B) {
	b.Run("clock-read", func(b *testing.B) {
		for b.Loop() {
			sinkDuration = monotonic()
		}
	})
	b.Run("deadline-context-alloc", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			sinkCtx = &callCtx{parent: ctx, deadline: time.Hour}
		}
	})
}

// BenchmarkOverhead estimates the Manager's cost per Execute on a loaded,
// noisy machine: it alternates batches of direct and Manager calls on the
// pod item and keeps the fastest batch of each, which filters out the
// preemptions and frequency changes that dominate the plain means.
func BenchmarkOverhead(b *testing.B) {
	item := benchPod(b)
	backup := &rigging.Backup{}
	ctx := context.Background()
	reg := registry.New()
	registry.RegisterIn(reg, "velero.io/pod", func(*slog.Logger) (rigging.BackupItemAction, error) { return podClaimsAction{}, nil })
	m := New(Options{Registry: reg, Metrics: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	defer m.Close()
	managed, err := m.BackupItemAction(ctx, "pod")
	if err != nil {
		b.Fatal(err)
	}
	const batch = 2000
	fastest := func(a rigging.BackupItemAction, best float64) float64 {
		start := time.Now()
		for range batch {
			if _, _, err := a.Execute(ctx, item, backup); err != nil {
				b.Fatal(err)
			}
		}
		return min(best, float64(time.Since(start).Nanoseconds())/batch)
	}
	// The floor, measured the same way: one monotonic clock read and one
	// deadline-context allocation (the middleware does two and one).
	floor := func(f func(), best float64) float64 {
		start := time.Now()
		for range batch {
			f()
		}
		return min(best, float64(time.Since(start).Nanoseconds())/batch)
	}
	readClock := func() { sinkDuration = monotonic() }
	allocCtx := func() { sinkCtx = &callCtx{parent: ctx, deadline: time.Hour} }
	direct, manager, clock, alloc := math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)
	for b.Loop() {
		direct = fastest(podClaimsAction{}, direct)
		manager = fastest(managed, manager)
		clock = floor(readClock, clock)
		alloc = floor(allocCtx, alloc)
	}
	b.ReportMetric(direct, "direct-ns/call")
	b.ReportMetric(manager, "manager-ns/call")
	b.ReportMetric(manager-direct, "overhead-ns/call")
	b.ReportMetric(clock, "clock-read-ns")
	b.ReportMetric(alloc, "ctx-alloc-ns")
}
