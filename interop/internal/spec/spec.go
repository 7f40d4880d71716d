// Package spec is the behaviour every interop test plugin implements, written
// once so that the plugins built on Velero's framework and on rigging's SDK
// behave identically and the tests can predict every answer.
//
// It imports no gRPC code and neither Velero nor rigging, so both sides of the
// interop tests link it: the plugins compute their answers with it, and the
// hosts compute the expected answers with it.
package spec

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Short names of the test plugins, one per kind. The fully qualified name is
// Domain + "/" + short name, with a domain per implementation so that both
// sets can sit in one Velero plugin directory without a duplicate.
const (
	ObjectStore         = "memstore"
	VolumeSnapshotter   = "snapshotter"
	BackupItemAction    = "bia"
	BackupItemActionV2  = "bia-v2"
	RestoreItemAction   = "ria"
	RestoreItemActionV2 = "ria-v2"
	DeleteItemAction    = "dia"
	ItemBlockAction     = "iba"
)

// Domains of the two implementations.
const (
	VeleroDomain  = "velero-framework.interop.rigging.dev"
	RiggingDomain = "rigging-sdk.interop.rigging.dev"
)

// Item names that trigger the failure paths of every action.
const (
	// FailName makes an action return an error carrying a stack.
	FailName = "fail"
	// PanicName makes an action panic.
	PanicName = "panic"
)

// Annotation and label keys the actions set.
const (
	AnnotationBackup = "interop.rigging.dev/backup"
	LabelRestore     = "interop.rigging.dev/restore"
	LabelSkip        = "interop.rigging.dev/skip"
)

// Fixed times of every operation's progress.
var (
	Started = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	Updated = time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)
)

// ID names a Kubernetes object (the shape of Velero's ResourceIdentifier).
type ID struct {
	Group, Resource, Namespace, Name string
}

// Selector is what every action's AppliesTo returns.
type Selector struct {
	IncludedNamespaces, ExcludedNamespaces []string
	IncludedResources, ExcludedResources   []string
	LabelSelector                          string
}

// Progress is an operation's progress.
type Progress struct {
	Completed          bool
	Err                string
	NCompleted, NTotal int64
	Units, Description string
	Started, Updated   time.Time
}

// AppliesTo returns the selector of the action with short name name. Every
// field is set, so a lost field shows.
func AppliesTo(name string) Selector {
	return Selector{
		IncludedNamespaces: []string{"ns1", "ns2"},
		ExcludedNamespaces: []string{"kube-system"},
		IncludedResources:  []string{"pods", "configmaps", "deployments.apps"},
		ExcludedResources:  []string{"secrets"},
		LabelSelector:      "app=" + name,
	}
}

// ErrInvalidOperation is what Progress and Cancel return for an operation
// ID the action did not start.
var ErrInvalidOperation = errors.New("invalid operation ID")

// Fail returns the error an action returns for an item named FailName, or
// nil. The plugins attach a stack to it.
func Fail(action string, item *unstructured.Unstructured) error {
	if item.GetName() == FailName {
		return fmt.Errorf("%s: refusing item %s/%s", action, item.GetNamespace(), item.GetName())
	}
	return nil
}

// MaybePanic panics for an item named PanicName.
func MaybePanic(action string, item *unstructured.Unstructured) {
	if item.GetName() == PanicName {
		panic(PanicMessage(action))
	}
}

// PanicMessage is the value an action panics with.
func PanicMessage(action string) string { return action + ": panicking as asked" }

// BackupExecute is what the backup item actions (v1 and v2) return for item
// in backup backupName: a copy of item with AnnotationBackup set, and the
// item's claim as an additional item.
func BackupExecute(item *unstructured.Unstructured, backupName string) (*unstructured.Unstructured, []ID) {
	out := item.DeepCopy()
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationBackup] = backupName
	out.SetAnnotations(ann)
	return out, []ID{{Resource: "persistentvolumeclaims", Namespace: item.GetNamespace(), Name: item.GetName() + "-claim"}}
}

// OperationID is the ID of the operation the v2 actions start for item.
func OperationID(prefix string, item *unstructured.Unstructured) string {
	return prefix + "-" + item.GetNamespace() + "-" + item.GetName()
}

// PostOperationItems are the items the v2 backup action names for after its
// operation.
func PostOperationItems(item *unstructured.Unstructured) []ID {
	return []ID{{Group: "apps", Resource: "deployments", Namespace: item.GetNamespace(), Name: item.GetName() + "-post"}}
}

// OperationProgress is the progress of operation id of backup or restore
// owner: complete, three of three, with fixed times; an ID that does not
// start with prefix is ErrInvalidOperation.
func OperationProgress(prefix, id, owner string) (Progress, error) {
	if !strings.HasPrefix(id, prefix+"-") {
		return Progress{}, fmt.Errorf("%w: %q", ErrInvalidOperation, id)
	}
	return Progress{
		Completed: true, NCompleted: 3, NTotal: 3, Units: "items",
		Description: "done " + id + " for " + owner,
		Started:     Started, Updated: Updated,
	}, nil
}

// CancelOperation is Cancel: nil for an ID with prefix, else ErrInvalidOperation.
func CancelOperation(prefix, id string) error {
	if !strings.HasPrefix(id, prefix+"-") {
		return fmt.Errorf("%w: %q", ErrInvalidOperation, id)
	}
	return nil
}

// Operation ID prefixes of the v2 actions.
const (
	BackupOperationPrefix  = "bop"
	RestoreOperationPrefix = "rop"
)

// RestoreOutput is a restore action's answer.
type RestoreOutput struct {
	Item                   *unstructured.Unstructured
	Additional             []ID
	Skip                   bool
	OperationID            string
	WaitForAdditionalItems bool
	ReadyTimeout           time.Duration
}

// RestoreExecute is what the restore item actions return for item (with its
// backed-up form fromBackup) in restore restoreName. v2 adds an operation,
// the wait flag and its timeout. An item labelled LabelSkip=true is skipped.
func RestoreExecute(item, fromBackup *unstructured.Unstructured, restoreName string, v2 bool) RestoreOutput {
	out := item.DeepCopy()
	lbls := out.GetLabels()
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[LabelRestore] = restoreName + "/" + fromBackup.GetResourceVersion()
	out.SetLabels(lbls)
	r := RestoreOutput{
		Item:       out,
		Additional: []ID{{Resource: "secrets", Namespace: item.GetNamespace(), Name: item.GetName() + "-secret"}},
		Skip:       item.GetLabels()[LabelSkip] == "true",
	}
	if v2 {
		r.OperationID = OperationID(RestoreOperationPrefix, item)
		r.WaitForAdditionalItems = true
		r.ReadyTimeout = 90 * time.Second
	}
	return r
}

// AdditionalItemsReady is AreAdditionalItemsReady: true when items is not
// empty and every name ends in "-secret".
func AdditionalItemsReady(items []ID) bool {
	if len(items) == 0 {
		return false
	}
	for _, it := range items {
		if !strings.HasSuffix(it.Name, "-secret") {
			return false
		}
	}
	return true
}

// DeleteExecute is the delete item action: an error naming the backup for
// an item named FailName, nil otherwise.
func DeleteExecute(item *unstructured.Unstructured, backupName string) error {
	if item.GetName() == FailName {
		return fmt.Errorf("dia: refusing to delete %s/%s of backup %s", item.GetNamespace(), item.GetName(), backupName)
	}
	return nil
}

// RelatedItems is the item block action's GetRelatedItems.
func RelatedItems(item *unstructured.Unstructured, backupName string) []ID {
	sa, _, _ := unstructured.NestedString(item.Object, "spec", "serviceAccountName")
	return []ID{
		{Resource: "serviceaccounts", Namespace: item.GetNamespace(), Name: sa},
		{Resource: "configmaps", Namespace: item.GetNamespace(), Name: backupName},
	}
}

// Volume snapshotter behaviour.

// ConfigFail in an Init config makes Init fail.
const ConfigFail = "fail"

// InitConfig checks an Init config: an error naming the key when ConfigFail is set.
func InitConfig(config map[string]string) error {
	if v, ok := config[ConfigFail]; ok {
		return fmt.Errorf("init: config key %q=%q refused", ConfigFail, v)
	}
	return nil
}

// VolumeFromSnapshot is CreateVolumeFromSnapshot's volume ID; iops nil is "unset".
func VolumeFromSnapshot(snapshotID, volumeType, az string, iops *int64) string {
	i := "unset"
	if iops != nil {
		i = strconv.FormatInt(*iops, 10)
	}
	return strings.Join([]string{"vol", snapshotID, volumeType, az, i}, "_")
}

// VolumeInfo is GetVolumeInfo: "io2" with 3000 IOPS for a volume ID
// starting "io-", "gp3" with IOPS unset otherwise.
func VolumeInfo(volumeID, az string) (string, *int64) {
	if strings.HasPrefix(volumeID, "io-") {
		n := int64(3000)
		return "io2@" + az, &n
	}
	return "gp3@" + az, nil
}

// SnapshotID is CreateSnapshot's snapshot ID: the volume, zone and tags (sorted).
func SnapshotID(volumeID, az string, tags map[string]string) string {
	parts := []string{"snap", volumeID, az}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, "_")
}

// DeleteSnapshot fails for the snapshot ID FailName and succeeds otherwise.
func DeleteSnapshot(id string) error {
	if id == FailName {
		return errors.New("snapshotter: cannot delete snapshot " + id)
	}
	return nil
}

// VolumeID is GetVolumeID: spec.csi.volumeHandle, or "" for a PV without one.
func VolumeID(pv *unstructured.Unstructured) string {
	h, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
	return h
}

// SetVolumeID is SetVolumeID: a copy of pv with spec.csi.volumeHandle set.
func SetVolumeID(pv *unstructured.Unstructured, id string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if err := unstructured.SetNestedField(out.Object, id, "spec", "csi", "volumeHandle"); err != nil {
		return nil, fmt.Errorf("set volume ID: %w", err)
	}
	return out, nil
}

// Object store behaviour: an in-memory bucket map.

// SignedURL is CreateSignedURL's answer.
func SignedURL(bucket, key string, ttl time.Duration) string {
	return "memstore://" + bucket + "/" + key + "?ttl=" + ttl.String()
}

// ErrNoSuchKey is GetObject's error for a missing key.
var ErrNoSuchKey = errors.New("no such key")

// Store is the in-memory object store both implementations wrap.
type Store struct {
	mu      sync.Mutex
	objects map[string][]byte // bucket + "\x00" + key
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{objects: map[string][]byte{}} }

func storeKey(bucket, key string) string { return bucket + "\x00" + key }

// Put stores body's bytes.
func (s *Store) Put(bucket, key string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[storeKey(bucket, key)] = b
	return nil
}

// Exists reports whether key exists.
func (s *Store) Exists(bucket, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[storeKey(bucket, key)]
	return ok
}

// Get returns key's bytes, or an error wrapping ErrNoSuchKey.
func (s *Store) Get(bucket, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[storeKey(bucket, key)]
	if !ok {
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, ErrNoSuchKey)
	}
	return b, nil
}

// Keys returns the keys of bucket under prefix, sorted.
func (s *Store) Keys(bucket, prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objects {
		b, key, _ := strings.Cut(k, "\x00")
		if b == bucket && strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// CommonPrefixes returns the full common prefixes under prefix, sorted.
func (s *Store) CommonPrefixes(bucket, prefix, delimiter string) []string {
	var out []string
	for _, k := range s.Keys(bucket, prefix) {
		rest := k[len(prefix):]
		if i := strings.Index(rest, delimiter); i >= 0 {
			p := prefix + rest[:i+len(delimiter)]
			if len(out) == 0 || out[len(out)-1] != p {
				out = append(out, p)
			}
		}
	}
	return out
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, storeKey(bucket, key))
}
