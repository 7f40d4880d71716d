package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
)

var t0 = time.Date(2026, 11, 27, 10, 3, 23, 0, time.UTC)

func TestWriterLayout(t *testing.T) {
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, t0)
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.WriteItem(schema.GroupResource{Resource: "pods"}, "v1", "app", "web", []byte(`{"kind":"Pod"}`)))
	must(t, w.WriteItem(schema.GroupResource{Group: "apps", Resource: "deployments"}, "v1", "app", "web", []byte(`{"kind":"Deployment"}`)))
	must(t, w.WriteItem(schema.GroupResource{Resource: "namespaces"}, "v1", "", "app", []byte(`{"kind":"Namespace"}`)))
	// A second version of an already seen resource goes to the same folder.
	must(t, w.WriteItem(schema.GroupResource{Group: "apps", Resource: "deployments"}, "v1beta1", "app", "old", []byte(`{"kind":"Deployment"}`)))
	must(t, w.Close())

	zr, err := gzip.NewReader(&buf)
	must(t, err)
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if h.Typeflag != tar.TypeReg || h.Mode != 0o755 {
			t.Errorf("%s: type %q mode %o, want regular 0755", h.Name, h.Typeflag, h.Mode)
		}
		if !h.ModTime.Equal(t0) {
			t.Errorf("%s: modtime %v", h.Name, h.ModTime)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == "metadata/version" && string(data) != "1.1.0\n" {
			t.Errorf("metadata/version = %q", data)
		}
		names = append(names, h.Name)
	}
	want := []string{
		"metadata/version",
		"resources/pods/namespaces/app/web.json",
		"resources/pods/v1-preferredversion/namespaces/app/web.json",
		"resources/deployments.apps/namespaces/app/web.json",
		"resources/deployments.apps/v1-preferredversion/namespaces/app/web.json",
		"resources/namespaces/cluster/app.json",
		"resources/namespaces/v1-preferredversion/cluster/app.json",
		"resources/deployments.apps/namespaces/app/old.json",
		"resources/deployments.apps/v1-preferredversion/namespaces/app/old.json",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}

func TestWriterRejectsUnsafeItems(t *testing.T) {
	w, err := archive.NewWriter(io.Discard, t0)
	must(t, err)
	defer w.Close()
	for _, tc := range []struct{ ns, name string }{
		{"app", "../x"}, {"app", ""}, {"..", "x"}, {"app", "a/b"}, {"a\x00", "x"},
	} {
		err := w.WriteItem(schema.GroupResource{Resource: "pods"}, "v1", tc.ns, tc.name, nil)
		if !errors.Is(err, archive.ErrInvalidItem) {
			t.Errorf("ns %q name %q: err %v, want ErrInvalidItem", tc.ns, tc.name, err)
		}
	}
}

type entry struct {
	name string
	typ  byte
	data string
	size int64 // overrides len(data) in the header when > 0
	link string
}

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o755, Size: int64(len(e.data)), Linkname: e.link, Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(e.data))
			must(t, err)
		}
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

func TestReadTolerates(t *testing.T) {
	data := tarball(t,
		entry{name: "resources/pods/v1-preferredversion/namespaces/app/web.json", data: `"pref"`},
		entry{name: "resources/pods/namespaces/app/web.json", data: `"classic-1"`},
		entry{name: "resources/pods/namespaces/app/web.json", data: `"classic-2"`}, // duplicate: last wins
		entry{name: "resources/pods/v1-preferredversion/namespaces/app/web.json", data: `"pref-again"`},
		entry{name: "resources/", typ: tar.TypeDir},
		entry{name: "./resources/jobs.batch/v1/namespaces/app/only-versioned.json", data: `"v1"`},
		entry{name: "resources/jobs.batch/v1-preferredversion/namespaces/app/pref-only.json", data: `"p"`},
		entry{name: "resources/jobs.batch/v1beta1/namespaces/app/pref-only.json", data: `"old"`},
		entry{name: "resources/namespaces/cluster/app.json", data: `"ns"`},
		entry{name: "README", data: "ignored"},
		entry{name: "metadata/version", data: "1.1.0\n"},
	)
	c, err := archive.Read(bytes.NewReader(data), archive.Limits{})
	must(t, err)
	if c.Version != "1.1.0" {
		t.Errorf("version %q", c.Version)
	}
	checks := []struct{ gr, ns, name, data, verDir string }{
		{"pods", "app", "web", `"classic-2"`, ""},
		{"jobs.batch", "app", "only-versioned", `"v1"`, "v1"},
		{"jobs.batch", "app", "pref-only", `"p"`, "v1-preferredversion"},
		{"namespaces", "", "app", `"ns"`, ""},
	}
	for _, ck := range checks {
		it := c.Get(ck.gr, ck.ns, ck.name)
		if it == nil {
			t.Errorf("%s/%s/%s missing", ck.gr, ck.ns, ck.name)
			continue
		}
		if string(it.Data) != ck.data || it.VersionDir != ck.verDir {
			t.Errorf("%s/%s/%s = %s from %q, want %s from %q", ck.gr, ck.ns, ck.name, it.Data, it.VersionDir, ck.data, ck.verDir)
		}
	}
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4", c.Len())
	}
	if got := strings.Join(c.Resources(), ","); got != "jobs.batch,namespaces,pods" {
		t.Errorf("Resources = %s", got)
	}
	if got := strings.Join(c.VersionDirs("jobs.batch"), ","); got != "v1,v1-preferredversion,v1beta1" {
		t.Errorf("VersionDirs = %s", got)
	}
}

func TestReadRefuses(t *testing.T) {
	big := strings.Repeat("x", 2048)
	for _, tc := range []struct {
		name string
		data []byte
		lim  archive.Limits
		want error
	}{
		{"dotdot", tarball(t, entry{name: "resources/../../etc/passwd", data: "x"}), archive.Limits{}, archive.ErrUnsafePath},
		{"absolute", tarball(t, entry{name: "/etc/passwd", data: "x"}), archive.Limits{}, archive.ErrUnsafePath},
		{"symlink", tarball(t, entry{name: "resources/pods/namespaces/a/x.json", typ: tar.TypeSymlink, link: "/etc/passwd"}), archive.Limits{}, archive.ErrUnsupportedEntry},
		{"hardlink", tarball(t, entry{name: "resources/pods/namespaces/a/x.json", typ: tar.TypeLink, link: "metadata/version"}), archive.Limits{}, archive.ErrUnsupportedEntry},
		{"oversized entry", tarball(t, entry{name: "resources/pods/namespaces/a/x.json", data: big}), archive.Limits{MaxEntrySize: 1024}, archive.ErrTooLarge},
		{"gzip bomb", bomb(t, 8<<20), archive.Limits{MaxTotalSize: 1 << 20}, archive.ErrTooLarge},
		{"too many entries", tarball(t, entry{name: "a", data: "1"}, entry{name: "b", data: "2"}, entry{name: "c", data: "3"}), archive.Limits{MaxEntries: 2}, archive.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := archive.Read(bytes.NewReader(tc.data), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := archive.Read(strings.NewReader("not gzip"), archive.Limits{}); err == nil {
		t.Error("non-gzip input accepted")
	}
}

// bomb is a small gzip stream of a tar with one entry of n zero bytes.
func bomb(t *testing.T, n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	must(t, tw.WriteHeader(&tar.Header{Name: "resources/pods/namespaces/a/x.json", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(n)}))
	_, err := tw.Write(make([]byte, n))
	must(t, err)
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	must(t, err)
	out, err := io.ReadAll(zr)
	must(t, err)
	return string(out)
}

func TestSidecarEncodings(t *testing.T) {
	created := metav1.NewTime(t0)
	var res archive.Results
	res.Errors.Add("app", "boom")
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"empty results", archive.Results{}, `{"errors":{},"warnings":{}}` + "\n"},
		{"results", res, `{"errors":{"namespaces":{"app":["boom"]}},"warnings":{}}` + "\n"},
		{"nil list", []*archive.BackupOperation(nil), "null\n"},
		{"empty list", []*archive.BackupOperation{}, "[]\n"},
		{"resource list", archive.ResourceList{"v1/Pod": {"app/a"}}, `{"v1/Pod":["app/a"]}` + "\n"},
		{"operation", []*archive.BackupOperation{{
			Spec: archive.BackupOperationSpec{BackupName: "b", BackupItemAction: "velero.io/x", OperationID: "op1",
				ResourceIdentifier: rigging.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "persistentvolumeclaims"}, Namespace: "app", Name: "data"}},
			Status: archive.OperationStatus{Phase: archive.OperationPhaseNew, Created: &created},
		}}, `[{"spec":{"backupName":"b","backupUID":"","backupItemAction":"velero.io/x","resourceIdentifier":{"Group":"","Resource":"persistentvolumeclaims","Namespace":"app","Name":"data"},"operationID":"op1","postOperationItems":null},"status":{"phase":"New","created":"2026-11-27T10:03:23Z"}}]` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			must(t, archive.WriteJSONGzip(&buf, tc.v))
			if got := gunzip(t, buf.Bytes()); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestBackupMetadata(t *testing.T) {
	start := metav1.NewTime(t0)
	b := &rigging.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-1", Namespace: "velero"},
		Spec:       rigging.BackupSpec{TTL: metav1.Duration{Duration: 720 * time.Hour}, StorageLocation: "default"},
		Status:     rigging.BackupStatus{Version: 1, FormatVersion: "1.1.0", Phase: rigging.BackupPhaseCompleted, StartTimestamp: &start},
	}
	var buf bytes.Buffer
	must(t, archive.EncodeBackup(&buf, b))
	out := buf.String()
	if !strings.HasPrefix(out, "{\n  \"kind\": \"Backup\",\n  \"apiVersion\": \"velero.io/v1\",\n  \"metadata\": {") {
		t.Errorf("unexpected start:\n%s", out)
	}
	if strings.HasSuffix(out, "\n") {
		t.Error("trailing newline")
	}
	for _, want := range []string{`"ttl": "720h0m0s"`, `"phase": "Completed"`, `"startTimestamp": "2026-11-27T10:03:23Z"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	got, err := archive.DecodeBackup(strings.NewReader(out), "demo-1")
	must(t, err)
	if got.Name != "demo-1" || got.Status.Phase != rigging.BackupPhaseCompleted || got.Spec.TTL.Duration != 720*time.Hour {
		t.Errorf("decoded %+v", got)
	}

	for _, tc := range []struct{ name, json, folder string }{
		{"no kind", `{"apiVersion":"velero.io/v1","metadata":{"name":"x"}}`, "x"},
		{"no apiVersion", `{"kind":"Backup","metadata":{"name":"x"}}`, "x"},
		{"wrong kind", `{"kind":"Restore","apiVersion":"velero.io/v1","metadata":{"name":"x"}}`, "x"},
		{"bad ttl", `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"x"},"spec":{"ttl":"30d"}}`, "x"},
		{"bad time", `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"x"},"status":{"startTimestamp":"yesterday"}}`, "x"},
		{"lies about name", `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"other"}}`, "x"},
		{"not json", `{`, "x"},
	} {
		if _, err := archive.DecodeBackup(strings.NewReader(tc.json), tc.folder); !errors.Is(err, archive.ErrInvalidMetadata) {
			t.Errorf("%s: err %v, want ErrInvalidMetadata", tc.name, err)
		}
	}
	// Unknown members survive.
	b2, err := archive.DecodeBackup(strings.NewReader(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"x"},"spec":{"futureField":1}}`), "x")
	must(t, err)
	if string(b2.Spec.Unknown["futureField"]) != "1" {
		t.Errorf("unknown member lost: %v", b2.Spec.Unknown)
	}
}

func TestLayoutKeys(t *testing.T) {
	l := archive.NewLayout("/velero/")
	for _, tc := range []struct{ got, want string }{
		{l.BackupKey("b", archive.BackupMetadata), "velero/backups/b/velero-backup.json"},
		{l.BackupKey("b", archive.BackupContents), "velero/backups/b/b.tar.gz"},
		{l.BackupKey("b", archive.BackupResults), "velero/backups/b/b-results.gz"},
		{l.BackupKey("b", archive.BackupItemOperations), "velero/backups/b/b-itemoperations.json.gz"},
		{l.RestoreKey("r", archive.RestoreLog), "velero/restores/r/restore-r-logs.gz"},
		{l.RestoreKey("r", archive.RestoreVolumeInfo), "velero/restores/r/r-volumeinfo.json.gz"},
		{archive.NewLayout("").BackupsDir(), "backups/"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	for _, bad := range []string{"", "A", "a/b", "..", "-a", strings.Repeat("a", 254)} {
		if err := archive.ValidateName(bad); !errors.Is(err, archive.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v", bad, err)
		}
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	mem := archivetest.NewMemStore()
	s := archive.NewStore(mem, "bkt", "p")
	b := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "good"}, Status: rigging.BackupStatus{Phase: rigging.BackupPhaseCompleted}}
	must(t, s.PutBytes(ctx, s.Layout.BackupKey("good", archive.BackupContents), []byte("x")))
	must(t, s.PutBackupMetadata(ctx, b))
	// A folder without velero-backup.json (an interrupted upload) is not listed.
	must(t, s.PutBytes(ctx, s.Layout.BackupKey("partial", archive.BackupContents), []byte("x")))
	// A metadata file that lies about its name is listed with its error.
	must(t, s.PutBytes(ctx, s.Layout.BackupKey("liar", archive.BackupMetadata), []byte(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"good"}}`)))

	listed, err := s.Backups(ctx)
	must(t, err)
	if len(listed) != 2 || listed[0].Name != "good" || listed[0].Err != nil || listed[1].Name != "liar" || !errors.Is(listed[1].Err, archive.ErrInvalidMetadata) {
		t.Fatalf("Backups = %+v", listed)
	}
	if _, err := s.GetBackup(ctx, "partial"); !errors.Is(err, archive.ErrBackupNotFound) || !errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("GetBackup(partial) = %v", err)
	}
	must(t, s.IsValid(ctx))
	must(t, mem.PutObject(ctx, "bkt", "p/junk/x", strings.NewReader("x")))
	if err := s.IsValid(ctx); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Errorf("IsValid with junk folder = %v", err)
	}

	// A failing producer leaves nothing behind and its error is returned.
	boom := errors.New("boom")
	err = s.Put(ctx, "p/backups/x/x.tar.gz", func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Put error %v", err)
	}
	if ok, _ := mem.ObjectExists(ctx, "bkt", "p/backups/x/x.tar.gz"); ok {
		t.Error("partial object stored")
	}
	// A failing store stops the producer.
	fs := &archivetest.FailingStore{ObjectStore: mem, FailPut: 1}
	s2 := archive.NewStore(fs, "bkt", "p")
	err = s2.Put(ctx, "p/backups/y/y.tar.gz", func(w io.Writer) error {
		for range 1000 {
			if _, err := w.Write(make([]byte, 4096)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		t.Error("Put on failing store succeeded")
	}

	must(t, s.DeleteBackup(ctx, "good"))
	if keys := mem.Keys("bkt"); strings.Contains(strings.Join(keys, ","), "backups/good/") {
		t.Errorf("keys left: %v", keys)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wordyStore reports a missing object as Velero's AWS plugin does over
// gRPC: a plain error that names S3's NoSuchKey but wraps no sentinel.
type wordyStore struct{ rigging.ObjectStore }

func (w wordyStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if ok, err := w.ObjectExists(ctx, bucket, key); err != nil || !ok {
		return nil, errors.New("rpc error: code = Unknown desc = operation error S3: GetObject, StatusCode: 404, NoSuchKey")
	}
	return w.ObjectStore.GetObject(ctx, bucket, key)
}

// TestStoreMissingObjectInWords: a store whose GetObject reports a missing
// key only in words still gives rigging.ErrNotFound (and
// ErrBackupNotFound) for it, so an optional sidecar Velero did not write
// (NAME-csi-volumesnapshots.json.gz without snapshots) reads as absent;
// any other failure stays a failure.
func TestStoreMissingObjectInWords(t *testing.T) {
	ctx := context.Background()
	mem := archivetest.NewMemStore()
	s := archive.NewStore(wordyStore{mem}, "bkt", "")
	b := &rigging.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: rigging.BackupStatus{Phase: rigging.BackupPhaseCompleted}}
	must(t, s.PutBackupMetadata(ctx, b))

	var v []any
	err := s.ReadBackupJSON(ctx, "b", archive.BackupCSIVolumeSnapshots, &v)
	if !errors.Is(err, rigging.ErrNotFound) || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("ReadBackupJSON of a missing sidecar = %v, want rigging.ErrNotFound with the store's words", err)
	}
	if _, err := s.GetBackup(ctx, "gone"); !errors.Is(err, archive.ErrBackupNotFound) {
		t.Errorf("GetBackup(gone) = %v, want ErrBackupNotFound", err)
	}
	if _, err := s.GetBackup(ctx, "b"); err != nil {
		t.Errorf("GetBackup(b) = %v", err)
	}
	// A present object whose read fails is not "not found".
	must(t, s.PutBytes(ctx, s.Layout.BackupKey("b", archive.BackupResults), []byte("x")))
	broken := archive.NewStore(brokenGet{mem}, "bkt", "")
	if err := broken.ReadBackupJSON(ctx, "b", archive.BackupResults, &v); err == nil || errors.Is(err, rigging.ErrNotFound) {
		t.Errorf("ReadBackupJSON with a failing GetObject = %v, want an error other than rigging.ErrNotFound", err)
	}
}

// brokenGet fails every GetObject.
type brokenGet struct{ rigging.ObjectStore }

func (brokenGet) GetObject(context.Context, string, string) (io.ReadCloser, error) {
	return nil, errors.New("connection reset")
}
