package rigging

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61) // 253
	tests := []struct {
		in      string
		want    Name
		wantErr string // in the error's text
	}{
		{in: "velero.io/aws", want: "velero.io/aws"},
		{in: "aws", want: "velero.io/aws"},
		{in: "pod", want: "velero.io/pod"},
		{in: "example.com/my-plugin", want: "example.com/my-plugin"},
		{in: "rigging.dev/filesystem", want: "rigging.dev/filesystem"},
		{in: "a/b", want: "a/b"},
		{in: "0-9.example/x", want: "0-9.example/x"},
		{in: "example.com/Name_With.Anything", want: "example.com/Name_With.Anything"}, // the second part only has to be non-empty
		{in: long + "/x", want: Name(long + "/x")},
		{in: "velero.io", want: "velero.io/velero.io"}, // no slash: prefixed, as Velero's host does
		{in: "", wantErr: "name is empty"},
		{in: "velero.io/aws/extra", wantErr: "exactly one '/'"},
		{in: "a//b", wantErr: "exactly one '/'"},
		{in: "/aws", wantErr: "before '/' is empty"},
		{in: "velero.io/", wantErr: "after '/' is empty"},
		{in: "/", wantErr: "before '/' is empty"},
		{in: "Velero.io/aws", wantErr: "not a DNS-1123 subdomain"},
		{in: "example-.com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: "-example.com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: "example.com-/x", wantErr: "not a DNS-1123 subdomain"},
		{in: "example..com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: "example_com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: "exa mple.com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: ".example.com/x", wantErr: "not a DNS-1123 subdomain"},
		{in: long + "a/x", wantErr: "254 characters long, more than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseName(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseName(%q) = %q, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrInvalidName) {
					t.Errorf("error %v does not match ErrInvalidName", err)
				}
				var ne *NameError
				if !errors.As(err, &ne) {
					t.Errorf("error %T is not a *NameError", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNameParts(t *testing.T) {
	n := MustParseName("aws")
	if n.Domain() != "velero.io" || n.Short() != "aws" || n.String() != "velero.io/aws" {
		t.Errorf("parts of %q: %q %q %q", n, n.Domain(), n.Short(), n.String())
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParseName of an invalid name did not panic")
		}
	}()
	MustParseName("Bad/x")
}

func TestParseKind(t *testing.T) {
	wire := []string{"ObjectStore", "VolumeSnapshotter", "BackupItemAction", "BackupItemActionV2",
		"RestoreItemAction", "RestoreItemActionV2", "DeleteItemAction", "ItemBlockAction"}
	for _, s := range wire {
		k, err := ParseKind(s)
		if err != nil || string(k) != s || !k.Valid() || k.String() != s {
			t.Errorf("ParseKind(%q) = %q, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "PluginLister", "objectstore", "BackupItemActionV3", " ObjectStore"} {
		if k, err := ParseKind(s); !errors.Is(err, ErrInvalidKind) {
			t.Errorf("ParseKind(%q) = %q, %v; want ErrInvalidKind", s, k, err)
		}
	}
	if len(Kinds()) != len(wire) {
		t.Errorf("Kinds() = %v", Kinds())
	}
	// Velero's lister order (velero-protocol.md §3.3).
	want := []Kind{KindBackupItemAction, KindBackupItemActionV2, KindVolumeSnapshotter, KindObjectStore,
		KindRestoreItemAction, KindRestoreItemActionV2, KindDeleteItemAction, KindItemBlockAction}
	if !reflect.DeepEqual(Kinds(), want) {
		t.Errorf("Kinds() = %v, want %v", Kinds(), want)
	}
	ks := Kinds()
	ks[0] = "mutated"
	if Kinds()[0] != KindBackupItemAction {
		t.Error("Kinds returns a shared slice")
	}
}

func TestAdaptsTo(t *testing.T) {
	tests := []struct {
		kind Kind
		to   Kind
		ok   bool
	}{
		{KindBackupItemAction, KindBackupItemActionV2, true},
		{KindRestoreItemAction, KindRestoreItemActionV2, true},
		{KindBackupItemActionV2, "", false},
		{KindRestoreItemActionV2, "", false},
		{KindObjectStore, "", false},
		{KindVolumeSnapshotter, "", false},
		{KindDeleteItemAction, "", false},
		{KindItemBlockAction, "", false},
		{KindPluginLister, "", false},
	}
	for _, tt := range tests {
		if to, ok := tt.kind.AdaptsTo(); to != tt.to || ok != tt.ok {
			t.Errorf("%s.AdaptsTo() = %q, %v; want %q, %v", tt.kind, to, ok, tt.to, tt.ok)
		}
	}
}

func TestKindFor(t *testing.T) {
	tests := []struct {
		got  func() (Kind, bool)
		want Kind
	}{
		{KindFor[ObjectStore], KindObjectStore},
		{KindFor[VolumeSnapshotter], KindVolumeSnapshotter},
		{KindFor[BackupItemAction], KindBackupItemAction},
		{KindFor[BackupItemActionV2], KindBackupItemActionV2},
		{KindFor[RestoreItemAction], KindRestoreItemAction},
		{KindFor[RestoreItemActionV2], KindRestoreItemActionV2},
		{KindFor[DeleteItemAction], KindDeleteItemAction},
		{KindFor[ItemBlockAction], KindItemBlockAction},
		{KindFor[any], ""},
		{KindFor[error], ""},
		{KindFor[*Backup], ""},
		{KindFor[Configurable], ""},
	}
	for i, tt := range tests {
		k, ok := tt.got()
		if k != tt.want || ok != (tt.want != "") {
			t.Errorf("case %d: KindFor = %q, %v; want %q", i, k, ok, tt.want)
		}
		if ok && k.Interface() == nil {
			t.Errorf("%s.Interface() is nil", k)
		}
	}
	if KindPluginLister.Interface() != nil || KindPluginLister.Valid() {
		t.Error("PluginLister has an interface")
	}
}

// roundTrip decodes in into a fresh *T, re-encodes it, and requires the
// result to be semantically equal to in (same JSON value, any member order).
func roundTrip[T any](t *testing.T, in string) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal([]byte(in), v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var want, got any
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("re-encoded JSON does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the object:\n in: %s\nout: %s", in, out)
	}
	// A pointer and a value encode the same.
	out2, err := json.Marshal(*v)
	if err != nil || string(out2) != string(out) {
		t.Errorf("value encoding differs from pointer encoding:\n%s\n%s", out2, out)
	}
	return v
}

func TestBackupJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, b *Backup)
	}{
		{name: "minimal velero-backup.json", in: `{"kind":"Backup","apiVersion":"velero.io/v1",
			"metadata":{"name":"demo-1","namespace":"velero","labels":{"velero.io/storage-location":"default"}},
			"spec":{"includedNamespaces":["app"],"storageLocation":"default","ttl":"720h0m0s"},
			"status":{"version":1,"formatVersion":"1.1.0","phase":"Completed",
			 "startTimestamp":"2026-11-27T10:03:23Z","completionTimestamp":"2026-11-27T10:04:23Z",
			 "expiration":"2026-12-27T10:04:23Z","progress":{"totalItems":2,"itemsBackedUp":2}}}`,
			check: func(t *testing.T, b *Backup) {
				if b.Name != "demo-1" || b.Spec.TTL.Duration != 720*time.Hour || b.Status.Phase != BackupPhaseCompleted ||
					!b.Status.Phase.Terminal() || b.Status.Progress.ItemsBackedUp != 2 || b.Unknown != nil {
					t.Errorf("decoded %+v", b)
				}
			}},
		{name: "unknown members at every level", in: `{"kind":"Backup","apiVersion":"velero.io/v1",
			"metadata":{"name":"b","namespace":"velero","uid":"u-1","resourceVersion":"42","generation":3,
			 "creationTimestamp":"2026-11-27T10:00:00Z","annotations":{"velero.io/source-cluster-k8s-gitversion":"v1.31.2"}},
			"spec":{"ttl":"24h0m0s","csiSnapshotTimeout":"10m0s","itemOperationTimeout":"4h0m0s",
			 "hooks":{"resources":[{"name":"freeze","includedNamespaces":["db"],"pre":[{"exec":{"command":["fsfreeze","-f","/data"]}}]}]},
			 "resourcePolicy":{"kind":"configmap","name":"policy"},"uploaderConfig":{"parallelFilesUpload":4},
			 "labelSelector":{"matchLabels":{"app":"db"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},
			 "orderedResources":{"pods":"ns/a,ns/b"},"defaultVolumesToFsBackup":false,"snapshotVolumes":true,
			 "metadata":{"labels":{"team":"x"}},
			 "futureSpecField":{"nested":[1,2,{"deep":true}]},"anotherNewFlag":true},
			"status":{"phase":"PartiallyFailed","errors":2,"warnings":1,"hookStatus":{"hooksAttempted":1},
			 "validationErrors":["x"],"futureStatusCounter":17,"futureStatusList":["a"]},
			"futureTopLevel":{"z":null},"aaFirst":"sorted before apiVersion"}`,
			check: func(t *testing.T, b *Backup) {
				if len(b.Unknown) != 2 || len(b.Spec.Unknown) != 2 || len(b.Status.Unknown) != 2 {
					t.Errorf("unknown members: top %v, spec %v, status %v", b.Unknown, b.Spec.Unknown, b.Status.Unknown)
				}
				if string(b.Spec.Unknown["anotherNewFlag"]) != "true" {
					t.Errorf("spec.anotherNewFlag = %s", b.Spec.Unknown["anotherNewFlag"])
				}
				if b.Spec.LabelSelector.MatchLabels["app"] != "db" || b.Status.Errors != 2 || b.Generation != 3 {
					t.Errorf("known members lost: %+v", b)
				}
			}},
		{name: "empty spec and status", in: `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"e"},"spec":{},"status":{}}`},
		{name: "unknown only", in: `{"metadata":{"name":"u"},"spec":{"x":1},"status":{"y":2},"z":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := roundTrip[Backup](t, tt.in)
			if tt.check != nil {
				tt.check(t, b)
			}
		})
	}
}

func TestBackupJSONDecodeResetsUnknown(t *testing.T) {
	var b Backup
	if err := json.Unmarshal([]byte(`{"old":1,"spec":{"oldSpec":1}}`), &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"n"}}`), &b); err != nil {
		t.Fatal(err)
	}
	if b.Unknown != nil {
		t.Errorf("Unknown kept from a previous decode: %v", b.Unknown)
	}
	var nilBackup *Backup
	if err := json.Unmarshal([]byte(`null`), &nilBackup); err != nil || nilBackup != nil {
		t.Errorf("null: %v, %v", nilBackup, err)
	}
	if err := json.Unmarshal([]byte(`{"spec":[1]}`), &b); err == nil {
		t.Error("a spec that is not an object decoded")
	}
}

func TestRestoreJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, r *Restore)
	}{
		{name: "typical", in: `{"kind":"Restore","apiVersion":"velero.io/v1",
			"metadata":{"name":"r-1","namespace":"velero"},
			"spec":{"backupName":"demo-1","includedNamespaces":["app"],"namespaceMapping":{"app":"app-copy"},
			 "restorePVs":true,"existingResourcePolicy":"update","itemOperationTimeout":"4h0m0s",
			 "restoreStatus":{"includedResources":["workflows"]},
			 "hooks":{"resources":[{"name":"h","postHooks":[{"init":{"initContainers":[{"name":"c","image":"busybox"}]}}]}]}},
			"status":{"phase":"InProgress","progress":{"totalItems":10,"itemsRestored":3}}}`,
			check: func(t *testing.T, r *Restore) {
				if r.Spec.BackupName != "demo-1" || r.Spec.NamespaceMapping["app"] != "app-copy" || r.Status.Progress.ItemsRestored != 3 {
					t.Errorf("decoded %+v", r)
				}
			}},
		{name: "unknown members at every level", in: `{"kind":"Restore","apiVersion":"velero.io/v1","metadata":{"name":"r"},
			"spec":{"backupName":"b","resourceModifier":{"kind":"configmap","name":"m"},"futureSpec":{"a":[true]}},
			"status":{"phase":"Completed","futureStatus":"x"},"futureTop":[1]}`,
			check: func(t *testing.T, r *Restore) {
				if string(r.Unknown["futureTop"]) != "[1]" || r.Spec.Unknown["futureSpec"] == nil || string(r.Status.Unknown["futureStatus"]) != `"x"` {
					t.Errorf("unknown members: %v %v %v", r.Unknown, r.Spec.Unknown, r.Status.Unknown)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := roundTrip[Restore](t, tt.in)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestUnknownDoesNotOverrideKnown(t *testing.T) {
	b := Backup{Unknown: Unknown{"kind": json.RawMessage(`"Sneaky"`), "extra": json.RawMessage(`1`)}}
	b.Kind = "Backup"
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if m["kind"] != "Backup" || m["extra"] != float64(1) {
		t.Errorf("encoded %s", out)
	}
}
