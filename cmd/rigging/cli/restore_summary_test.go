package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestRestoreSummaryNotRestored: the restore summary says, one line per
// resource and reason, what of the backup was not restored and why.
// (Pods are not in this backup: the test binary's failing actions drop
// them, failing_test.go.)
func TestRestoreSummaryNotRestored(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	runOK(t, "", "backup", "create", "all", "--from", clusterExportDir)

	lines := func(out string) []string {
		var got []string
		space := regexp.MustCompile(`\s{2,}`)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  ") {
				got = append(got, space.ReplaceAllString(strings.TrimSpace(l), " | "))
			}
		}
		return got
	}
	tests := []struct {
		name  string
		args  []string
		want  []string // lines, in order, that must appear
		total string
	}{
		{
			name:  "whole backup",
			args:  []string{"--to", "DIR"},
			total: "Not restored: 25 of the backup's 114 items:",
			want: []string{
				"persistentvolumes | 4 | provisioned again: no snapshot and reclaim policy Delete",
				"secrets | 12 | skipped by plugin velero.io/secret",
				"events | 2 | never restored (Velero's non-restorable resources)",
				"jobs.batch | 2 | job has completed",
				"nodes | 2 | never restored (Velero's non-restorable resources)",
				"volumeattachments.storage.k8s.io | 3 | never restored (Velero's non-restorable resources)",
			},
		},
		{
			name:  "filters",
			args:  []string{"--to", "DIR", "--include-namespaces", "shop", "--exclude-resources", "configmaps", "--selector", "app.kubernetes.io/part-of=shop"},
			total: "Not restored:",
			want: []string{
				"customresourcedefinitions.apiextensions.k8s.io | 1 | cluster-scoped, cluster resources not included",
				"namespaces | 2 | excluded by the namespace filter",
				"persistentvolumeclaims | 1 | excluded by the label selector",
				"secrets | 6 | excluded by the label selector",
				"configmaps | 8 | excluded by the resource filter",
				"jobs.batch | 2 | job has completed",
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"restore", "create", "r" + string(rune('a'+i)), "--from-backup", "all"}, tc.args...)
			for j, a := range args {
				if a == "DIR" {
					args[j] = t.TempDir() + "/out"
				}
			}
			out := runOK(t, "", args...)
			if !strings.Contains(out, tc.total) {
				t.Errorf("no %q in:\n%s", tc.total, out)
			}
			got := lines(out)
			next := 0
			for _, w := range tc.want {
				k := next
				for k < len(got) && got[k] != w {
					k++
				}
				if k == len(got) {
					t.Errorf("line %q missing or out of order in:\n%s", w, strings.Join(got, "\n"))
					continue
				}
				next = k + 1
			}
		})
	}

	// With --to -, stdout is the manifests; the summary goes to stderr.
	stdout, stderr, code := run(t, "", "restore", "create", "rs", "--from-backup", "all", "--to", "-")
	if code != ExitOK || strings.Contains(stdout, "Not restored") || !strings.Contains(stderr, "events") || !strings.Contains(stderr, "Not restored: 25 of the backup's 114 items:") {
		t.Errorf("--to -: exit %d, summary in stdout %t, stderr:\n%s", code, strings.Contains(stdout, "Not restored"), stderr)
	}
}
