package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readme returns the repository's README.md.
func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readmeQuote returns the text between backquotes in the README that starts
// with prefix.
func readmeQuote(t *testing.T, doc, prefix string) string {
	t.Helper()
	m := regexp.MustCompile("`(" + regexp.QuoteMeta(prefix) + "[^`]*)`").FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("README.md quotes no message starting with %q", prefix)
	}
	return m[1]
}

// TestReadmeErrorExamples: the error messages the README shows are the ones
// rigging prints.
func TestReadmeErrorExamples(t *testing.T) {
	doc := readme(t)

	t.Run("unknown exec plugin", func(t *testing.T) {
		want := readmeQuote(t, doc, "rigging: no BackupItemAction plugin is named velero.io/podd")
		_, errs, code := run(t, "", "exec", "BackupItemAction", "podd", "--item", demo+"/pod-two-pvcs.yaml")
		if got, _, _ := strings.Cut(errs, "\n"); code != ExitUsage || got != want {
			t.Errorf("exit %d, stderr %q; README.md says exit 2 and %q", code, errs, want)
		}
	})

	t.Run("bad YAML", func(t *testing.T) {
		// The README's example: document 2 starts on line 12, the parser
		// fails on line 16.
		want := readmeQuote(t, doc, "rigging: --item: pod.yaml: document ")
		pod := strings.Repeat("# a comment\n", 7) + "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n" +
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  bad: : [\n"
		t.Chdir(t.TempDir())
		if err := os.WriteFile("pod.yaml", []byte(pod), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs, code := run(t, "", "exec", "BackupItemAction", "pod", "--item", "pod.yaml")
		if code != ExitFailure || errs != want+"\n" {
			t.Errorf("exit %d, stderr %q; README.md says %q", code, errs, want)
		}
	})
}

// TestReadmeFirstRun: the README says what the first run needs and costs,
// for the toolchain the Makefile names.
func TestReadmeFirstRun(t *testing.T) {
	doc := readme(t)
	mk, err := os.ReadFile(filepath.Join("../../..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^export GOTOOLCHAIN \?= go(\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile sets no GOTOOLCHAIN")
	}
	first, _, _ := strings.Cut(doc[strings.Index(doc, "## First two commands"):], "\nTo try the plugins")
	for _, want := range []string{
		"and `make`",                               // make is needed
		"What the first run costs",                 // the section
		"downloads the Go " + string(m[1]),         // the Makefile's toolchain
		"GOTOOLCHAIN=go" + string(m[1]),            // measured with it
		"module cache", "build cache", "wall time", // disk and time
	} {
		if !strings.Contains(first, want) {
			t.Errorf("README.md's first commands lack %q", want)
		}
	}
}
