package restore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Output receives the restored objects, in restore order.
type Output interface {
	// Write stores one object. gr is its group-resource ("pods",
	// "deployments.apps") and order the resource's position in the restore
	// order (0 first).
	Write(obj *unstructured.Unstructured, gr string, order int) error
	// Close flushes what Write buffered.
	Close() error
}

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

func (d *dirOutput) Write(obj *unstructured.Unstructured, gr string, order int) error {
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

func (s *streamOutput) Write(obj *unstructured.Unstructured, gr string, _ int) error {
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
