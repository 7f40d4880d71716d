// Package image holds Velero's velero.io/change-image-name restore action:
// it rewrites container images of workloads and pods, so a backup restores
// against another registry, repository or tag.
//
// Configuration is Velero's: the data of the plugin ConfigMap (labelled
// velero.io/plugin-config and velero.io/change-image-name:
// RestoreItemAction), passed by the host through rigging.Configurable. Key
// names are free ("case1", "case2", …); each value is a rule
//
//	<old part>,<new part>
//
// split at its first comma, both parts trimmed of spaces. An image that
// contains the old part has every occurrence of it replaced by the new
// part: with "1.1.1.1:5000,2.2.2.2:3000", image
// "1.1.1.1:5000/abc:test" becomes "2.2.2.2:3000/abc:test"; "abc:test,edf:test"
// changes only the name and tag. The first matching rule applies; no rule
// matching leaves the image alone.
//
// Differences from Velero v1.18.3:
//   - Velero tries the rules in Go map order, so with two matching rules the
//     result varies from run to run; here rules are tried in key order
//     (sorted), so the result is deterministic.
//   - Velero ignores a rule without a comma or with nothing after it, and
//     mangles images with a rule whose old part is empty (it inserts the new
//     part between every character) or deletes the old part when the new
//     part is blank. Configure rejects all four with an error wrapping
//     ErrInvalidConfig.
//   - Velero re-reads its ConfigMap on every Execute; here the rules are
//     fixed when the host calls Configure.
//   - Velero panics on a container that is not an object or an image that
//     is not a string; here that is an error naming the item.
//
// As in Velero, the images rewritten are those of containers and
// initContainers (not ephemeralContainers) in spec (pods),
// spec.jobTemplate.spec.template.spec (cronjobs) or spec.template.spec
// (every other kind); status is not touched.
package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name.
const Name = "velero.io/change-image-name"

// ErrInvalidConfig reports a rule Configure rejects.
var ErrInvalidConfig = errors.New("invalid image name rule")

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return New(log), nil
	})
}

// rule is one configured replacement.
type rule struct {
	key      string
	old, new string
}

// Action rewrites images. Configure it before the first Execute; after that
// it is safe for concurrent use.
type Action struct {
	log *slog.Logger

	mu    sync.RWMutex
	rules []rule
}

// New returns an action with no rules (every item is restored unchanged
// until Configure). A nil log discards logs.
func New(log *slog.Logger) *Action {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Action{log: log}
}

// Configure parses the rules (see the package documentation). Any invalid
// rule is an error wrapping ErrInvalidConfig that names its key, and leaves
// the previous rules in place.
func (a *Action) Configure(config map[string]string) error {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range config {
			if !yield(k) {
				return
			}
		}
	})
	rules := make([]rule, 0, len(keys))
	for _, k := range keys {
		r, err := parseRule(k, config[k])
		if err != nil {
			return fmt.Errorf("plugin %s: %w", Name, err)
		}
		rules = append(rules, r)
	}
	a.mu.Lock()
	a.rules = rules
	a.mu.Unlock()
	return nil
}

func parseRule(key, value string) (rule, error) {
	old, repl, ok := strings.Cut(value, ",")
	if !ok {
		return rule{}, fmt.Errorf("%w: key %q: %q has no ',' between the old and the new part", ErrInvalidConfig, key, value)
	}
	old, repl = strings.TrimSpace(old), strings.TrimSpace(repl)
	if old == "" {
		return rule{}, fmt.Errorf("%w: key %q: %q has an empty old part", ErrInvalidConfig, key, value)
	}
	if repl == "" {
		return rule{}, fmt.Errorf("%w: key %q: %q has an empty new part", ErrInvalidConfig, key, value)
	}
	return rule{key: key, old: old, new: repl}, nil
}

// AppliesTo selects the workload kinds Velero's action selects.
func (a *Action) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{
		IncludedResources: []string{"deployments", "statefulsets", "daemonsets", "replicasets", "replicationcontrollers", "jobs", "cronjobs", "pods"},
	}, nil
}

// Execute returns a copy of the item with its container images rewritten
// by the first matching rule. input is not modified.
func (a *Action) Execute(_ context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	a.mu.RLock()
	rules := a.rules
	a.mu.RUnlock()
	if len(rules) == 0 {
		return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: input.Item}, nil
	}
	item := input.Item.DeepCopy()
	var podSpec []string
	switch item.GetKind() {
	case "Pod":
		podSpec = []string{"spec"}
	case "CronJob":
		podSpec = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		podSpec = []string{"spec", "template", "spec"}
	}
	log := a.log.With("item", item.GetKind()+" "+kube.Ref(item))
	for _, field := range []string{"containers", "initContainers"} {
		path := append(slices.Clip(podSpec), field)
		if err := rewrite(item, path, rules, log); err != nil {
			return nil, kube.Errorf(Name, item, "%s: %w", strings.Join(path, "."), err)
		}
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: item}, nil
}

// rewrite applies rules to the images of the containers at path in item.
func rewrite(item *unstructured.Unstructured, path []string, rules []rule, log *slog.Logger) error {
	containers, found, err := unstructured.NestedFieldNoCopy(item.Object, path...)
	if err != nil || !found {
		return err
	}
	list, ok := containers.([]any)
	if !ok {
		return fmt.Errorf("is a %T, not a list", containers)
	}
	for i, c := range list {
		container, ok := c.(map[string]any)
		if !ok {
			return fmt.Errorf("[%d] is a %T, not an object", i, c)
		}
		raw, found := container["image"]
		if !found {
			continue
		}
		image, ok := raw.(string)
		if !ok {
			return fmt.Errorf("[%d].image is a %T, not a string", i, raw)
		}
		if newImage, r, ok := apply(image, rules); ok {
			log.Info("changing image", "container", container["name"], "from", image, "to", newImage, "rule", r.key)
			container["image"] = newImage
		}
	}
	return nil
}

// apply returns image rewritten by the first rule whose old part it
// contains.
func apply(image string, rules []rule) (string, rule, bool) {
	if image == "" {
		return "", rule{}, false
	}
	for _, r := range rules {
		if strings.Contains(image, r.old) {
			return strings.ReplaceAll(image, r.old, r.new), r, true
		}
	}
	return "", rule{}, false
}

var (
	_ rigging.RestoreItemAction = (*Action)(nil)
	_ rigging.Configurable      = (*Action)(nil)
)
