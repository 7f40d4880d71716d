package cli

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manifest"
)

// pluginConfigLabel marks a Velero plugin ConfigMap; the plugin it configures
// is named by another label, "<plugin-name>: <Kind>".
const pluginConfigLabel = "velero.io/plugin-config"

// loadPluginConfig reads the --plugin-config file ("" gives nil). Each YAML
// document is either
//
//   - a map of plugin name to its config:
//     velero.io/change-storage-class: {gp2: gp3-csi}
//   - a Velero plugin ConfigMap (or a List of them), labelled
//     velero.io/plugin-config and "<plugin-name>: <Kind>", whose data is that
//     plugin's config, so the ConfigMaps a Velero user already has work as
//     they are.
//
// Plugin names are qualified ("change-storage-class" means
// "velero.io/change-storage-class"); configuring one plugin twice is an
// error. Values must be scalars; numbers and booleans are turned into their
// YAML text.
func loadPluginConfig(path string) (map[string]map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]string{}
	from := map[string]string{} // plugin name -> where it was configured
	add := func(name, where string, cfg map[string]string) error {
		n, err := rigging.ParseName(name)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if prev, dup := from[n.String()]; dup {
			return fmt.Errorf("%s: plugin %s is already configured by %s", where, n, prev)
		}
		from[n.String()] = where
		out[n.String()] = cfg
		return nil
	}
	err = manifest.Documents(f, path, func(v any, doc, line int) error {
		where := (&manifest.Error{Source: path, Doc: doc, Line: line, Item: -1}).Where()
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a map of plugin name to config, or a ConfigMap", where)
		}
		return addDocument(m, where, add)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// addDocument adds the plugin configs of one document.
func addDocument(m map[string]any, where string, add func(name, where string, cfg map[string]string) error) error {
	kind, isObject := m["kind"].(string)
	if !isObject {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			sub, ok := m[name].(map[string]any)
			if !ok && m[name] != nil {
				return fmt.Errorf("%s: plugin %s: want a map of key to value", where, name)
			}
			cfg, err := stringMap(sub)
			if err != nil {
				return fmt.Errorf("%s: plugin %s: %w", where, name, err)
			}
			if err := add(name, where, cfg); err != nil {
				return err
			}
		}
		return nil
	}
	switch kind {
	case "ConfigMap":
		return addConfigMap(m, where, add)
	case "List", "ConfigMapList":
		items, _ := m["items"].([]any)
		for i, it := range items {
			cm, ok := it.(map[string]any)
			if !ok || cm["kind"] != "ConfigMap" {
				return fmt.Errorf("%s: items[%d]: want a ConfigMap", where, i)
			}
			if err := addConfigMap(cm, fmt.Sprintf("%s: items[%d]", where, i), add); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s: kind %s: want a ConfigMap, or a map of plugin name to config", where, kind)
}

// addConfigMap adds the config of one Velero plugin ConfigMap.
func addConfigMap(cm map[string]any, where string, add func(name, where string, cfg map[string]string) error) error {
	meta, _ := cm["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	where = fmt.Sprintf("%s: ConfigMap %q", where, name)
	labels, _ := meta["labels"].(map[string]any)
	if _, ok := labels[pluginConfigLabel]; !ok {
		return fmt.Errorf("%s: no label %s: Velero would not read it as plugin configuration", where, pluginConfigLabel)
	}
	data, _ := cm["data"].(map[string]any)
	cfg, err := stringMap(data)
	if err != nil {
		return fmt.Errorf("%s: data: %w", where, err)
	}
	found := false
	for _, label := range slices.Sorted(maps.Keys(labels)) {
		v, _ := labels[label].(string)
		if label == pluginConfigLabel || !rigging.Kind(v).Valid() {
			continue
		}
		found = true
		if err := add(label, where, maps.Clone(cfg)); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf(`%s: no label "<plugin-name>: <Kind>" naming the plugin it configures (for example velero.io/change-storage-class: RestoreItemAction)`, where)
	}
	return nil
}

// stringMap turns a map of scalars into strings.
func stringMap(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case float64:
			out[k] = strconv.FormatFloat(v, 'g', -1, 64)
		case nil:
			out[k] = ""
		default:
			return nil, fmt.Errorf("key %s: want a string, not a %T", k, v)
		}
	}
	return out, nil
}
