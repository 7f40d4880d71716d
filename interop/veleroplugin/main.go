// Command veleroplugin is a plugin built on Velero's own framework
// (pkg/plugin/framework), registering one plugin of every kind with
// behaviour the interop tests predict. Items steer the actions by
// metadata.name: "panic" panics, "error" returns a cockroachdb error (which
// carries a stack); anything else gets annotation interop.rigging.dev/seen.
package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/plugin/framework"
	"github.com/vmware-tanzu/velero/pkg/plugin/velero"
)

func main() {
	framework.NewServer().
		RegisterObjectStore("interop.rigging.dev/store", func(logrus.FieldLogger) (any, error) { return &store{objects: map[string][]byte{}}, nil }).
		RegisterVolumeSnapshotter("interop.rigging.dev/snapshotter", func(logrus.FieldLogger) (any, error) { return &snapshotter{}, nil }).
		RegisterBackupItemAction("interop.rigging.dev/bia", func(logrus.FieldLogger) (any, error) { return bia{}, nil }).
		RegisterBackupItemActionV2("interop.rigging.dev/bia-v2", func(logrus.FieldLogger) (any, error) { return biaV2{}, nil }).
		RegisterRestoreItemAction("interop.rigging.dev/ria", func(logrus.FieldLogger) (any, error) { return ria{}, nil }).
		RegisterRestoreItemActionV2("interop.rigging.dev/ria-v2", func(logrus.FieldLogger) (any, error) { return riaV2{}, nil }).
		RegisterDeleteItemAction("interop.rigging.dev/dia", func(logrus.FieldLogger) (any, error) { return dia{}, nil }).
		RegisterItemBlockAction("interop.rigging.dev/iba", func(logrus.FieldLogger) (any, error) { return iba{}, nil }).
		Serve()
}

var selector = velero.ResourceSelector{IncludedNamespaces: []string{"ns1"}, IncludedResources: []string{"pods"}, LabelSelector: "app=web"}

var pvc = velero.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "persistentvolumeclaims"}, Namespace: "ns1", Name: "data"}

func steer(item runtime.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: item.UnstructuredContent()}
	switch u.GetName() {
	case "panic":
		panic("velero plugin asked to panic")
	case "error":
		return nil, errors.New("velero plugin asked to fail")
	}
	out := u.DeepCopy()
	a := out.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["interop.rigging.dev/seen"] = "velero"
	out.SetAnnotations(a)
	return out, nil
}

type bia struct{}

func (bia) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (bia) Execute(item runtime.Unstructured, b *api.Backup) (runtime.Unstructured, []velero.ResourceIdentifier, error) {
	out, err := steer(item)
	if err != nil {
		return nil, nil, err
	}
	if out.GetName() == "unchanged" {
		return nil, nil, nil
	}
	out.SetLabels(map[string]string{"backup": b.Name})
	return out, []velero.ResourceIdentifier{pvc}, nil
}

type biaV2 struct{}

func (biaV2) Name() string                                { return "interop.rigging.dev/bia-v2" }
func (biaV2) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (biaV2) Execute(item runtime.Unstructured, _ *api.Backup) (runtime.Unstructured, []velero.ResourceIdentifier, string, []velero.ResourceIdentifier, error) {
	out, err := steer(item)
	if err != nil {
		return nil, nil, "", nil, err
	}
	return out, []velero.ResourceIdentifier{pvc}, "op-" + out.GetName(), []velero.ResourceIdentifier{pvc}, nil
}
func (biaV2) Progress(id string, b *api.Backup) (velero.OperationProgress, error) {
	if !strings.HasPrefix(id, "op-") {
		return velero.OperationProgress{}, fmt.Errorf("operation ID %v is invalid", id)
	}
	return velero.OperationProgress{Completed: true, NCompleted: 3, NTotal: 3, OperationUnits: "bytes", Description: "done for " + b.Name,
		Started: time.Unix(1700000000, 0), Updated: time.Unix(1700000060, 0)}, nil
}
func (biaV2) Cancel(string, *api.Backup) error { return nil }

type ria struct{}

func (ria) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (ria) Execute(in *velero.RestoreItemActionExecuteInput) (*velero.RestoreItemActionExecuteOutput, error) {
	out, err := steer(in.Item)
	if err != nil {
		return nil, err
	}
	return &velero.RestoreItemActionExecuteOutput{UpdatedItem: out, AdditionalItems: []velero.ResourceIdentifier{pvc}, SkipRestore: out.GetName() == "skip"}, nil
}

type riaV2 struct{}

func (riaV2) Name() string                                { return "interop.rigging.dev/ria-v2" }
func (riaV2) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (riaV2) Execute(in *velero.RestoreItemActionExecuteInput) (*velero.RestoreItemActionExecuteOutput, error) {
	out, err := steer(in.Item)
	if err != nil {
		return nil, err
	}
	return &velero.RestoreItemActionExecuteOutput{UpdatedItem: out, AdditionalItems: []velero.ResourceIdentifier{pvc},
		OperationID: "op-" + out.GetName(), WaitForAdditionalItems: true, AdditionalItemsReadyTimeout: 90 * time.Second}, nil
}
func (riaV2) Progress(_ string, r *api.Restore) (velero.OperationProgress, error) {
	return velero.OperationProgress{NCompleted: 1, NTotal: 2, Description: "restoring " + r.Name}, nil
}
func (riaV2) Cancel(string, *api.Restore) error { return nil }
func (riaV2) AreAdditionalItemsReady(items []velero.ResourceIdentifier, _ *api.Restore) (bool, error) {
	return slices.Contains(items, pvc), nil
}

type dia struct{}

func (dia) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (dia) Execute(in *velero.DeleteItemActionExecuteInput) error {
	if in.Backup == nil || in.Backup.Name == "" {
		return errors.New("delete action needs the backup")
	}
	_, err := steer(in.Item)
	return err
}

type iba struct{}

func (iba) Name() string                                { return "interop.rigging.dev/iba" }
func (iba) AppliesTo() (velero.ResourceSelector, error) { return selector, nil }
func (iba) GetRelatedItems(item runtime.Unstructured, _ *api.Backup) ([]velero.ResourceIdentifier, error) {
	if _, err := steer(item); err != nil {
		return nil, err
	}
	return []velero.ResourceIdentifier{pvc}, nil
}

// store keeps objects in memory; Init requires "bucket".
type store struct {
	mu      sync.Mutex
	bucket  string
	objects map[string][]byte
}

func (s *store) Init(config map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if config["bucket"] == "" {
		return errors.New("config key bucket is required")
	}
	s.bucket = config["bucket"]
	return nil
}

func (s *store) key(bucket, key string) (string, error) {
	if s.bucket == "" {
		return "", errors.New("store not initialized")
	}
	if bucket != s.bucket {
		return "", fmt.Errorf("bucket %q is not %q", bucket, s.bucket)
	}
	return key, nil
}

func (s *store) PutObject(bucket, key string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(bucket, key)
	if err != nil {
		return err
	}
	s.objects[k] = b
	return nil
}

func (s *store) ObjectExists(bucket, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(bucket, key)
	_, ok := s.objects[k]
	return ok, err
}

func (s *store) GetObject(bucket, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(bucket, key)
	if err != nil {
		return nil, err
	}
	b, ok := s.objects[k]
	if !ok {
		return nil, fmt.Errorf("key %s not found", key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *store) ListCommonPrefixes(bucket, prefix, delimiter string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.key(bucket, ""); err != nil {
		return nil, err
	}
	var out []string
	for k := range s.objects {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.Index(rest, delimiter); i >= 0 && !slices.Contains(out, prefix+rest[:i+len(delimiter)]) {
				out = append(out, prefix+rest[:i+len(delimiter)])
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *store) ListObjects(bucket, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.key(bucket, ""); err != nil {
		return nil, err
	}
	var out []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *store) DeleteObject(bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(bucket, key)
	delete(s.objects, k)
	return err
}

func (s *store) CreateSignedURL(bucket, key string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("mem://%s/%s?ttl=%d", bucket, key, int64(ttl)), nil
}

type snapshotter struct{ zone string }

func (s *snapshotter) Init(config map[string]string) error { s.zone = config["zone"]; return nil }
func (s *snapshotter) CreateVolumeFromSnapshot(snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	n := "unset"
	if iops != nil {
		n = fmt.Sprint(*iops)
	}
	return fmt.Sprintf("vol-from-%s-%s-%s-%s", snapshotID, volumeType, volumeAZ, n), nil
}
func (s *snapshotter) GetVolumeInfo(volumeID, _ string) (string, *int64, error) {
	if volumeID == "no-iops" {
		return "gp3", nil, nil
	}
	n := int64(3000)
	return "io2", &n, nil
}
func (s *snapshotter) CreateSnapshot(volumeID, volumeAZ string, tags map[string]string) (string, error) {
	return fmt.Sprintf("snap-%s-%s-%s-%s", volumeID, volumeAZ, tags["backup"], s.zone), nil
}
func (s *snapshotter) DeleteSnapshot(string) error { return nil }
func (s *snapshotter) GetVolumeID(pv runtime.Unstructured) (string, error) {
	id, _, err := unstructured.NestedString(pv.UnstructuredContent(), "spec", "csi", "volumeHandle")
	return id, err
}
func (s *snapshotter) SetVolumeID(pv runtime.Unstructured, volumeID string) (runtime.Unstructured, error) {
	out := (&unstructured.Unstructured{Object: pv.UnstructuredContent()}).DeepCopy()
	return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle")
}
