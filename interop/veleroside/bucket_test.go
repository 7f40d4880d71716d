package veleroside

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	velerov1api "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	varchive "github.com/vmware-tanzu/velero/pkg/archive"
	"github.com/vmware-tanzu/velero/pkg/persistence"
	vfs "github.com/vmware-tanzu/velero/pkg/util/filesystem"
	"github.com/vmware-tanzu/velero/pkg/util/results"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	_ "github.com/rigging-dev/rigging/builtin/pod"
	_ "github.com/rigging-dev/rigging/builtin/pv"
	_ "github.com/rigging-dev/rigging/builtin/pvc"
	_ "github.com/rigging-dev/rigging/builtin/serviceaccount"
	"github.com/rigging-dev/rigging/interop/internal/testbin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

const (
	bucketName = "rigging"
	prefix     = "velero"
	asyncName  = "interop.rigging.dev/async"
)

// asyncAction is an in-process BackupItemActionV2 that starts one operation
// per Deployment, complete at its first Progress, so rigging's backup writes
// an item-operations file for Velero to decode.
type asyncAction struct{}

func (asyncAction) Name() string { return asyncName }

func (asyncAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"deployments.apps"}}, nil
}

func (asyncAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, string, []rigging.ResourceIdentifier, error) {
	post := []rigging.ResourceIdentifier{{GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: item.GetNamespace(), Name: item.GetName() + "-post"}}
	return nil, nil, "op-" + item.GetNamespace() + "-" + item.GetName(), post, nil
}

func (asyncAction) Progress(_ context.Context, id string, _ *rigging.Backup) (rigging.OperationProgress, error) {
	return rigging.OperationProgress{Completed: true, NCompleted: 1, NTotal: 1, OperationUnits: "steps", Description: "done " + id}, nil
}

func (asyncAction) Cancel(context.Context, string, *rigging.Backup) error { return nil }

func init() {
	registry.Register(asyncName, func(*slog.Logger) (rigging.BackupItemActionV2, error) { return asyncAction{}, nil })
}

// riggingStore opens rigging's filesystem store over root.
func riggingStore(t *testing.T, root string) *filesystem.Store {
	t.Helper()
	fs := filesystem.New()
	if err := fs.Init(context.Background(), map[string]string{filesystem.KeyRoot: root}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// veleroBackupStore is what a Velero server builds for a
// BackupStorageLocation, over rigging's filesystem store.
func veleroBackupStore(t *testing.T, root string) persistence.BackupStore {
	t.Helper()
	bsl := &velerov1api.BackupStorageLocation{Spec: velerov1api.BackupStorageLocationSpec{
		Provider: filesystem.Name,
		Config:   map[string]string{filesystem.KeyRoot: root},
		StorageType: velerov1api.StorageType{ObjectStorage: &velerov1api.ObjectStorageLocation{
			Bucket: bucketName, Prefix: prefix,
		}},
	}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	bs, err := persistence.NewObjectBackupStoreGetter(nil).Get(bsl, getter{veleroStore{filesystem.New()}}, log)
	if err != nil {
		t.Fatalf("velero backup store: %v", err)
	}
	return bs
}

// TestVeleroReadsRiggingBucket backs up the cluster-export manifests with
// rigging (built-in actions plus an asynchronous one) and reads the bucket
// with Velero's own persistence and archive packages.
func TestVeleroReadsRiggingBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := t.TempDir()
	items, err := manifest.Load(filepath.Join(testbin.RepoRoot(), "testdata", "manifests", "cluster-export"))
	if err != nil {
		t.Fatal(err)
	}
	m := manager.New(manager.Options{})
	defer m.Close()
	store := archive.NewStore(riggingStore(t, root), bucketName, prefix)
	sums := map[string]*backup.Summary{}
	for _, tc := range []struct {
		name string
		spec rigging.BackupSpec
	}{
		{"whole-cluster", rigging.BackupSpec{}},
		{"shop", rigging.BackupSpec{IncludedNamespaces: []string{"shop"}}},
	} {
		sum, err := backup.Run(ctx, backup.Options{
			Name: tc.name, Items: items, Spec: tc.spec, Store: store, Plugins: m,
			Labels: map[string]string{"team": "interop"}, OperationPollInterval: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("rigging backup %s: %v", tc.name, err)
		}
		if sum.Backup.Status.Phase != rigging.BackupPhaseCompleted {
			t.Fatalf("rigging backup %s: phase %s, results %+v", tc.name, sum.Backup.Status.Phase, sum.Results)
		}
		sums[tc.name] = sum
	}

	bs := veleroBackupStore(t, root)
	if err := bs.IsValid(); err != nil {
		t.Errorf("IsValid: %v", err)
	}
	names, err := bs.ListBackups()
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"shop", "whole-cluster"}) {
		t.Errorf("ListBackups = %q, %v", names, err)
	}
	for name, sum := range sums {
		t.Run(name, func(t *testing.T) { checkVeleroReads(t, bs, name, sum) })
	}
}

// checkVeleroReads reads backup name, which rigging's run sum wrote, with
// Velero's persistence and archive packages, as a Velero server syncs,
// describes and restores it.
func checkVeleroReads(t *testing.T, bs persistence.BackupStore, name string, sum *backup.Summary) {
	t.Helper()
	if ok, err := bs.BackupExists(bucketName, name); err != nil || !ok {
		t.Errorf("BackupExists = %t, %v", ok, err)
	}
	b, err := bs.GetBackupMetadata(name)
	if err != nil {
		t.Fatalf("GetBackupMetadata: %v", err)
	}
	want := sum.Backup
	if b.Name != name || b.Status.Phase != velerov1api.BackupPhaseCompleted || b.Status.FormatVersion != "1.1.0" ||
		b.Labels["team"] != "interop" || b.Labels[velerov1api.StorageLocationLabel] != "default" ||
		!slices.Equal(b.Spec.IncludedNamespaces, want.Spec.IncludedNamespaces) || b.Spec.StorageLocation != "default" ||
		b.Status.Progress == nil || b.Status.Progress.ItemsBackedUp != want.Status.Progress.ItemsBackedUp ||
		b.Status.Expiration == nil || b.Spec.TTL.Duration != backup.DefaultTTL {
		t.Errorf("GetBackupMetadata = %+v (labels %v), rigging wrote %+v", b.Status, b.Labels, want.Status)
	}
	if b.Status.BackupItemOperationsAttempted != want.Status.BackupItemOperationsAttempted || b.Status.BackupItemOperationsAttempted == 0 {
		t.Errorf("operations attempted %d, rigging wrote %d", b.Status.BackupItemOperationsAttempted, want.Status.BackupItemOperationsAttempted)
	}

	ops, err := bs.GetBackupItemOperations(name)
	if err != nil || len(ops) != want.Status.BackupItemOperationsAttempted {
		t.Fatalf("GetBackupItemOperations = %d ops, %v", len(ops), err)
	}
	for _, op := range ops {
		ri := op.Spec.ResourceIdentifier
		if op.Spec.BackupName != name || op.Spec.BackupItemAction != asyncName || ri.Resource != "deployments" || ri.Group != "apps" ||
			op.Spec.OperationID != "op-"+ri.Namespace+"-"+ri.Name || len(op.Spec.PostOperationItems) != 1 ||
			op.Spec.PostOperationItems[0].Name != ri.Name+"-post" || op.Status.Phase != "Completed" || op.Spec.BackupUID != string(b.UID) {
			t.Errorf("item operation %+v", op)
		}
	}
	if _, err := bs.GetBackupVolumeSnapshots(name); err != nil {
		t.Errorf("GetBackupVolumeSnapshots: %v", err)
	}
	if _, err := bs.GetPodVolumeBackups(name); err != nil {
		t.Errorf("GetPodVolumeBackups: %v", err)
	}
	if _, err := bs.GetBackupVolumeInfos(name); err != nil {
		t.Errorf("GetBackupVolumeInfos: %v", err)
	}
	if _, err := bs.GetCSIVolumeSnapshots(name); err != nil {
		t.Errorf("GetCSIVolumeSnapshots: %v", err)
	}
	if _, err := bs.GetCSIVolumeSnapshotClasses(name); err != nil {
		t.Errorf("GetCSIVolumeSnapshotClasses: %v", err)
	}

	// What `velero backup logs` and `velero backup describe` download.
	var res map[string]results.Result
	download(t, bs, name, velerov1api.DownloadTargetKindBackupResults, &res)
	if _, ok := res["errors"]; !ok {
		t.Errorf("results %v: no errors key", res)
	}
	var resourceList map[string][]string
	download(t, bs, name, velerov1api.DownloadTargetKindBackupResourceList, &resourceList)
	if len(resourceList["v1/Pod"]) == 0 {
		t.Errorf("resource list has no v1/Pod entries: %v", resourceList)
	}
	download(t, bs, name, velerov1api.DownloadTargetKindBackupLog, nil)

	// The tarball, extracted by Velero as a non-root user.
	rc, err := bs.GetBackupContents(name)
	if err != nil {
		t.Fatalf("GetBackupContents: %v", err)
	}
	tarball, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := extractAsNobody(t, tarball)
	c, err := archive.Read(bytes.NewReader(tarball), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checkParsed(t, got, c)
	for entry, n := range resourceList {
		if n := len(n); n == 0 {
			t.Errorf("resource list %s empty", entry)
		}
	}
}

// download fetches a download target as `velero` does (the signed URL,
// here a file:// URL of rigging's filesystem store), gunzips it and decodes
// its JSON into v (v nil: only read it).
func download(t *testing.T, bs persistence.BackupStore, name string, kind velerov1api.DownloadTargetKind, v any) {
	t.Helper()
	u, err := bs.GetDownloadURL(velerov1api.DownloadTarget{Kind: kind, Name: name})
	if err != nil {
		t.Fatalf("GetDownloadURL %s: %v", kind, err)
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "file" {
		t.Fatalf("GetDownloadURL %s = %q, %v; want a file URL", kind, u, err)
	}
	f, err := os.Open(pu.Path)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: decode: %v", kind, err)
		}
	}
}

// parsed is what the extraction helper reports.
type parsed struct {
	UID          int                            `json:"uid"`
	Resources    map[string]map[string][]string `json:"resources"`
	Preferred    map[string]string              `json:"preferred"`
	Versions     map[string][]string            `json:"versions"`
	Unmarshalled int                            `json:"unmarshalled"`
	Errors       []string                       `json:"errors"`
}

// checkParsed compares what Velero's parser saw with rigging's own reading
// of the same tarball.
func checkParsed(t *testing.T, got parsed, c *archive.Contents) {
	t.Helper()
	if len(got.Errors) > 0 {
		t.Errorf("velero extraction as uid %d: %q", got.UID, got.Errors)
	}
	want := map[string]map[string][]string{}
	n := 0
	for _, gr := range c.Resources() {
		want[gr] = map[string][]string{}
		for _, ns := range c.Namespaces(gr) {
			names := c.Names(gr, ns)
			want[gr][ns] = names
			n += len(names)
		}
		// One folder of the preferred version, and one per other version
		// (EnableAPIGroupVersions).
		dirs := c.VersionDirs(gr)
		var preferred, versions []string
		for _, d := range dirs {
			v, ok := strings.CutSuffix(d, "-preferredversion")
			if ok {
				preferred = append(preferred, v)
			}
			versions = append(versions, v)
		}
		slices.Sort(versions)
		gotVersions := slices.Sorted(slices.Values(got.Versions[gr]))
		if len(preferred) != 1 || got.Preferred[gr] != preferred[0] || !slices.Equal(gotVersions, versions) {
			t.Errorf("%s: Velero's preferred version %q and versions %q, tarball's version folders %q", gr, got.Preferred[gr], gotVersions, dirs)
		}
	}
	if len(got.Resources) != len(want) {
		t.Errorf("velero parsed %d resources, rigging wrote %d", len(got.Resources), len(want))
	}
	for gr, byNS := range want {
		for ns, names := range byNS {
			g := got.Resources[gr][ns]
			slices.Sort(g)
			slices.Sort(names)
			if !slices.Equal(g, names) {
				t.Errorf("%s in %q: velero parsed %q, rigging wrote %q", gr, ns, g, names)
			}
		}
	}
	t.Logf("velero extracted and parsed %d items of %d resources as uid %d", got.Unmarshalled, len(got.Resources), got.UID)
	if got.Unmarshalled != n || n != c.Len() {
		t.Errorf("velero unmarshalled %d items, rigging wrote %d (%d)", got.Unmarshalled, n, c.Len())
	}
}

// extractAsNobody runs Velero's extractor and parser on tarball as uid and
// gid 65534 in a child process (this test binary, copied where that user
// can run it), as a Velero server running as non-root does.
func extractAsNobody(t *testing.T, tarball []byte) parsed {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("SKIPPED LOUDLY: extraction as a non-root user needs root to switch users (setpriv); run as root (CI does)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to extract as a non-root user: %v", err)
	}
	dir, err := os.MkdirTemp("", "interop-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "veleroside.test")
	tar := filepath.Join(dir, "backup.tar.gz")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{bin, self, 0o755}, {tar, tarball, 0o644}} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^TestExtractHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "INTEROP_EXTRACT_TARBALL="+tar, "TMPDIR=/tmp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("extraction helper: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "RESULT: "); ok {
			var p parsed
			if err := json.Unmarshal([]byte(rest), &p); err != nil {
				t.Fatal(err)
			}
			if p.UID != 65534 {
				t.Errorf("helper ran as uid %d, want 65534", p.UID)
			}
			return p
		}
	}
	t.Fatalf("extraction helper printed no result:\n%s", out)
	return parsed{}
}

// TestExtractHelper is the child of extractAsNobody: it does nothing unless
// INTEROP_EXTRACT_TARBALL names a tarball.
func TestExtractHelper(t *testing.T) {
	path := os.Getenv("INTEROP_EXTRACT_TARBALL")
	if path == "" {
		return
	}
	p := parsed{UID: os.Getuid(), Resources: map[string]map[string][]string{}, Preferred: map[string]string{}, Versions: map[string][]string{}}
	fail := func(err error) { p.Errors = append(p.Errors, err.Error()) }
	log := logrus.New()
	log.SetOutput(io.Discard)
	fs := vfs.NewFileSystem()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, err := varchive.NewExtractor(log, fs).UnzipAndExtractBackup(f)
	if err != nil {
		fail(err)
	} else {
		defer os.RemoveAll(dir)
		parser := varchive.NewParser(log, fs)
		items, err := parser.Parse(dir)
		if err != nil {
			fail(err)
		}
		for gr, ri := range items {
			p.Resources[gr] = ri.ItemsByNamespace
			for ns, names := range ri.ItemsByNamespace {
				for _, name := range names {
					obj, err := varchive.Unmarshal(fs, varchive.GetItemFilePath(dir, gr, ns, name))
					switch {
					case err != nil:
						fail(err)
					case obj.GetName() != name || obj.GetNamespace() != ns && ns != "":
						fail(fmt.Errorf("%s: item %s/%s decodes as %s/%s", gr, ns, name, obj.GetNamespace(), obj.GetName()))
					default:
						p.Unmarshalled++
					}
				}
			}
		}
		gvs, err := parser.ParseGroupVersions(dir)
		if err != nil {
			fail(err)
		}
		for gr, g := range gvs {
			p.Preferred[gr] = g.PreferredVersion.Version
			for _, v := range g.Versions {
				p.Versions[gr] = append(p.Versions[gr], v.Version)
			}
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("RESULT: " + string(b) + "\n")
}
