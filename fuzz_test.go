package rigging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rigging-dev/rigging"
)

// nameSeeds are names real plugins use (Velero's, rigging's, vendors'),
// and the malformed shapes the rules are about.
var nameSeeds = []string{
	"velero.io/aws", "aws", "velero.io/pod", "velero.io/change-storage-class", "rigging.dev/filesystem",
	"velero.io/csi-pvc-backupper", "microsoft.com/azure", "velero.io/gcp", "openshift.io/01-common-backup-plugin",
	"example.com/Name_With.Anything", "a/b", "0-9.example/x",
	"", "/", "a/", "/b", "velero.io/aws/extra", "Velero.io/aws", "-a.io/x", "a-.io/x", "a..io/x", ".a/x",
	"a.io/\x00", "\xff\xfe/x", strings.Repeat("a", 254) + "/x", "ünïcode.io/x", "a.io/ x", " a.io/x",
}

// FuzzParseName checks that ParseName never panics, that every name it
// accepts obeys Velero's rules (checked against apimachinery's own DNS-1123
// validation, not ParseName's regular expression), and that every refusal
// is a *NameError matching ErrInvalidName.
func FuzzParseName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := rigging.ParseName(s)
		if err != nil {
			var ne *rigging.NameError
			if !errors.Is(err, rigging.ErrInvalidName) || !errors.As(err, &ne) || ne.Reason == "" {
				t.Fatalf("ParseName(%q): error %v (%T) is not a *NameError matching ErrInvalidName", s, err, err)
			}
			if n != "" {
				t.Fatalf("ParseName(%q) = %q with error %v", s, n, err)
			}
			return
		}
		want := s
		if !strings.Contains(s, "/") {
			want = rigging.DefaultNamespace + "/" + s
		}
		if string(n) != want {
			t.Fatalf("ParseName(%q) = %q, want %q", s, n, want)
		}
		if strings.Count(string(n), "/") != 1 {
			t.Fatalf("ParseName(%q) = %q: not exactly one '/'", s, n)
		}
		if errs := validation.IsDNS1123Subdomain(n.Domain()); len(errs) > 0 {
			t.Fatalf("ParseName(%q) accepted domain %q that apimachinery refuses: %v", s, n.Domain(), errs)
		}
		if n.Short() == "" {
			t.Fatalf("ParseName(%q) = %q: empty short name", s, n)
		}
		if n.Domain()+"/"+n.Short() != n.String() {
			t.Fatalf("ParseName(%q): Domain %q + Short %q != %q", s, n.Domain(), n.Short(), n)
		}
		again, err := rigging.ParseName(n.String())
		if err != nil || again != n {
			t.Fatalf("ParseName(%q) = %q, but ParseName(%q) = %q, %v", s, n, n, again, err)
		}
	})
}

// FuzzParseKind checks that ParseKind never panics and accepts only the
// kinds Kinds lists.
func FuzzParseKind(f *testing.F) {
	for _, k := range rigging.Kinds() {
		f.Add(string(k))
	}
	f.Add("")
	f.Add("objectstore")
	f.Add("BackupItemActionV3")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := rigging.ParseKind(s)
		if err != nil {
			if !errors.Is(err, rigging.ErrInvalidKind) {
				t.Fatalf("ParseKind(%q): %v does not match ErrInvalidKind", s, err)
			}
			return
		}
		if !k.Valid() || k.Interface() == nil {
			t.Fatalf("ParseKind(%q) = %q, which is not a valid kind", s, k)
		}
	})
}

// backupSeeds are velero-backup.json documents as Velero v1.18 and rigging
// write them, and the shapes around them.
var backupSeeds = []string{
	`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"demo-1","namespace":"velero","labels":{"velero.io/storage-location":"default"}},` +
		`"spec":{"includedNamespaces":["app"],"storageLocation":"default","ttl":"720h0m0s","csiSnapshotTimeout":"10m0s","itemOperationTimeout":"4h0m0s",` +
		`"snapshotMoveData":false,"hooks":{},"defaultVolumesToFsBackup":false,"metadata":{}},` +
		`"status":{"version":1,"formatVersion":"1.1.0","phase":"Completed","startTimestamp":"2026-11-27T10:03:23Z","completionTimestamp":"2026-11-27T10:04:23Z",` +
		`"expiration":"2026-12-27T10:04:23Z","progress":{"totalItems":2,"itemsBackedUp":2},"hookStatus":{},"backupItemOperationsAttempted":1}}`,
	`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"b","uid":"u-1","resourceVersion":"42","generation":3,"creationTimestamp":"2026-11-27T10:00:00Z",` +
		`"annotations":{"velero.io/source-cluster-k8s-gitversion":"v1.31.2"}},"spec":{"labelSelector":{"matchLabels":{"app":"db"},` +
		`"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},"orLabelSelectors":[{"matchLabels":{"x":"y"}}],` +
		`"orderedResources":{"pods":"ns/a,ns/b"},"futureSpecField":{"nested":[1,2,{"deep":true}]}},"status":{"phase":"PartiallyFailed","errors":2,` +
		`"warnings":1,"futureStatusCounter":17},"futureTopLevel":{"z":null}}`,
	`{"metadata":{"name":"u"},"spec":{"x":1},"status":{"y":2},"z":3}`,
	`{}`, `null`, `[]`, `{"spec":null,"status":null}`, `{"spec":{"ttl":"-1h"}}`, `{"spec":{"ttl":"1e400h"}}`,
	`{"status":{"startTimestamp":"0001-01-01T00:00:00Z","expiration":"9999-12-31T23:59:59Z"}}`,
	`{"a":1,"a":2,"spec":{"b":1,"b":{}}}`, `{"metadata":{"labels":{"a":null}}}`, `{"spec":{"hooks":null}}`,
}

var restoreSeeds = []string{
	`{"kind":"Restore","apiVersion":"velero.io/v1","metadata":{"name":"r-1","namespace":"velero","uid":"7b1c"},` +
		`"spec":{"backupName":"demo-1","includedNamespaces":["*"],"namespaceMapping":{"app":"app-copy"},"restorePVs":true,` +
		`"restoreStatus":{"includedResources":["pods"]},"existingResourcePolicy":"update","itemOperationTimeout":"4h0m0s","hooks":{}},` +
		`"status":{"phase":"InProgress","startTimestamp":"2026-11-27T10:05:00Z","progress":{"totalItems":10,"itemsRestored":3}}}`,
	`{"spec":{"futureField":[1]},"status":{"futureStatus":"x"},"top":true}`,
	`{}`, `null`, `{"spec":{"namespaceMapping":{"":""}}}`,
}

// FuzzBackupJSON checks that decoding any input as a Backup never panics
// and that what decodes re-encodes stably: the first re-encoding means the
// same as the second (a member holding null and an absent member count as
// equal: apimachinery encodes a zero timestamp as null, which decodes as
// absent), and from the second on the bytes are a fixed point. Rewriting a
// backup's metadata (as the host does when it relays a Backup to a plugin)
// therefore loses nothing.
func FuzzBackupJSON(f *testing.F) {
	for _, s := range backupSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fixpoint[rigging.Backup](t, data) })
}

// FuzzRestoreJSON is FuzzBackupJSON for Restore.
func FuzzRestoreJSON(f *testing.F) {
	for _, s := range restoreSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fixpoint[rigging.Restore](t, data) })
}

func fixpoint[T any](t *testing.T, data []byte) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return
	}
	e1, err := json.Marshal(&v)
	if err != nil {
		// A value that decodes but cannot be encoded would make the host
		// fail to relay it; that must not happen.
		t.Fatalf("decoded %q but cannot re-encode: %v", data, err)
	}
	var w T
	if err := json.Unmarshal(e1, &w); err != nil {
		t.Fatalf("cannot decode own encoding %s (of %q): %v", e1, data, err)
	}
	e2, err := json.Marshal(&w)
	if err != nil {
		t.Fatalf("cannot re-encode %s: %v", e1, err)
	}
	if !sameJSON(t, e1, e2) {
		t.Fatalf("re-encoding changed the meaning:\ninput %q\nfirst  %s\nsecond %s", data, e1, e2)
	}
	var x T
	if err := json.Unmarshal(e2, &x); err != nil {
		t.Fatalf("cannot decode own encoding %s: %v", e2, err)
	}
	e3, err := json.Marshal(&x)
	if err != nil {
		t.Fatalf("cannot re-encode %s: %v", e2, err)
	}
	if !bytes.Equal(e2, e3) {
		t.Fatalf("not a fixed point:\ninput %q\nsecond %s\nthird  %s", data, e2, e3)
	}
}

// sameJSON compares two JSON documents ignoring member order and members
// whose value is null.
func sameJSON(t *testing.T, a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		t.Fatalf("not JSON: %s / %s", a, b)
	}
	return reflect.DeepEqual(dropNulls(va), dropNulls(vb))
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(e)
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}
