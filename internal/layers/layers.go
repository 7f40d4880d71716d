// Package layers holds the import rules of the module's packages (see
// docs/LAYERS.md) and checks an import graph against them. Its test runs the
// check on the graph `go list -deps` reports, so a package that imports
// across a layer fails `make test` with the rule it breaks and the chain of
// imports that leads there.
package layers

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Module is the module path the rules' package patterns are relative to.
const Module = "github.com/rigging-dev/rigging"

// A Rule says what the packages of one layer may import. Patterns are
// module-relative package paths ("." is the root package rigging) matched
// segment by segment with path.Match; a pattern ending in "/..." also
// matches every package below it, and "..." alone matches every package.
type Rule struct {
	// Layer names the rule in failures and in docs/LAYERS.md.
	Layer string
	// Packages are the packages the rule governs. A package is governed by
	// the first rule (in Rules order) that matches it.
	Packages []string
	// Allow are the module packages the layer may depend on, directly or
	// through others; its own packages are always allowed.
	Allow []string
	// Deny are module packages the layer may not depend on even when Allow
	// matches them.
	Deny []string
	// DenyModules are path prefixes of packages outside the module (third
	// party) the layer may not depend on, directly or through others.
	DenyModules []string
	// Why is the reason for the rule, in one line, printed with a failure.
	Why string
}

// Third-party roots that only the host's upper layers may link.
var (
	prometheus = "github.com/prometheus/"
	grpc       = "google.golang.org/grpc"
	goPlugin   = "github.com/hashicorp/go-plugin"
	awsSDK     = "github.com/aws/"
	cobra      = "github.com/spf13/cobra"
	clientGo   = "k8s.io/client-go"
	// The heavy half of client-go: its discovery and OpenAPI clients, the
	// typed clientsets and the scheme of every built-in API group (k8s.io/api),
	// about half of a plugin binary (docs/DEPENDENCIES.md).
	clientGoDiscovery  = "k8s.io/client-go/discovery"
	clientGoOpenAPI    = "k8s.io/client-go/openapi"
	clientGoClientsets = "k8s.io/client-go/kubernetes"
	kubeAPI            = "k8s.io/api/"
)

// Rules are the module's layers, from the bottom up. Test-only commands live
// in internal/testbin, outside every lower layer.
var Rules = []Rule{
	{Layer: "contract", Packages: []string{"."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "vendors import the contract and nothing heavier"},
	{Layer: "shared internals", Packages: []string{"internal/ujson/...", "internal/layers", "internal/proctest"},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "leaf helpers any layer may use must not drag a layer in with them"},
	{Layer: "registry", Packages: []string{"registry/..."}, Allow: []string{"."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "plugins register through it from init(): it must stay as light as the contract"},
	{Layer: "manager", Packages: []string{"manager/..."}, Allow: []string{".", "registry"},
		DenyModules: []string{grpc, goPlugin, awsSDK, cobra},
		Why:         "the Manager sees external plugins only through its Catalog interface"},
	{Layer: "plugin SDK", Packages: []string{"external/plugin/..."},
		Allow:       []string{".", "registry", "cluster", "resources", "manifest", "internal/...", "external/generated/...", "external/internal/wire"},
		DenyModules: []string{prometheus, awsSDK, cobra, clientGoDiscovery, clientGoOpenAPI, clientGoClientsets, kubeAPI},
		Why:         "a vendor's plugin binary links the SDK: no Manager, no Prometheus; the cluster's Lookup (client-go's REST, dynamic and config clients) as every Velero plugin has one, not its discovery, OpenAPI or typed clients"},
	{Layer: "built-in composition", Packages: []string{"builtin/all"},
		Allow:       []string{".", "registry", "resources", "internal/...", "builtin/...", "providers/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, cobra},
		Why:         "builtin/all only imports the plugin packages a distribution compiles in"},
	{Layer: "built-ins", Packages: []string{"builtin/..."},
		Allow:       []string{".", "registry", "resources", "internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra},
		Why:         "a built-in action is a plugin: it registers and implements the contract, nothing of the host"},
	{Layer: "providers", Packages: []string{"providers/..."},
		Allow:       []string{".", "registry", "internal/...", "providers/*/internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, cobra},
		Why:         "a provider is a plugin: it registers and implements the contract, nothing of the host"},
	{Layer: "archive", Packages: []string{"archive/..."}, Allow: []string{".", "internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "Velero's backup layout is plain data, readable without any plugin machinery"},
	{Layer: "resources", Packages: []string{"resources/..."}, Allow: []string{".", "internal/ujson"},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "resource ordering and naming are data the built-ins and pipelines share"},
	{Layer: "manifest", Packages: []string{"manifest/..."}, Allow: []string{"internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGo},
		Why:         "manifest decoding is plain data"},
	{Layer: "pipelines", Packages: []string{"backup/...", "restore/..."},
		Allow:       []string{".", "archive", "resources", "internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra},
		Why:         "the pipelines drive plugins through the contract's interfaces, whatever the host"},
	{Layer: "cluster", Packages: []string{"cluster/..."},
		Allow:       []string{".", "resources", "manifest", "internal/..."},
		DenyModules: []string{prometheus, grpc, goPlugin, awsSDK, cobra, clientGoDiscovery, clientGoOpenAPI, clientGoClientsets, kubeAPI},
		Why:         "the API server's side of a backup or restore is data for the pipelines: no plugin machinery; every served plugin links it, so not client-go's discovery, OpenAPI or typed clients"},
	{Layer: "test cluster", Packages: []string{"internal/testcluster/..."},
		Allow:       []string{".", "resources", "manifest", "cluster", "internal/..."},
		DenyModules: []string{goPlugin, awsSDK, cobra},
		Why:         "the tests' API server harness must not pull in what it tests from above"},
	{Layer: "location", Packages: []string{"location/..."},
		Allow:       []string{".", "registry", "manager", "manifest", "internal/..."},
		DenyModules: []string{grpc, goPlugin, awsSDK, cobra},
		Why:         "a storage location opens an ObjectStore through the Manager, never a provider directly"},
	{Layer: "external host", Packages: []string{"external/..."},
		Allow:       []string{".", "registry", "manager", "cluster", "resources", "manifest", "internal/...", "external/..."},
		DenyModules: []string{awsSDK, cobra},
		Why:         "the gRPC side serves and calls plugins it is given; it compiles none in (the SDK serves them the cluster's Lookup)"},
	{Layer: "tools", Packages: []string{"bench/...", "faults/..."}, Allow: []string{"..."},
		Deny: []string{"cmd/...", "internal/testbin/..."},
		Why:  "the command tree sits above everything; nothing imports it"},
	{Layer: "commands", Packages: []string{"cmd/...", "internal/testbin/..."}, Allow: []string{"..."},
		Why: "commands are the top: they compose every layer"},
}

// Graph is an import graph: a package's path to the paths it imports
// directly. Standard-library packages may be left out.
type Graph map[string][]string

// A Violation is one package depending on something its layer's rule
// forbids.
type Violation struct {
	Rule    *Rule
	Package string   // the governed package, module-relative
	Chain   []string // import paths from Package to the forbidden one
}

// Error describes the violation: the rule, the chain and the reason.
func (v Violation) Error() string {
	return fmt.Sprintf("layer %q: %s must not depend on %s (import chain %s): %s",
		v.Rule.Layer, v.Package, v.Chain[len(v.Chain)-1], strings.Join(v.Chain, " -> "), v.Rule.Why)
}

// Check checks every package of g that is in the module against rules. A
// module package no rule governs is an error too: a new package must be
// given a layer. Results are sorted by package.
func Check(g Graph, rules []Rule) (violations []Violation, ungoverned []string) {
	pkgs := make([]string, 0, len(g))
	for p := range g {
		if _, ok := rel(p); ok {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		r := governing(p, rules)
		if r == nil {
			ungoverned = append(ungoverned, p)
			continue
		}
		violations = append(violations, check(g, p, r)...)
	}
	return violations, ungoverned
}

func governing(p string, rules []Rule) *Rule {
	q, _ := rel(p)
	for i := range rules {
		if matchAny(rules[i].Packages, q) {
			return &rules[i]
		}
	}
	return nil
}

// check walks p's dependencies breadth first, so each chain reported is a
// shortest one, and reports every forbidden dependency once.
func check(g Graph, p string, r *Rule) []Violation {
	var out []Violation
	parent := map[string]string{p: ""}
	queue := []string{p}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, dep := range g[cur] {
			if _, seen := parent[dep]; seen {
				continue
			}
			parent[dep] = cur
			if forbidden(r, dep) {
				out = append(out, Violation{Rule: r, Package: short(p), Chain: chain(parent, dep)})
				continue // its own dependencies are its rule's business
			}
			queue = append(queue, dep)
		}
	}
	return out
}

func forbidden(r *Rule, dep string) bool {
	if q, ok := rel(dep); ok {
		if matchAny(r.Deny, q) {
			return true
		}
		return !matchAny(r.Packages, q) && !matchAny(r.Allow, q)
	}
	for _, m := range r.DenyModules {
		if strings.HasPrefix(dep, m) {
			return true
		}
	}
	return false
}

func chain(parent map[string]string, last string) []string {
	var out []string
	for p := last; p != ""; p = parent[p] {
		out = append(out, short(p))
	}
	slices.Reverse(out)
	return out
}

// rel returns p relative to Module ("." for the root) and whether p is in
// the module.
func rel(p string) (string, bool) {
	if p == Module {
		return ".", true
	}
	q, ok := strings.CutPrefix(p, Module+"/")
	return q, ok
}

// short is p as the rules write it: module-relative, or as is outside.
func short(p string) string {
	if q, ok := rel(p); ok {
		return q
	}
	return p
}

func matchAny(patterns []string, q string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, q) })
}

// match reports whether the module-relative package q matches pattern.
func match(pattern, q string) bool {
	if pattern == "..." {
		return true
	}
	base, tree := strings.CutSuffix(pattern, "/...")
	if !tree {
		ok, _ := path.Match(pattern, q)
		return ok
	}
	segs := strings.Split(q, "/")
	n := strings.Count(base, "/") + 1
	if len(segs) < n || q == "." {
		return false
	}
	ok, _ := path.Match(base, strings.Join(segs[:n], "/"))
	return ok
}
