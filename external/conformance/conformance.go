// Package conformance is the parity suite for plugins: it runs the same
// contract cases against one plugin through several transports (directly
// in-process, over an in-memory gRPC connection, across a real plugin
// subprocess) and reports contract violations and any difference between
// the transports' results. rigging verify runs it against any plugin.
//
// The cases call only methods without lasting side effects outside the
// plugin's own storage: ObjectStore cases write and delete keys under
// "conformance-<transport>/" in the configured bucket; VolumeSnapshotter
// cases call GetVolumeID and SetVolumeID only (creating real volumes and
// snapshots is left to provider-specific tests); actions run Execute on
// sample items, and v2 actions Progress on the operations they report.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// Transport is one way of reaching the plugin under test.
type Transport struct {
	// Name labels the transport in reports ("direct", "grpc", "subprocess").
	Name string
	// Open returns a new instance of the plugin, implementing its kind's
	// interface.
	Open func(ctx context.Context) (any, error)
}

// Options say what to test.
type Options struct {
	Kind rigging.Kind
	Name rigging.Name
	// Config is the Init config of an ObjectStore or VolumeSnapshotter.
	Config map[string]string
	// Bucket is the ObjectStore bucket. Default "conformance".
	Bucket string
	// Items are the inputs of the actions' Execute and GetRelatedItems
	// (and the PV of VolumeSnapshotter cases when one is a
	// PersistentVolume). Default: Samples().
	Items []*unstructured.Unstructured
	// Backup and Restore are passed to the actions. Defaults: SampleBackup,
	// SampleRestore.
	Backup  *rigging.Backup
	Restore *rigging.Restore
	// Timeout bounds each case. Default 30s.
	Timeout time.Duration
}

// Outcome is the normalised result (operation IDs and progress times, which
// a plugin may derive from its clock or a random source, reduced to whether
// they are set) of one case on one transport.
type Outcome struct {
	Case   string
	Result string // canonical JSON of the outputs and the error class
}

// Report is what Run found.
type Report struct {
	Kind       rigging.Kind
	Name       rigging.Name
	Transports []string
	Outcomes   map[string][]Outcome // by transport
	// Failures are contract violations: "transport: case: what".
	Failures []string
	// Differences are cases whose outcome differs between transports.
	Differences []string
}

// OK reports whether there were neither failures nor differences.
func (r *Report) OK() bool { return len(r.Failures) == 0 && len(r.Differences) == 0 }

// String summarises the report, one problem per line.
func (r *Report) String() string {
	var b strings.Builder
	n := 0
	for _, o := range r.Outcomes {
		n = max(n, len(o))
	}
	fmt.Fprintf(&b, "%s %s: %d cases on %s: ", r.Kind, r.Name, n, strings.Join(r.Transports, ", "))
	if r.OK() {
		b.WriteString("ok")
		return b.String()
	}
	fmt.Fprintf(&b, "%d failures, %d differences", len(r.Failures), len(r.Differences))
	for _, f := range r.Failures {
		b.WriteString("\n  FAIL " + f)
	}
	for _, d := range r.Differences {
		b.WriteString("\n  DIFF " + d)
	}
	return b.String()
}

// Run runs the cases of opts.Kind on every transport, in order, and
// compares the outcomes. The error is for a suite that could not run at
// all (an invalid kind, a transport that cannot open the plugin).
func Run(ctx context.Context, opts Options, transports ...Transport) (*Report, error) {
	if !opts.Kind.Valid() {
		return nil, fmt.Errorf("conformance: %w: %q", rigging.ErrInvalidKind, opts.Kind)
	}
	if opts.Bucket == "" {
		opts.Bucket = "conformance"
	}
	if opts.Items == nil {
		opts.Items = Samples()
	}
	if opts.Backup == nil {
		opts.Backup = SampleBackup()
	}
	if opts.Restore == nil {
		opts.Restore = SampleRestore()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	rep := &Report{Kind: opts.Kind, Name: opts.Name, Outcomes: map[string][]Outcome{}}
	for _, t := range transports {
		inst, err := t.Open(ctx)
		if err != nil {
			return nil, fmt.Errorf("conformance: %s %s over %s: %w", opts.Kind, opts.Name, t.Name, err)
		}
		r := &recorder{ctx: ctx, opts: &opts, transport: t.Name, report: rep}
		run(r, inst)
		if c, ok := inst.(rigging.Closer); ok {
			_ = c.Close()
		}
		rep.Transports = append(rep.Transports, t.Name)
		rep.Outcomes[t.Name] = r.outcomes
	}
	compare(rep)
	return rep, nil
}

func compare(rep *Report) {
	if len(rep.Transports) < 2 {
		return
	}
	ref := rep.Transports[0]
	for _, t := range rep.Transports[1:] {
		a, b := rep.Outcomes[ref], rep.Outcomes[t]
		for i := range max(len(a), len(b)) {
			switch {
			case i >= len(a):
				rep.Differences = append(rep.Differences, fmt.Sprintf("%s: only on %s", b[i].Case, t))
			case i >= len(b):
				rep.Differences = append(rep.Differences, fmt.Sprintf("%s: only on %s", a[i].Case, ref))
			case a[i] != b[i]:
				rep.Differences = append(rep.Differences, fmt.Sprintf("%s: %s gave %s, %s gave %s", a[i].Case, ref, a[i].Result, t, b[i].Result))
			}
		}
	}
}

// recorder runs cases on one transport.
type recorder struct {
	ctx       context.Context
	opts      *Options
	transport string
	report    *Report
	outcomes  []Outcome
}

// do runs one case, recovering a panic (an in-process plugin's panic is an
// error of class ErrPanic, as it is across gRPC), and records the outcome:
// the value normalised to JSON plus the error's class.
func (r *recorder) do(name string, fn func(ctx context.Context) (any, error)) (err error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	var v any
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %v", rigging.ErrPanic, p)
			}
		}()
		v, err = fn(ctx)
	}()
	res := map[string]any{}
	if err != nil {
		res["error"] = classify(err)
	} else if v != nil {
		res["value"] = v
	}
	b, jerr := json.Marshal(res)
	if jerr != nil {
		r.fail(name, "result does not encode: %v", jerr)
	}
	r.outcomes = append(r.outcomes, Outcome{Case: name, Result: string(b)})
	return err
}

func (r *recorder) fail(name, format string, args ...any) {
	r.report.Failures = append(r.report.Failures, fmt.Sprintf("%s: %s: %s", r.transport, name, fmt.Sprintf(format, args...)))
}

// sentinels are the error classes compared across transports; the text of
// an error legitimately differs (a gRPC client adds the plugin and method).
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", rigging.ErrNotFound},
	{"ErrAsyncNotSupported", rigging.ErrAsyncNotSupported},
	{"ErrInvalidOperationID", rigging.ErrInvalidOperationID},
	{"ErrNotInitialized", rigging.ErrNotInitialized},
	{"ErrAlreadyInitialized", rigging.ErrAlreadyInitialized},
	{"ErrInvalidName", rigging.ErrInvalidName},
	{"ErrPanic", rigging.ErrPanic},
}

func classify(err error) string {
	parts := []string{"error"}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			parts = append(parts, s.name)
		}
	}
	return strings.Join(parts, " ")
}

// item normalises an item for comparison.
func item(u *unstructured.Unstructured) any {
	if u == nil {
		return nil
	}
	return u.Object
}

// ids normalises resource identifiers (nil and empty are the same).
func ids(in []rigging.ResourceIdentifier) []string {
	var out []string
	for _, id := range in {
		out = append(out, id.String())
	}
	return out
}

func selector(s rigging.ResourceSelector) any {
	norm := func(v []string) []string {
		if len(v) == 0 {
			return nil
		}
		return v
	}
	return map[string]any{
		"includedNamespaces": norm(s.IncludedNamespaces), "excludedNamespaces": norm(s.ExcludedNamespaces),
		"includedResources": norm(s.IncludedResources), "excludedResources": norm(s.ExcludedResources),
		"labelSelector": s.LabelSelector,
	}
}

func progress(p rigging.OperationProgress) any {
	// Times are compared as set or unset: they are the plugin's clock.
	ts := func(t time.Time) string {
		if t.IsZero() || t.Equal(time.Unix(0, 0)) {
			return ""
		}
		return "<set>"
	}
	return map[string]any{"completed": p.Completed, "err": p.Err, "nCompleted": p.NCompleted, "nTotal": p.NTotal,
		"units": p.OperationUnits, "description": p.Description, "started": ts(p.Started), "updated": ts(p.Updated)}
}

func itemLabel(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + " " + ns + "/" + u.GetName()
	}
	return u.GetKind() + " " + u.GetName()
}

// checkItem is the contract on a returned item: present, with a kind.
func (r *recorder) checkItem(name string, u *unstructured.Unstructured) {
	if u == nil {
		return // "unchanged" in-process; the wire echoes the input
	}
	if u.GetKind() == "" {
		r.fail(name, "returned item has no kind (a Velero host rejects it)")
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
