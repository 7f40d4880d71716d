package archive

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rigging-dev/rigging"
)

// Result is the errors or the warnings of a backup or restore, as Velero's
// results.Result: messages about Velero itself, about cluster-scoped items,
// and per namespace. Empty fields are omitted, so an empty Result encodes
// as {}.
type Result struct {
	Velero     []string            `json:"velero,omitempty"`
	Cluster    []string            `json:"cluster,omitempty"`
	Namespaces map[string][]string `json:"namespaces,omitempty"`
}

// Add records msg under namespace, or under Cluster when namespace is "".
func (r *Result) Add(namespace, msg string) {
	if namespace == "" {
		r.Cluster = append(r.Cluster, msg)
		return
	}
	if r.Namespaces == nil {
		r.Namespaces = map[string][]string{}
	}
	r.Namespaces[namespace] = append(r.Namespaces[namespace], msg)
}

// AddVelero records a message that concerns no item.
func (r *Result) AddVelero(msg string) { r.Velero = append(r.Velero, msg) }

// Count returns the number of messages.
func (r Result) Count() int {
	n := len(r.Velero) + len(r.Cluster)
	for _, m := range r.Namespaces {
		n += len(m)
	}
	return n
}

// Results is the content of NAME-results.gz and restore-NAME-results.gz:
// {"errors":…,"warnings":…}, both keys always present.
type Results struct {
	Errors   Result `json:"errors"`
	Warnings Result `json:"warnings"`
}

// ResourceList is the content of NAME-resource-list.json.gz: per
// "<apiVersion>/<Kind>" ("v1/Pod", "apps/v1/Deployment"), the sorted
// "ns/name" (or "name") of the items. The restore variant's values carry the
// action in parentheses: "ns/name(created)".
type ResourceList map[string][]string

// Sort sorts every list, as Velero does before writing.
func (l ResourceList) Sort() {
	for _, v := range l {
		slices.Sort(v)
	}
}

// OperationPhase is the phase of an asynchronous item operation.
type OperationPhase string

// Operation phases.
const (
	OperationPhaseNew        OperationPhase = "New"
	OperationPhaseInProgress OperationPhase = "InProgress"
	OperationPhaseCompleted  OperationPhase = "Completed"
	OperationPhaseFailed     OperationPhase = "Failed"
)

// OperationStatus is the status of an item operation, as Velero's
// itemoperation.OperationStatus.
type OperationStatus struct {
	Phase          OperationPhase `json:"phase,omitempty"`
	Error          string         `json:"error,omitempty"`
	NCompleted     int64          `json:"nCompleted,omitempty"`
	NTotal         int64          `json:"nTotal,omitempty"`
	OperationUnits string         `json:"operationUnits,omitempty"`
	Description    string         `json:"description,omitempty"`
	Created        *metav1.Time   `json:"created,omitempty"`
	Started        *metav1.Time   `json:"started,omitempty"`
	Updated        *metav1.Time   `json:"updated,omitempty"`
}

// Apply copies a progress report into s: the phase becomes Completed or
// Failed once the operation has ended, InProgress before.
func (s *OperationStatus) Apply(p rigging.OperationProgress) {
	s.NCompleted, s.NTotal = p.NCompleted, p.NTotal
	s.OperationUnits, s.Description = p.OperationUnits, p.Description
	if !p.Started.IsZero() {
		t := metav1.NewTime(p.Started)
		s.Started = &t
	}
	if !p.Updated.IsZero() {
		t := metav1.NewTime(p.Updated)
		s.Updated = &t
	}
	switch {
	case p.Completed && p.Err != "":
		s.Phase, s.Error = OperationPhaseFailed, p.Err
	case p.Completed:
		s.Phase = OperationPhaseCompleted
	default:
		s.Phase = OperationPhaseInProgress
	}
}

// BackupOperation is one entry of NAME-itemoperations.json.gz. The resource
// identifiers encode with capitalised keys, as Velero's.
type BackupOperation struct {
	Spec   BackupOperationSpec `json:"spec"`
	Status OperationStatus     `json:"status"`
}

// BackupOperationSpec says which action started an operation on which item.
type BackupOperationSpec struct {
	BackupName         string                       `json:"backupName"`
	BackupUID          string                       `json:"backupUID"`
	BackupItemAction   string                       `json:"backupItemAction"`
	ResourceIdentifier rigging.ResourceIdentifier   `json:"resourceIdentifier"`
	OperationID        string                       `json:"operationID"`
	PostOperationItems []rigging.ResourceIdentifier `json:"postOperationItems"`
}

// RestoreOperation is one entry of restore-NAME-itemoperations.json.gz.
type RestoreOperation struct {
	Spec   RestoreOperationSpec `json:"spec"`
	Status OperationStatus      `json:"status"`
}

// RestoreOperationSpec says which action started an operation on which item.
type RestoreOperationSpec struct {
	RestoreName        string                     `json:"restoreName"`
	RestoreUID         string                     `json:"restoreUID"`
	RestoreItemAction  string                     `json:"restoreItemAction"`
	ResourceIdentifier rigging.ResourceIdentifier `json:"resourceIdentifier"`
	OperationID        string                     `json:"operationID"`
}

// WriteJSONGzip writes v as Velero's encode.ToJSONGzip does: a default-level
// gzip stream holding compact JSON followed by "\n". A nil slice encodes as
// null.
func WriteJSONGzip(w io.Writer, v any) error {
	zw := newGzipWriter(w)
	defer releaseGzipWriter(zw)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("close gzip stream: %w", err)
	}
	return nil
}

// maxSidecarSize bounds what ReadJSONGzip decompresses.
const maxSidecarSize = 1 << 30

// ReadJSONGzip decodes the first JSON value of a gzip stream into v, as
// Velero's persistence layer does, refusing more than 1 GiB of JSON.
func ReadJSONGzip(r io.Reader, v any) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("open gzip stream: %w", err)
	}
	defer zr.Close()
	cr := &capReader{r: zr, left: maxSidecarSize}
	if err := json.NewDecoder(cr).Decode(v); err != nil {
		if cr.exceeded {
			return fmt.Errorf("decode JSON: %w: more than %d bytes", ErrTooLarge, int64(maxSidecarSize))
		}
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}

// WriteGzipText gzips what r yields onto w (the log files).
func WriteGzipText(w io.Writer, r io.Reader) error {
	zw := newGzipWriter(w)
	defer releaseGzipWriter(zw)
	if _, err := io.Copy(zw, r); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("close gzip stream: %w", err)
	}
	return nil
}
