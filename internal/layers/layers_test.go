package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestModuleKeepsTheLayers checks the module's real import graph, as
// `go list -deps` reports it for the default build (test files are not part
// of it), against Rules.
func TestModuleKeepsTheLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the whole module")
	}
	g := moduleGraph(t)
	violations, ungoverned := Check(g, Rules)
	for _, v := range violations {
		t.Error(v)
	}
	for _, p := range ungoverned {
		t.Errorf("package %s is in no layer: add it to a Rule in internal/layers and to docs/LAYERS.md", p)
	}
	// The check must have seen the layers it exists for.
	for _, p := range []string{Module, Module + "/registry", Module + "/manager", Module + "/external/plugin", Module + "/builtin/pod"} {
		if _, ok := g[p]; !ok {
			t.Errorf("go list did not report %s", p)
		}
	}
}

// moduleGraph runs go list on every package of the module.
func moduleGraph(t *testing.T) Graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Standard", Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := Graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Standard   bool
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if !p.Standard {
			g[p.ImportPath] = p.Imports
		}
	}
	return g
}

func TestCheck(t *testing.T) {
	const (
		root     = Module
		registry = Module + "/registry"
		manager  = Module + "/manager"
		sdk      = Module + "/external/plugin"
		aws      = Module + "/providers/aws"
		awsconf  = Module + "/providers/aws/internal/awsconf"
		serveaws = Module + "/providers/aws/internal/serveaws"
		prom     = "github.com/prometheus/client_golang/prometheus"
		procfs   = "github.com/prometheus/procfs"
	)
	tests := []struct {
		name       string
		g          Graph
		want       []string // Violation.Error() substrings, one per violation, by package
		ungoverned []string
	}{
		{"the intended graph", Graph{
			root: nil, registry: {root}, manager: {root, registry, prom}, prom: {procfs}, procfs: nil,
			sdk: {root, registry}, aws: {root, registry, awsconf}, awsconf: nil,
		}, nil, nil},
		{"the SDK reaches Prometheus through the Manager", Graph{
			root: nil, registry: {root, manager}, manager: {root, prom}, prom: {procfs}, procfs: nil,
			sdk: {root, registry},
		}, []string{
			`layer "plugin SDK": external/plugin must not depend on manager (import chain external/plugin -> registry -> manager): a vendor's plugin binary`,
			`layer "registry": registry must not depend on manager (import chain registry -> manager)`,
		}, nil},
		{"the SDK reaches Prometheus through an allowed package", Graph{
			root: nil, registry: {root, prom}, prom: nil, sdk: {registry},
		}, []string{
			`layer "plugin SDK": external/plugin must not depend on github.com/prometheus/client_golang/prometheus (import chain external/plugin -> registry -> github.com/prometheus/client_golang/prometheus)`,
			`layer "registry": registry must not depend on github.com/prometheus/client_golang/prometheus (import chain registry -> github.com/prometheus/client_golang/prometheus)`,
		}, nil},
		{"a test main inside a provider imports the SDK", Graph{
			root: nil, registry: {root}, sdk: {root, registry}, aws: {root, registry}, serveaws: {aws, sdk},
		}, []string{
			`layer "providers": providers/aws/internal/serveaws must not depend on external/plugin (import chain providers/aws/internal/serveaws -> external/plugin): a provider is a plugin`,
		}, nil},
		{"a package in no layer", Graph{root: nil, Module + "/newthing": {root}}, nil, []string{Module + "/newthing"}},
		{"packages outside the module are not governed", Graph{"example.com/x": {root}, root: nil}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			violations, ungoverned := Check(tt.g, Rules)
			if len(violations) != len(tt.want) {
				t.Fatalf("got %d violations %v, want %d", len(violations), violations, len(tt.want))
			}
			for i, v := range violations {
				if !strings.Contains(v.Error(), tt.want[i]) {
					t.Errorf("violation %d = %q, want it to contain %q", i, v.Error(), tt.want[i])
				}
			}
			if !slices.Equal(ungoverned, tt.ungoverned) {
				t.Errorf("ungoverned = %v, want %v", ungoverned, tt.ungoverned)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, pkg string
		want         bool
	}{
		{".", ".", true},
		{".", "registry", false},
		{"registry", "registry", true},
		{"registry/...", "registry", true},
		{"registry/...", "registry/x/y", true},
		{"registry/...", "registryx", false},
		{"registry/...", ".", false},
		{"providers/*/internal/...", "providers/aws/internal/awsconf", true},
		{"providers/*/internal/...", "providers/aws/ebs", false},
		{"providers/*/internal/...", "providers/aws", false},
		{"...", "cmd/rigging", true},
		{"...", ".", true},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.pkg); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.pkg, got, tt.want)
		}
	}
}
