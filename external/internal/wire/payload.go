// Package wire holds the conversions both sides of Velero's plugin protocol
// share: JSON payloads, selectors, resource identifiers, operation progress
// and the encoding of errors in gRPC statuses (velero-protocol.md §3.4, §5).
package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/internal/ujson"
)

// ChunkSize is the size of the object-body chunks both directions stream,
// Velero's byteChunkSize.
const ChunkSize = 16 << 10

// MaxMessageSize is the gRPC message limit rigging sets on both sides, well
// above gRPC's 4 MiB default receive limit (velero-protocol.md §7.1).
const MaxMessageSize = 256 << 20

// EncodeItem returns the JSON of an item as Velero sends it: the plain
// object. A nil item encodes as nil.
func EncodeItem(u *unstructured.Unstructured) ([]byte, error) {
	if u == nil {
		return nil, nil
	}
	b, err := ujson.Marshal(u.Object) // encoding/json's bytes, without reflection
	if err != nil {
		return nil, fmt.Errorf("encode item %s: %w", describe(u), err)
	}
	return b, nil
}

// DecodeItem parses item JSON into the values unstructured.UnmarshalJSON
// gives (whole numbers int64) and rejects what it rejects. Like Velero's
// host, it requires a kind: an object without a non-empty string kind fails
// with the missing-kind error of unstructured.UnmarshalJSON. The item keeps
// a private copy of b, never b itself.
func DecodeItem(b []byte) (*unstructured.Unstructured, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("decode item: empty JSON")
	}
	m, err := ujson.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("decode item: %w", err)
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" {
		return nil, fmt.Errorf("decode item: %w", runtime.NewMissingKindErr(string(b)))
	}
	return u, nil
}

// DecodeOptionalItem is DecodeItem for fields that may be absent (nil
// result).
func DecodeOptionalItem(b []byte) (*unstructured.Unstructured, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return DecodeItem(b)
}

func describe(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + " " + ns + "/" + u.GetName()
	}
	return u.GetKind() + " " + u.GetName()
}

// EncodeObject returns the JSON of a Backup or Restore; nil encodes as nil.
func EncodeObject[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// DecodeObject parses Backup or Restore JSON; empty input gives nil.
func DecodeObject[T any](b []byte) (*T, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %T: %w", v, err)
	}
	return v, nil
}

// Selector converts a selector to its wire form.
func Selector(s rigging.ResourceSelector) *generated.ResourceSelector {
	return &generated.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces,
		ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources:  s.IncludedResources,
		ExcludedResources:  s.ExcludedResources,
		Selector:           s.LabelSelector,
	}
}

// FromSelector converts a wire selector; nil is the zero selector (matches
// everything), as in Velero.
func FromSelector(s *generated.ResourceSelector) rigging.ResourceSelector {
	if s == nil {
		return rigging.ResourceSelector{}
	}
	return rigging.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces,
		ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources:  s.IncludedResources,
		ExcludedResources:  s.ExcludedResources,
		LabelSelector:      s.Selector,
	}
}

// Identifiers converts resource identifiers to their wire form.
func Identifiers(ids []rigging.ResourceIdentifier) []*generated.ResourceIdentifier {
	if len(ids) == 0 {
		return nil
	}
	out := make([]*generated.ResourceIdentifier, len(ids))
	for i, id := range ids {
		out[i] = &generated.ResourceIdentifier{Group: id.Group, Resource: id.Resource, Namespace: id.Namespace, Name: id.Name}
	}
	return out
}

// FromIdentifiers converts wire resource identifiers.
func FromIdentifiers(ids []*generated.ResourceIdentifier) []rigging.ResourceIdentifier {
	if len(ids) == 0 {
		return nil
	}
	out := make([]rigging.ResourceIdentifier, len(ids))
	for i, id := range ids {
		out[i] = rigging.ResourceIdentifier{
			GroupResource: schema.GroupResource{Group: id.GetGroup(), Resource: id.GetResource()},
			Namespace:     id.GetNamespace(), Name: id.GetName(),
		}
	}
	return out
}

// Progress converts operation progress to its wire form; it never returns
// nil (a nil progress makes Velero's host panic). Unknown times travel as the
// Unix epoch.
func Progress(p rigging.OperationProgress) *generated.OperationProgress {
	return &generated.OperationProgress{
		Completed: p.Completed, Err: p.Err, NCompleted: p.NCompleted, NTotal: p.NTotal,
		OperationUnits: p.OperationUnits, Description: p.Description,
		Started: timestamp(p.Started), Updated: timestamp(p.Updated),
	}
}

// FromProgress converts wire progress; the Unix epoch (or an absent time)
// becomes the zero time.
func FromProgress(p *generated.OperationProgress) rigging.OperationProgress {
	if p == nil {
		return rigging.OperationProgress{}
	}
	return rigging.OperationProgress{
		Completed: p.Completed, Err: p.Err, NCompleted: p.NCompleted, NTotal: p.NTotal,
		OperationUnits: p.OperationUnits, Description: p.Description,
		Started: fromTimestamp(p.Started), Updated: fromTimestamp(p.Updated),
	}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return timestamppb.New(time.Unix(0, 0))
	}
	return timestamppb.New(t)
}

func fromTimestamp(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	t := ts.AsTime()
	if t.Equal(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}

// IOPS converts an optional IOPS to the wire, where 0 means unset.
func IOPS(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// FromIOPS converts wire IOPS; 0 becomes nil.
func FromIOPS(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}
