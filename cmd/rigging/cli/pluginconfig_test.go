package cli

import (
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPluginConfig(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string]map[string]string
	}{
		{
			name: "map of plugin name to config",
			body: "change-storage-class:\n  gp2: gp3-csi\nexample.com/tuned:\n  retries: 3\n  verbose: true\n  ratio: 0.5\n  empty:\nvelero.io/pod: {}\n",
			want: map[string]map[string]string{
				"velero.io/change-storage-class": {"gp2": "gp3-csi"},
				"example.com/tuned":              {"retries": "3", "verbose": "true", "ratio": "0.5", "empty": ""},
				"velero.io/pod":                  {},
			},
		},
		{
			name: "Velero plugin ConfigMaps as kubectl prints them",
			body: `apiVersion: v1
kind: ConfigMap
metadata:
  name: change-storage-class-config
  namespace: velero
  labels:
    velero.io/plugin-config: ""
    velero.io/change-storage-class: RestoreItemAction
data:
  gp2: gp3-csi
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: change-image-name-config
    namespace: velero
    labels:
      velero.io/plugin-config: ""
      velero.io/change-image-name: RestoreItemAction
  data:
    case1: "registry.old.io,registry.new.io"
`,
			want: map[string]map[string]string{
				"velero.io/change-storage-class": {"gp2": "gp3-csi"},
				"velero.io/change-image-name":    {"case1": "registry.old.io,registry.new.io"},
			},
		},
		{name: "empty file", body: "# nothing\n", want: map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := loadPluginConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, maps.Equal) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got, err := loadPluginConfig(""); got != nil || err != nil {
		t.Errorf(`loadPluginConfig("") = %v, %v`, got, err)
	}
}

func TestLoadPluginConfigErrors(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n"
	tests := []struct {
		name, body, want string
	}{
		{"ConfigMap without the plugin-config label", cm + "    velero.io/change-storage-class: RestoreItemAction\n", `document 1 (line 1): ConfigMap "c": no label velero.io/plugin-config`},
		{"ConfigMap naming no plugin", cm + "    velero.io/plugin-config: \"\"\n", `ConfigMap "c": no label "<plugin-name>: <Kind>"`},
		{"plugin configured twice", "pod: {a: b}\n---\nvelero.io/pod: {c: d}\n", "document 2 (line 3): plugin velero.io/pod is already configured by"},
		{"nested value", "pod:\n  a: {b: c}\n", "document 1 (line 1): plugin pod: key a: want a string"},
		{"config not a map", "pod: [a]\n", "plugin pod: want a map of key to value"},
		{"invalid plugin name", "Bad/Name/x: {}\n", "invalid plugin name"},
		{"other kind", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "kind Secret: want a ConfigMap"},
		{"not a map", "- a\n", "want a map of plugin name to config, or a ConfigMap"},
		{"bad YAML", "pod: [\n", "document 1 (line 1): invalid YAML"},
		{"bad YAML, the parser's line", "pod: {a: b}\n---\n# two\nchange-image-name:\n  case1: a\n   x: y\n", "document 2 (line 3): invalid YAML: yaml: line 6: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadPluginConfig(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}
}

func TestMetricsServer(t *testing.T) {
	g := &globalFlags{LogLevel: "error", LogFormat: "text", MetricsAddr: "127.0.0.1:0", stderr: io.Discard}
	if err := g.setUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer g.close()
	resp, err := http.Get(g.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("GET %s: %s\n%.300s", g.metricsURL, resp.Status, body)
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(g.metricsURL); err == nil {
		t.Error("metrics still served after close")
	}

	// An address that cannot be bound fails the command, not as a usage error.
	_, errs, code := run(t, "", "--metrics-addr", "256.0.0.1:0", "plugins")
	if code != ExitFailure || !strings.Contains(errs, "--metrics-addr") {
		t.Errorf("bad --metrics-addr: exit %d, stderr %q", code, errs)
	}
}

func TestPluginConfigReachesPlugins(t *testing.T) {
	// velero.io/change-storage-class is Configurable: with a mapping it
	// changes the claim's class.
	cfg := filepath.Join(t.TempDir(), "plugins.yaml")
	if err := os.WriteFile(cfg, []byte("change-storage-class:\n  standard: fast-ssd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pvc := filepath.Join(t.TempDir(), "pvc.yaml")
	if err := os.WriteFile(pvc, []byte("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c, namespace: demo}\nspec:\n  storageClassName: standard\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := execJSON(t, "", "--plugin-config", cfg, "RestoreItemAction", "change-storage-class", "--item", pvc)
	spec := res["item"].(map[string]any)["spec"].(map[string]any)
	if spec["storageClassName"] != "fast-ssd" {
		t.Errorf("storageClassName = %v, want fast-ssd", spec["storageClassName"])
	}
}
