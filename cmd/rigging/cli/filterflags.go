package cli

import (
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// filterFlags are Velero's resource and namespace filters, shared by backup
// create and restore create.
type filterFlags struct {
	includeNS, excludeNS, includeRes, excludeRes []string
	selector                                     string
	orSelector                                   string
	includeCluster                               bool
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&f.includeNS, "include-namespaces", nil, "namespaces to include (glob patterns; default: all)")
	fs.StringSliceVar(&f.excludeNS, "exclude-namespaces", nil, "namespaces to exclude (glob patterns)")
	fs.StringSliceVar(&f.includeRes, "include-resources", nil, `resources to include ("pods", "deployments.apps", "deploy"; default: all)`)
	fs.StringSliceVar(&f.excludeRes, "exclude-resources", nil, "resources to exclude")
	fs.StringVarP(&f.selector, "selector", "l", "", "only items whose labels match this label selector")
	fs.StringVar(&f.orSelector, "or-selector", "", `items whose labels match any of these selectors, separated by " or " (e.g. "app=a or tier=web")`)
	fs.BoolVar(&f.includeCluster, "include-cluster-resources", false, "include cluster-scoped resources (unset: only when every namespace is included)")
}

// includeClusterResources is nil unless the flag was given.
func (f *filterFlags) includeClusterResources(cmd *cobra.Command) *bool {
	if !cmd.Flags().Changed("include-cluster-resources") {
		return nil
	}
	v := f.includeCluster
	return &v
}

// selectors parses --selector and --or-selector.
func (f *filterFlags) selectors() (*metav1.LabelSelector, []*metav1.LabelSelector, error) {
	if f.selector != "" && f.orSelector != "" {
		return nil, nil, usageErrorf("--selector and --or-selector cannot be used together")
	}
	var sel *metav1.LabelSelector
	if f.selector != "" {
		s, err := metav1.ParseToLabelSelector(f.selector)
		if err != nil {
			return nil, nil, usageErrorf("--selector: %w", err)
		}
		sel = s
	}
	var or []*metav1.LabelSelector
	if f.orSelector != "" {
		for _, part := range strings.Split(f.orSelector, " or ") {
			s, err := metav1.ParseToLabelSelector(strings.TrimSpace(part))
			if err != nil {
				return nil, nil, usageErrorf("--or-selector %q: %w", part, err)
			}
			or = append(or, s)
		}
	}
	return sel, or, nil
}
