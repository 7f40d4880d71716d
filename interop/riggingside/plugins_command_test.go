package riggingside

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rigging-dev/rigging/interop/internal/testbin"
)

// TestPluginsCommandListsRealAWSPlugin: `rigging plugins --plugin-dir D -o
// json` lists the plugins of the real velero-plugin-for-aws in D with the
// binary as their source, shadowing rigging's built-in velero.io/aws.
func TestPluginsCommandListsRealAWSPlugin(t *testing.T) {
	aws := binary(t, testbin.AWSPlugin)
	rig := binary(t, testbin.Rigging)
	dir, err := testbin.PluginDir(t.TempDir(), aws)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "velero-plugin-for-aws")
	cmd := exec.Command(rig, "plugins", "--plugin-dir", dir, "-o", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rigging plugins: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Source string `json:"source"`
		Active bool   `json:"active"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("rigging plugins -o json: %v\n%s", err, stdout.String())
	}
	var external []string
	for _, p := range got {
		if p.Source == src {
			if !p.Active {
				t.Errorf("%s %s from the binary is shadowed", p.Kind, p.Name)
			}
			external = append(external, p.Kind+" "+p.Name)
			continue
		}
		if p.Name == "velero.io/aws" && (p.Source != "builtin" || p.Active) {
			t.Errorf("built-in %s velero.io/aws: source %q active %t, want a shadowed builtin", p.Kind, p.Source, p.Active)
		}
	}
	slices.Sort(external)
	if want := []string{"ObjectStore velero.io/aws", "VolumeSnapshotter velero.io/aws"}; !slices.Equal(external, want) {
		t.Errorf("plugins with source %s: %q, want %q\n%s", src, external, want, stdout.String())
	}
}
