package resources

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"pods", "pods", true}, {"pods", "pod", false},
		{"*", "", true}, {"*", "deployments.apps", true},
		{"*.apps", "deployments.apps", true}, {"*.apps", "pods", false},
		{"deploy*", "deployments.apps", true}, {"*ments*", "deployments.apps", true},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"a**c", "abc", true},
		{"?ods", "pods", true}, {"?ods", "ods", false}, {"p?", "pé", true},
		{"[pq]ods", "pods", true}, {"[!p]ods", "pods", false}, {"[!p]ods", "qods", true},
		{"[a-c]x", "bx", true}, {"[a-c]x", "dx", false}, {"[]]", "]", true},
		{"{pods,services}", "services", true}, {"{pods,services}", "secrets", false},
		{"kube-{sys*,pub{lic,x}}", "kube-system", true}, {"kube-{sys*,pub{lic,x}}", "kube-public", true},
		{"kube-{sys*,pub{lic,x}}", "kube-pubx", true}, {"kube-{sys*,pub{lic,x}}", "kube-node-lease", false},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {`\{a\}`, "{a}", true},
		{"ns-[0-9][0-9]", "ns-42", true}, {"ns-[0-9][0-9]", "ns-4x", false},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Errorf("compileGlob(%q): %v", tt.pattern, err)
			continue
		}
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("glob %q match %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	for _, bad := range []string{"[abc", "{a,b", "a}", `a\`, "[]", "[z-a]", "x{[}"} {
		if _, err := compileGlob(bad); !errors.Is(err, errBadPattern) || !strings.Contains(err.Error(), bad) {
			t.Errorf("compileGlob(%q) err = %v, want a malformed-pattern error naming it", bad, err)
		}
	}
}

func TestIncludesExcludes(t *testing.T) {
	tests := []struct {
		name       string
		ie         IncludesExcludes
		in         []string
		out        []string
		everything bool
	}{
		{name: "empty includes everything", ie: IncludesExcludes{}, in: []string{"a", "", "kube-system"}, everything: true},
		{name: "star includes everything", ie: IncludesExcludes{Includes: []string{"*"}}, in: []string{"a", "b"}, everything: true},
		{name: "star with others still includes everything", ie: IncludesExcludes{Includes: []string{"a", "*"}}, in: []string{"a", "z"}},
		{name: "plain list", ie: IncludesExcludes{Includes: []string{"a", "b"}}, in: []string{"a", "b"}, out: []string{"c", "ab", ""}},
		{name: "excludes win", ie: IncludesExcludes{Includes: []string{"a", "b"}, Excludes: []string{"b"}}, in: []string{"a"}, out: []string{"b", "c"}},
		{name: "excludes only", ie: IncludesExcludes{Excludes: []string{"kube-*"}}, in: []string{"shop", "monitoring"}, out: []string{"kube-system", "kube-public"}},
		{name: "star exclude excludes all", ie: IncludesExcludes{Excludes: []string{"*"}}, out: []string{"a", ""}},
		{name: "glob includes", ie: IncludesExcludes{Includes: []string{"shop-*", "mon?toring"}}, in: []string{"shop-eu", "monitoring"}, out: []string{"shop", "kube-system"}},
		{name: "malformed pattern matches nothing, others apply", ie: IncludesExcludes{Includes: []string{"[bad", "b"}, Excludes: []string{"{x"}}, in: []string{"b"}, out: []string{"[bad", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compiled, cerr := tt.ie.Compile()
			for _, s := range tt.in {
				if !tt.ie.ShouldInclude(s) {
					t.Errorf("ShouldInclude(%q) = false, want true", s)
				}
				if cerr == nil && !compiled.ShouldInclude(s) {
					t.Errorf("compiled ShouldInclude(%q) = false, want true", s)
				}
			}
			for _, s := range tt.out {
				if tt.ie.ShouldInclude(s) {
					t.Errorf("ShouldInclude(%q) = true, want false", s)
				}
				if cerr == nil && compiled.ShouldInclude(s) {
					t.Errorf("compiled ShouldInclude(%q) = true, want false", s)
				}
			}
			if got := tt.ie.IncludeEverything(); got != tt.everything {
				t.Errorf("IncludeEverything() = %v, want %v", got, tt.everything)
			}
			if cerr == nil && compiled.IncludeEverything() != tt.everything {
				t.Errorf("compiled IncludeEverything() = %v, want %v", compiled.IncludeEverything(), tt.everything)
			}
		})
	}
	if _, err := (IncludesExcludes{Includes: []string{"ok", "[bad"}}).Compile(); err == nil || !strings.Contains(err.Error(), `"[bad"`) {
		t.Errorf("Compile with a malformed pattern: err = %v", err)
	}
}

// item is what a selector case is matched against.
type item struct {
	resource  string // resolved through the mapper
	namespace string
	labels    map[string]string
}

func TestMatcher(t *testing.T) {
	m := NewMapper()
	pod := item{"pods", "shop", map[string]string{"app": "web", "tier": "front"}}
	podKube := item{"pods", "kube-system", nil}
	deploy := item{"deployments.apps", "shop", map[string]string{"app": "web"}}
	legacyDeploy := item{"deployments.extensions", "shop", nil}
	pv := item{"persistentvolumes", "", map[string]string{"app": "web"}}
	ns := item{"namespaces", "", nil}
	vs := item{"volumesnapshots.snapshot.storage.k8s.io", "shop", nil}
	event := item{"events", "shop", nil}
	eventsV1 := item{"events.events.k8s.io", "shop", nil}
	all := []item{pod, podKube, deploy, legacyDeploy, pv, ns, vs, event, eventsV1}

	tests := []struct {
		name string
		sel  rigging.ResourceSelector
		want []item // the items of all that match; the others must not
	}{
		{"zero selector matches everything", rigging.ResourceSelector{}, all},
		{"plural", rigging.ResourceSelector{IncludedResources: []string{"pods"}}, []item{pod, podKube}},
		{"kind", rigging.ResourceSelector{IncludedResources: []string{"Pod"}}, []item{pod, podKube}},
		{"short name", rigging.ResourceSelector{IncludedResources: []string{"po"}}, []item{pod, podKube}},
		{"plural.group", rigging.ResourceSelector{IncludedResources: []string{"deployments.apps"}}, []item{deploy}},
		{"bare deployments means apps", rigging.ResourceSelector{IncludedResources: []string{"deploy"}}, []item{deploy}},
		{"legacy group by plural.group", rigging.ResourceSelector{IncludedResources: []string{"deployments.extensions"}}, []item{legacyDeploy}},
		{"CSI short name", rigging.ResourceSelector{IncludedResources: []string{"vs"}}, []item{vs}},
		{"events is core", rigging.ResourceSelector{IncludedResources: []string{"events"}}, []item{event}},
		{"star include", rigging.ResourceSelector{IncludedResources: []string{"*"}}, all},
		{"star exclude ignored", rigging.ResourceSelector{ExcludedResources: []string{"*"}}, all},
		{"exclude resource", rigging.ResourceSelector{ExcludedResources: []string{"pods", "pv"}}, []item{deploy, legacyDeploy, ns, vs, event, eventsV1}},
		{"glob over plural.group", rigging.ResourceSelector{IncludedResources: []string{"*.apps"}}, []item{deploy}},
		{"unknown name matches nothing", rigging.ResourceSelector{IncludedResources: []string{"widgets"}}, nil},
		{"unknown name next to a known one", rigging.ResourceSelector{IncludedResources: []string{"widgets", "pods"}}, []item{pod, podKube}},
		{"included namespace drops cluster-scoped", rigging.ResourceSelector{IncludedNamespaces: []string{"shop"}}, []item{pod, deploy, legacyDeploy, vs, event, eventsV1}},
		{"star namespace keeps cluster-scoped", rigging.ResourceSelector{IncludedNamespaces: []string{"*"}}, all},
		{"excluded namespace drops cluster-scoped", rigging.ResourceSelector{ExcludedNamespaces: []string{"kube-system"}}, []item{pod, deploy, legacyDeploy, vs, event, eventsV1}},
		{"namespace glob", rigging.ResourceSelector{IncludedNamespaces: []string{"kube-*"}}, []item{podKube}},
		{"star namespace exclude", rigging.ResourceSelector{ExcludedNamespaces: []string{"*"}}, nil},
		{"cluster-scoped resource with namespaces restricted", rigging.ResourceSelector{IncludedResources: []string{"pv"}, IncludedNamespaces: []string{"shop"}}, nil},
		{"label equality", rigging.ResourceSelector{LabelSelector: "app=web"}, []item{pod, deploy, pv}},
		{"label set-based", rigging.ResourceSelector{LabelSelector: "app in (web), tier notin (back)"}, []item{pod, deploy, pv}},
		{"label absence", rigging.ResourceSelector{LabelSelector: "!app"}, []item{podKube, legacyDeploy, ns, vs, event, eventsV1}},
		{"all together", rigging.ResourceSelector{IncludedNamespaces: []string{"shop", "kube-system"}, ExcludedNamespaces: []string{"kube-system"}, IncludedResources: []string{"pods", "deployments.apps"}, LabelSelector: "tier=front"}, []item{pod}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := CompileSelector(tt.sel, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range all {
				r, err := m.Resolve(it.resource)
				if err != nil {
					t.Fatal(err)
				}
				want := false
				for _, w := range tt.want {
					want = want || (w.resource == it.resource && w.namespace == it.namespace)
				}
				if got := x.Matches(r, it.namespace, it.labels); got != want {
					t.Errorf("Matches(%s, %q, %v) = %v, want %v", r, it.namespace, it.labels, got, want)
				}
			}
		})
	}
}

func TestCompileSelectorErrors(t *testing.T) {
	tests := []struct {
		sel  rigging.ResourceSelector
		want string
	}{
		{rigging.ResourceSelector{LabelSelector: "app in (web"}, `labelSelector "app in (web"`},
		{rigging.ResourceSelector{LabelSelector: "a b"}, `labelSelector "a b"`},
		{rigging.ResourceSelector{IncludedResources: []string{"pods", "[x"}}, `includedResources: pattern "[x"`},
		{rigging.ResourceSelector{ExcludedResources: []string{"{x"}}, `excludedResources: pattern "{x"`},
		{rigging.ResourceSelector{IncludedNamespaces: []string{"a}"}}, `namespaces: includes: pattern "a}"`},
	}
	for _, tt := range tests {
		if _, err := CompileSelector(tt.sel, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileSelector(%+v) err = %v, want it to contain %q", tt.sel, err, tt.want)
		}
	}
}

func TestMatchesObject(t *testing.T) {
	m := NewMapper()
	obj := func(apiVersion, kind, ns string, lbls map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": "x"}
		if ns != "" {
			md["namespace"] = ns
		}
		if lbls != nil {
			md["labels"] = lbls
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}}
	}
	widget := obj("example.com/v1", "Widget", "shop", nil)
	tests := []struct {
		name string
		sel  rigging.ResourceSelector
		obj  *unstructured.Unstructured
		want bool
	}{
		{"pod in namespace", rigging.ResourceSelector{IncludedResources: []string{"pods"}, IncludedNamespaces: []string{"shop"}}, obj("v1", "Pod", "shop", nil), true},
		{"pod other namespace", rigging.ResourceSelector{IncludedResources: []string{"pods"}, IncludedNamespaces: []string{"shop"}}, obj("v1", "Pod", "prod", nil), false},
		{"labels from the object", rigging.ResourceSelector{LabelSelector: "app=web"}, obj("apps/v1", "Deployment", "shop", map[string]any{"app": "web"}), true},
		{"namespace on a cluster-scoped object ignored", rigging.ResourceSelector{IncludedNamespaces: []string{"shop"}}, obj("v1", "PersistentVolume", "shop", nil), false},
		{"unknown kind, unrestricted resources", rigging.ResourceSelector{IncludedNamespaces: []string{"shop"}}, widget, true},
		{"unknown kind, restricted resources", rigging.ResourceSelector{IncludedResources: []string{"pods"}}, widget, false},
		{"unknown kind, excluded resources", rigging.ResourceSelector{ExcludedResources: []string{"pods"}}, widget, false},
		{"nil object", rigging.ResourceSelector{}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := CompileSelector(tt.sel, m)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.MatchesObject(tt.obj); got != tt.want {
				t.Errorf("MatchesObject = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMatcherLearnsCRDs: a selector compiled before the mapper learns a CRD
// matches the CRD's resource by any of its names afterwards.
func TestMatcherLearnsCRDs(t *testing.T) {
	m := NewMapper()
	x, err := CompileSelector(rigging.ResourceSelector{IncludedResources: []string{"ff"}}, m)
	if err != nil {
		t.Fatal(err)
	}
	all := loadManifests(t, manifestsDir)
	var flag *unstructured.Unstructured
	for _, lo := range all {
		if lo.obj.GetKind() == "FeatureFlag" {
			flag = lo.obj
			break
		}
	}
	if x.MatchesObject(flag) {
		t.Fatal("matched a FeatureFlag before its CRD was known")
	}
	for _, lo := range all {
		if IsCRD(lo.obj) && lo.obj.GetName() == "featureflags.shop.example.com" {
			if err := m.AddCRD(lo.obj); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := m.Resolve("ff")
	if err != nil {
		t.Fatalf("the FeatureFlag CRD gives no short name ff: %v", err)
	}
	if !x.MatchesObject(flag) {
		t.Errorf("did not match %s after its CRD was added", r)
	}
}
