package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/registry"
)

const demo = "../../../testdata/demo"

// run runs one rigging command line in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// runOK runs a command line that must succeed and returns its stdout.
func runOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := run(t, stdin, args...)
	if code != ExitOK {
		t.Fatalf("rigging %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestPluginsJSON(t *testing.T) {
	var got []map[string]any
	if err := json.Unmarshal([]byte(runOK(t, "", "plugins", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, p := range got {
		if len(p) != 4 {
			t.Errorf("%v: want exactly the keys kind, name, source, active", p)
		}
		if p["source"] != "builtin" || p["active"] != true {
			t.Errorf("%v: want source builtin, active true", p)
		}
		listed[p["kind"].(string)+" "+p["name"].(string)] = true
	}
	// Every registered built-in is listed...
	for _, e := range registry.Default.All() {
		if !listed[string(e.Kind)+" "+string(e.Name)] {
			t.Errorf("registered %s %s is not listed", e.Kind, e.Name)
		}
	}
	if len(got) != len(registry.Default.All()) {
		t.Errorf("listed %d plugins, %d registered", len(got), len(registry.Default.All()))
	}
	// ...and among them every Velero built-in rigging ports, under Velero's names.
	want := map[string][]string{
		"BackupItemAction": {"pv", "pod", "service-account", "crd-remap-version"},
		"ItemBlockAction":  {"pvc", "pod", "service-account"},
		"RestoreItemAction": {"job", "pod", "service", "service-account", "pvc", "secret", "role-bindings",
			"cluster-role-bindings", "change-storage-class", "change-image-name", "crd-preserve-fields",
			"apiservice", "admission-webhook-configuration", "add-pvc-from-pod"},
		"BackupItemActionV2": {"csi-pvc-backupper", "csi-volumesnapshot-backupper",
			"csi-volumesnapshotcontent-backupper", "csi-volumesnapshotclass-backupper"},
		"RestoreItemActionV2": {"csi-pvc-restorer", "csi-volumesnapshot-restorer",
			"csi-volumesnapshotcontent-restorer", "csi-volumesnapshotclass-restorer"},
		"DeleteItemAction": {"csi-volumesnapshotcontent-delete"},
	}
	for kind, names := range want {
		for _, n := range names {
			if !listed[kind+" velero.io/"+n] {
				t.Errorf("%s velero.io/%s is not listed", kind, n)
			}
		}
	}
	for _, p := range []string{"ObjectStore rigging.dev/filesystem", "ObjectStore velero.io/aws", "VolumeSnapshotter velero.io/aws"} {
		if !listed[p] {
			t.Errorf("%s is not listed", p)
		}
	}
}

func TestPluginsTable(t *testing.T) {
	out := runOK(t, "", "plugins")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"KIND", "NAME", "SOURCE", "ACTIVE"}) {
		t.Errorf("header %q", lines[0])
	}
	if len(lines)-1 != len(registry.Default.All()) {
		t.Errorf("%d rows, want %d", len(lines)-1, len(registry.Default.All()))
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return slices.Equal(strings.Fields(l), []string{"BackupItemAction", "velero.io/pod", "builtin", "true"})
	}) {
		t.Errorf("no row for BackupItemAction velero.io/pod:\n%s", out)
	}
}

// execJSON runs exec and decodes its output.
func execJSON(t *testing.T, stdin string, args ...string) map[string]any {
	t.Helper()
	var res map[string]any
	out := runOK(t, stdin, append([]string{"exec"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	return res
}

func ids(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not a list of identifiers", v)
	}
	var out []string
	for _, x := range list {
		m := x.(map[string]any)
		if len(m) != 4 {
			t.Errorf("identifier %v: want the keys group, resource, namespace, name", m)
		}
		out = append(out, m["group"].(string)+"/"+m["resource"].(string)+"/"+m["namespace"].(string)+"/"+m["name"].(string))
	}
	return out
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestExecPodBackupReturnsBothClaims(t *testing.T) {
	res := execJSON(t, "", "BackupItemAction", "velero.io/pod", "--item", demo+"/pod-two-pvcs.yaml")
	want := []string{"/persistentvolumeclaims/demo/web-data", "/persistentvolumeclaims/demo/web-logs"}
	if got := ids(t, res["additionalItems"]); !slices.Equal(got, want) {
		t.Errorf("additionalItems = %v, want %v", got, want)
	}
	if got, want := keys(res), []string{"additionalItems", "appliesToItem", "item", "kind", "name", "selector"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if res["appliesToItem"] != true || res["kind"] != "BackupItemAction" || res["name"] != "velero.io/pod" {
		t.Errorf("kind/name/appliesToItem = %v %v %v", res["kind"], res["name"], res["appliesToItem"])
	}
	sel := res["selector"].(map[string]any)
	if got := sel["includedResources"].([]any); len(got) != 1 || got[0] != "pods" {
		t.Errorf("selector = %v, want includedResources [pods]", sel)
	}
	if item := res["item"].(map[string]any); item["kind"] != "Pod" {
		t.Errorf("item = %v", item)
	}
}

func TestExecServiceRestoreClearsClusterIPs(t *testing.T) {
	res := execJSON(t, "", "RestoreItemAction", "service", "--item", demo+"/service-clusterip.yaml")
	spec := res["item"].(map[string]any)["spec"].(map[string]any)
	for _, k := range []string{"clusterIP", "clusterIPs"} {
		if v, ok := spec[k]; ok {
			t.Errorf("spec.%s = %v, want it cleared", k, v)
		}
	}
	if spec["type"] != "ClusterIP" || spec["ports"] == nil {
		t.Errorf("spec lost other fields: %v", spec)
	}
	if got, want := keys(res), []string{"additionalItems", "appliesToItem", "item", "kind", "name", "selector", "skipRestore"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if res["skipRestore"] != false {
		t.Errorf("skipRestore = %v", res["skipRestore"])
	}
}

func TestExecKinds(t *testing.T) {
	pod, err := os.ReadFile(demo + "/pod-two-pvcs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		keys  []string
		check func(t *testing.T, res map[string]any)
	}{
		{
			name:  "ItemBlockAction with context, item from stdin",
			args:  []string{"ItemBlockAction", "pod", "--item", "-", "--context", demo + "/claims.yaml"},
			stdin: string(pod),
			keys:  []string{"appliesToItem", "kind", "name", "relatedItems", "selector"},
			check: func(t *testing.T, res map[string]any) {
				want := []string{"/persistentvolumeclaims/demo/web-data", "/persistentvolumeclaims/demo/web-logs"}
				if got := ids(t, res["relatedItems"]); !slices.Equal(got, want) {
					t.Errorf("relatedItems = %v, want %v", got, want)
				}
			},
		},
		{
			name: "v1 backup action run as v2",
			args: []string{"BackupItemActionV2", "velero.io/pod", "--item", demo + "/pod-two-pvcs.yaml"},
			keys: []string{"additionalItems", "appliesToItem", "item", "kind", "name", "operationID", "postOperationItems", "selector"},
			check: func(t *testing.T, res map[string]any) {
				if res["operationID"] != "" || len(res["postOperationItems"].([]any)) != 0 {
					t.Errorf("operationID %v postOperationItems %v, want none", res["operationID"], res["postOperationItems"])
				}
			},
		},
		{
			name: "v1 restore action run as v2",
			args: []string{"RestoreItemActionV2", "velero.io/service", "--item", demo + "/service-clusterip.yaml"},
			keys: []string{"additionalItems", "additionalItemsReadyTimeout", "appliesToItem", "item", "kind", "name", "operationID", "selector", "skipRestore", "waitForAdditionalItems"},
			check: func(t *testing.T, res map[string]any) {
				if res["waitForAdditionalItems"] != false || res["additionalItemsReadyTimeout"] != "0s" {
					t.Errorf("wait %v timeout %v", res["waitForAdditionalItems"], res["additionalItemsReadyTimeout"])
				}
			},
		},
		{
			name: "selector that does not match the item",
			args: []string{"RestoreItemAction", "velero.io/service", "--item", demo + "/pod-two-pvcs.yaml"},
			keys: []string{"additionalItems", "appliesToItem", "item", "kind", "name", "selector", "skipRestore"},
			check: func(t *testing.T, res map[string]any) {
				if res["appliesToItem"] != false {
					t.Errorf("appliesToItem = %v, want false for a pod and velero.io/service", res["appliesToItem"])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := execJSON(t, tt.stdin, tt.args...)
			if got := keys(res); !slices.Equal(got, tt.keys) {
				t.Errorf("keys = %v, want %v", got, tt.keys)
			}
			tt.check(t, res)
		})
	}
}

func TestExecErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: [broken\n")
	two := write("two.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n")
	notBackup := write("restore.yaml", "apiVersion: velero.io/v1\nkind: Restore\nmetadata: {name: r}\n")
	pod := demo + "/pod-two-pvcs.yaml"
	tests := []struct {
		name string
		args []string
		code int
		want string // substring of stderr
	}{
		{"missing --item", []string{"exec", "BackupItemAction", "pod"}, ExitUsage, "--item is required"},
		{"invalid kind", []string{"exec", "BackupAction", "pod", "--item", pod}, ExitUsage, `invalid plugin kind: "BackupAction"`},
		{"object store kind", []string{"exec", "ObjectStore", "aws", "--item", pod}, ExitUsage, "rigging store"},
		{"restore flag on a backup kind", []string{"exec", "BackupItemAction", "pod", "--item", pod, "--restore", notBackup}, ExitUsage, "takes --backup"},
		{"backup flag on a restore kind", []string{"exec", "RestoreItemAction", "pod", "--item", pod, "--backup", notBackup}, ExitUsage, "takes --restore"},
		{"stdin twice", []string{"exec", "ItemBlockAction", "pod", "--item", "-", "--context", "-"}, ExitUsage, "one flag only"},
		{"one argument", []string{"exec", "BackupItemAction", "--item", pod}, ExitUsage, "accepts 2 arg(s)"},
		{"unknown flag", []string{"exec", "BackupItemAction", "pod", "--itme", pod}, ExitUsage, "unknown flag: --itme"},
		{"unknown plugin", []string{"exec", "BackupItemAction", "example.com/nope", "--item", pod}, ExitUsage, "no BackupItemAction plugin is named example.com/nope; 'rigging plugins' lists them"},
		{"misspelt plugin", []string{"exec", "BackupItemAction", "podd", "--item", pod}, ExitUsage, `no BackupItemAction plugin is named velero.io/podd (closest known: "velero.io/pod")`},
		{"plugin of another kind", []string{"exec", "BackupItemAction", "service", "--item", pod}, ExitUsage, "velero.io/service is a RestoreItemAction"},
		{"invalid plugin name", []string{"exec", "BackupItemAction", "Bad_Name/x", "--item", pod}, ExitUsage, "invalid plugin name"},
		{"bad item YAML", []string{"exec", "BackupItemAction", "pod", "--item", bad}, ExitFailure, bad + ": document 2 (line 5): invalid YAML"},
		{"two items", []string{"exec", "BackupItemAction", "pod", "--item", two}, ExitFailure, two + " holds 2 objects, want exactly one"},
		{"missing item file", []string{"exec", "BackupItemAction", "pod", "--item", filepath.Join(dir, "nope.yaml")}, ExitFailure, "nope.yaml: no such file"},
		{"wrong kind for --backup", []string{"exec", "BackupItemAction", "pod", "--item", pod, "--backup", notBackup}, ExitFailure, "holds a velero.io/v1 Restore, want a velero.io/v1 Backup"},
		{"bad context", []string{"exec", "BackupItemAction", "pod", "--item", pod, "--context", bad}, ExitFailure, "--context: " + bad + ": document 2 (line 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := run(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errs)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not contain %q", errs, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Contains(errs, "import _") {
				t.Errorf("stderr %q gives the library's import hint", errs)
			}
		})
	}
}

func TestExecBackupAndRestoreFiles(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.json")
	if err := os.WriteFile(backup, []byte(`{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"nightly","namespace":"velero"},"spec":{"snapshotVolumes":false}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	restore := filepath.Join(dir, "restore.yaml")
	if err := os.WriteFile(restore, []byte("apiVersion: velero.io/v1\nkind: Restore\nmetadata: {name: r1, namespace: velero}\nspec:\n  backupName: nightly\n  preserveNodePorts: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	execJSON(t, "", "BackupItemAction", "pod", "--item", demo+"/pod-two-pvcs.yaml", "--backup", backup)
	execJSON(t, "", "RestoreItemAction", "service", "--item", demo+"/service-clusterip.yaml", "--restore", restore,
		"--item-from-backup", demo+"/service-clusterip.yaml")
}

func TestUsageExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, ExitUsage, `unknown command "bogus" for "rigging"`},
		{[]string{"plugin"}, ExitUsage, `did you mean "plugins"?`},
		{[]string{"store", "bogus"}, ExitUsage, `unknown command "bogus" for "rigging store"`},
		{[]string{"--log-level", "loud", "plugins"}, ExitUsage, "--log-level"},
		{[]string{"--log-format", "xml", "plugins"}, ExitUsage, "--log-format"},
		{[]string{"plugins", "-o", "yaml"}, ExitUsage, "want table or json"},
		{[]string{"plugins", "extra"}, ExitUsage, "unknown command"},
		{[]string{"--plugin-config", "/nonexistent/config.yaml", "plugins"}, ExitFailure, "--plugin-config: open /nonexistent/config.yaml"},
		{[]string{}, ExitOK, "Usage:"},
		{[]string{"store"}, ExitOK, "Usage:"},
		{[]string{"exec", "--help"}, ExitOK, "Identifiers are objects"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errs, code := run(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errs)
			}
			if !strings.Contains(out+errs, tt.want) {
				t.Errorf("output does not contain %q:\nstdout: %s\nstderr: %s", tt.want, out, errs)
			}
			if tt.code == ExitUsage && !strings.Contains(errs, "--help' for usage.") {
				t.Errorf("usage error without the hint: %s", errs)
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	if out := runOK(t, "", "completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %.200s", out)
	}
	out := runOK(t, "", "__complete", "exec", "")
	for _, k := range []string{"BackupItemAction", "RestoreItemActionV2", "ItemBlockAction"} {
		if !strings.Contains(out, k+"\n") {
			t.Errorf("completion of KIND lacks %s:\n%s", k, out)
		}
	}
	if strings.Contains(out, "ObjectStore") {
		t.Errorf("completion of KIND offers ObjectStore:\n%s", out)
	}
	if out := runOK(t, "", "__complete", "exec", "BackupItemAction", ""); !strings.Contains(out, "velero.io/pod\n") {
		t.Errorf("completion of NAME lacks velero.io/pod:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal([]byte(runOK(t, "", "version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "revision", "modified", "goVersion", "platform", "tags", "builtins"} {
		if _, ok := v[k]; !ok {
			t.Errorf("version -o json lacks %q: %v", k, v)
		}
	}
	if int(v["builtins"].(float64)) != len(registry.Default.All()) {
		t.Errorf("builtins = %v, want %d", v["builtins"], len(registry.Default.All()))
	}
	if out := runOK(t, "", "version"); !strings.HasPrefix(out, "rigging ") || !strings.Contains(out, "built-in plugins") {
		t.Errorf("version = %q", out)
	}
}
