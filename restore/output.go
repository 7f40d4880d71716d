package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"sigs.k8s.io/yaml"
)

// Output receives the restored objects: the sink of a restore. Manifests
// (NewDirOutput, NewStreamOutput: a dry run) and a live cluster
// (NewClusterOutput) are Outputs; the pipeline is the same for all.
//
// Write may be called from several goroutines at once (Options.Workers),
// for objects of the same restore tier (one resource), unless the Output
// is a SequentialOutput.
type Output interface {
	// Write stores one object. An error stops the restore (the sink is
	// broken: a full disk, an API server gone); an object the sink refuses
	// is Outcome.Rejected, and the restore goes on without it.
	Write(ctx context.Context, it Item) (Outcome, error)
	// Close flushes what Write buffered.
	Close() error
}

// SequentialOutput is an Output whose Write must be called one object at a
// time, in restore order (a YAML stream). Run writes to it with one worker.
type SequentialOutput interface {
	Output
	// Sequential marks the Output; it does nothing.
	Sequential()
}

// Item is one object to restore.
type Item struct {
	// Object is the object as Velero would create it: stripped, passed
	// through the actions, in its target namespace, labelled. Its status
	// is there only when the restore keeps the resource's status.
	Object *unstructured.Unstructured
	// Resource is its group-resource ("pods", "deployments.apps").
	Resource string
	// Order is the resource's position in the restore order (0 first).
	Order int
}

// Outcome is what a Write did.
type Outcome struct {
	// Action is one of rigging.RestoreAction*.
	Action string
	// Warnings are recorded as the restore's warnings, in the object's
	// namespace.
	Warnings []error
	// Rejected, when set, is why the sink refused the object: an error of
	// the restore, in the object's namespace; the restore goes on.
	Rejected error
}

// Applier creates objects in a cluster; *cluster.Applier implements it.
// Apply returns what it did (a rigging.RestoreAction constant), its warnings, rejected
// when the API server refused obj, and err when it cannot go on (the API
// server unreachable, the context ended).
type Applier interface {
	Apply(ctx context.Context, obj *unstructured.Unstructured, resource string) (action string, warnings []error, rejected, err error)
}

// clusterOutput writes into a cluster through an Applier.
type clusterOutput struct{ a Applier }

// NewClusterOutput returns an Output that creates the objects in a cluster
// through a (a *cluster.Applier), concurrently when Run has workers.
func NewClusterOutput(a Applier) Output { return clusterOutput{a} }

func (c clusterOutput) Write(ctx context.Context, it Item) (Outcome, error) {
	action, warnings, rejected, err := c.a.Apply(ctx, it.Object, schema.ParseGroupResource(it.Resource).Resource)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: action, Warnings: warnings, Rejected: rejected}, nil
}

func (clusterOutput) Close() error { return nil }

// ErrOutputNotEmpty reports a target directory that already holds files.
var ErrOutputNotEmpty = errors.New("output directory is not empty")

// dirOutput writes one YAML file per object:
// DIR/<NNN>-<gr>/cluster/<name>.yaml and
// DIR/<NNN>-<gr>/namespaces/<ns>/<name>.yaml, where NNN is the resource's
// place in the restore order, so `kubectl apply -R -f DIR`, which reads files
// in lexical order, creates CRDs and namespaces before what needs them.
type dirOutput struct {
	dir string
}

// NewDirOutput returns an Output writing a directory tree under dir, which
// is created if missing and must be empty otherwise (ErrOutputNotEmpty).
func NewDirOutput(dir string) (Output, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read output directory: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrOutputNotEmpty, dir)
	}
	return &dirOutput{dir: dir}, nil
}

func (d *dirOutput) Write(_ context.Context, it Item) (Outcome, error) {
	if err := d.write(it.Object, it.Resource, it.Order); err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: rigging.RestoreActionCreated}, nil
}

func (d *dirOutput) write(obj *unstructured.Unstructured, gr string, order int) error {
	name := obj.GetName()
	ns := obj.GetNamespace()
	for _, seg := range []string{gr, name} {
		if err := safeSegment(seg); err != nil {
			return fmt.Errorf("write %s %q: %w", gr, name, err)
		}
	}
	parts := []string{d.dir, fmt.Sprintf("%03d-%s", order, gr)}
	if ns == "" {
		parts = append(parts, "cluster")
	} else {
		if err := safeSegment(ns); err != nil {
			return fmt.Errorf("write %s %s/%s: %w", gr, ns, name, err)
		}
		parts = append(parts, "namespaces", ns)
	}
	dir := filepath.Join(parts...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", gr, name, err)
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (d *dirOutput) Close() error { return nil }

// streamOutput writes a multi-document YAML stream.
type streamOutput struct {
	w     *bufio.Writer
	first bool
}

// NewStreamOutput returns an Output writing every object to w as one
// multi-document YAML stream ("---" between documents), in restore order.
func NewStreamOutput(w io.Writer) Output {
	return &streamOutput{w: bufio.NewWriter(w), first: true}
}

func (s *streamOutput) Write(_ context.Context, it Item) (Outcome, error) {
	if err := s.write(it.Object, it.Resource); err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: rigging.RestoreActionCreated}, nil
}

func (*streamOutput) Sequential() {}

func (s *streamOutput) write(obj *unstructured.Unstructured, gr string) error {
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", gr, obj.GetName(), err)
	}
	if !s.first {
		if _, err := s.w.WriteString("---\n"); err != nil {
			return err
		}
	}
	s.first = false
	_, err = s.w.Write(data)
	return err
}

func (s *streamOutput) Close() error { return s.w.Flush() }

func safeSegment(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("%q is not a usable file name", s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%q contains '/', '\\' or NUL", s)
	}
	return nil
}
