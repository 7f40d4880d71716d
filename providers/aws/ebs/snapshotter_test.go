package ebs

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/registry"
)

// newTestSnapshotter returns a Snapshotter initialized against a fake EC2
// through AWS_ENDPOINT_URL_EC2 and a credentials file, as a user would
// point it at another endpoint, with retries that do not wait.
func newTestSnapshotter(t *testing.T, extra map[string]string) (*Snapshotter, *fakeEC2) {
	t.Helper()
	f, srv := newFakeEC2(t)
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL)
	t.Setenv("AWS_CLUSTER_NAME", "")
	cfg := map[string]string{KeyRegion: fakeRegion, KeyCredentialsFile: credsFile(t)}
	for k, v := range extra {
		cfg[k] = v
	}
	s := NewSnapshotter(nil)
	if err := s.Init(context.Background(), cfg); err != nil {
		t.Fatalf("Init: %v", err)
	}
	s.ec2.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
	return s, f
}

func credsFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "credentials")
	body := "[default]\naws_access_key_id = " + fakeAccess + "\naws_secret_access_key = " + fakeSecret + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInit(t *testing.T) {
	creds := credsFile(t)
	for _, tc := range []struct {
		name    string
		config  map[string]string
		wantErr string
	}{
		{"ok", map[string]string{KeyRegion: "us-east-1", KeyCredentialsFile: creds, KeyEBSKMSKeyID: "alias/k", KeyEnableSharedConfig: "true", KeyProfile: "default"}, ""},
		{"missing region", map[string]string{KeyCredentialsFile: creds}, "region is required"},
		{"unknown key", map[string]string{KeyRegion: "us-east-1", "bucket": "b"}, `unknown key(s) "bucket"`},
		{"bad bool", map[string]string{KeyRegion: "us-east-1", KeyEnableSharedConfig: "on"}, `enableSharedConfig: "on" is not a boolean`},
		{"missing credentials file", map[string]string{KeyRegion: "us-east-1", KeyCredentialsFile: creds + ".nope"}, "credentialsFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewSnapshotter(nil).Init(context.Background(), tc.config)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "plugin velero.io/aws: init: ") {
				t.Fatalf("Init error = %v; want %q", err, tc.wantErr)
			}
		})
	}
	s := NewSnapshotter(nil)
	if _, err := s.CreateSnapshot(context.Background(), "vol-1", "", nil); !errors.Is(err, rigging.ErrNotInitialized) {
		t.Errorf("CreateSnapshot before Init: %v", err)
	}
	if err := s.Init(context.Background(), map[string]string{KeyRegion: "us-east-1", KeyCredentialsFile: creds}); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background(), map[string]string{KeyRegion: "us-east-1"}); !errors.Is(err, rigging.ErrAlreadyInitialized) {
		t.Errorf("second Init: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	e, ok := registry.Default.Lookup(rigging.KindVolumeSnapshotter, rigging.MustParseName(Name))
	if !ok {
		t.Fatalf("%s is not registered as a VolumeSnapshotter", Name)
	}
	if v, err := e.New(nil); err != nil || reflect.TypeOf(v) != reflect.TypeFor[*Snapshotter]() {
		t.Errorf("factory = %T, %v", v, err)
	}
}

func TestCreateSnapshotTags(t *testing.T) {
	s, f := newTestSnapshotter(t, nil)
	f.volumes["vol-0abc"] = fakeVolume{Type: "gp3", Zone: "eu-central-1a", Tags: []tag{
		{"Name", "data"}, {"velero.io/backup", "an-older-backup"}, {"team", "storage"},
	}}
	id, err := s.CreateSnapshot(context.Background(), "vol-0abc", "eu-central-1a", map[string]string{
		"velero.io/backup": "b1", "velero.io/pv": "pv-1", "velero.io/storage-location": "default",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "snap-") {
		t.Errorf("snapshot ID %q", id)
	}
	calls := f.callsOf("CreateSnapshot")
	if len(calls) != 1 {
		t.Fatalf("%d CreateSnapshot calls", len(calls))
	}
	want := url.Values{
		"VolumeId":                        {"vol-0abc"},
		"TagSpecification.1.ResourceType": {"snapshot"},
		// Velero's tags (sorted), then the volume's that Velero's do not override.
		"TagSpecification.1.Tag.1.Key": {"velero.io/backup"}, "TagSpecification.1.Tag.1.Value": {"b1"},
		"TagSpecification.1.Tag.2.Key": {"velero.io/pv"}, "TagSpecification.1.Tag.2.Value": {"pv-1"},
		"TagSpecification.1.Tag.3.Key": {"velero.io/storage-location"}, "TagSpecification.1.Tag.3.Value": {"default"},
		"TagSpecification.1.Tag.4.Key": {"Name"}, "TagSpecification.1.Tag.4.Value": {"data"},
		"TagSpecification.1.Tag.5.Key": {"team"}, "TagSpecification.1.Tag.5.Value": {"storage"},
	}
	if !reflect.DeepEqual(calls[0].Params, want) {
		t.Errorf("CreateSnapshot params:\n got  %v\n want %v", calls[0].Params, want)
	}
	if d := f.callsOf("DescribeVolumes"); len(d) != 1 || d[0].Params.Get("VolumeId.1") != "vol-0abc" {
		t.Errorf("DescribeVolumes calls: %v", d)
	}
}

func TestCreateVolumeFromSnapshot(t *testing.T) {
	iops := func(n int64) *int64 { return &n }
	tests := []struct {
		name       string
		snap       fakeSnapshot
		config     map[string]string
		cluster    string
		volumeType string
		iops       *int64
		want       url.Values
	}{
		{
			name: "io2 keeps type, zone and IOPS", snap: fakeSnapshot{Tags: []tag{{"Name", "data"}}},
			volumeType: "io2", iops: iops(4000),
			want: url.Values{"VolumeType": {"io2"}, "Iops": {"4000"}, "Encrypted": {"false"},
				"TagSpecification.1.Tag.1.Key": {"Name"}, "TagSpecification.1.Tag.1.Value": {"data"}},
		},
		{
			name: "gp3 drops IOPS as velero-plugin-for-aws does", volumeType: "gp3", iops: iops(3000),
			want: url.Values{"VolumeType": {"gp3"}, "Encrypted": {"false"}},
		},
		{
			name: "io1 with nil IOPS sends none", volumeType: "io1",
			want: url.Values{"VolumeType": {"io1"}, "Encrypted": {"false"}},
		},
		{
			name: "encrypted snapshot gives an encrypted volume", snap: fakeSnapshot{Encrypted: true}, volumeType: "gp2",
			want: url.Values{"VolumeType": {"gp2"}, "Encrypted": {"true"}},
		},
		{
			name: "ebsKmsKeyId encrypts with that key", config: map[string]string{KeyEBSKMSKeyID: "alias/restore"}, volumeType: "gp3",
			want: url.Values{"VolumeType": {"gp3"}, "Encrypted": {"true"}, "KmsKeyId": {"alias/restore"}},
		},
		{
			name: "AWS_CLUSTER_NAME replaces ownership tags", cluster: "new",
			snap: fakeSnapshot{Tags: []tag{{"kubernetes.io/cluster/old", "owned"}, {"KubernetesCluster", "old"}, {"team", "a"}}},
			want: url.Values{"Encrypted": {"false"},
				"TagSpecification.1.Tag.1.Key": {"kubernetes.io/cluster/new"}, "TagSpecification.1.Tag.1.Value": {"owned"},
				"TagSpecification.1.Tag.2.Key": {"KubernetesCluster"}, "TagSpecification.1.Tag.2.Value": {"new"},
				"TagSpecification.1.Tag.3.Key": {"team"}, "TagSpecification.1.Tag.3.Value": {"a"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, f := newTestSnapshotter(t, tc.config)
			t.Setenv("AWS_CLUSTER_NAME", tc.cluster)
			f.snapshots["snap-0def"] = tc.snap
			id, err := s.CreateVolumeFromSnapshot(context.Background(), "snap-0def", tc.volumeType, "eu-central-1b", tc.iops)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.volumes[id]; got.Zone != "eu-central-1b" || got.Type != tc.volumeType {
				t.Errorf("volume %s created as %+v", id, got)
			}
			calls := f.callsOf("CreateVolume")
			if len(calls) != 1 {
				t.Fatalf("%d CreateVolume calls", len(calls))
			}
			want := url.Values{"SnapshotId": {"snap-0def"}, "AvailabilityZone": {"eu-central-1b"}, "TagSpecification.1.ResourceType": {"volume"}}
			for k, v := range tc.want {
				want[k] = v
			}
			got := calls[0].Params
			if !uuidPattern.MatchString(got.Get("ClientToken")) {
				t.Errorf("CreateVolume ClientToken = %q; want a UUID", got.Get("ClientToken"))
			}
			got.Del("ClientToken")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("CreateVolume params:\n got  %v\n want %v", calls[0].Params, want)
			}
		})
	}

	s, _ := newTestSnapshotter(t, nil)
	_, err := s.CreateVolumeFromSnapshot(context.Background(), "snap-missing", "gp3", "eu-central-1a", nil)
	if !isCode(err, "InvalidSnapshot.NotFound") || !strings.Contains(err.Error(), "snap-missing") {
		t.Errorf("from a missing snapshot: %v", err)
	}
}

func TestGetVolumeInfo(t *testing.T) {
	s, f := newTestSnapshotter(t, nil)
	f.volumes["vol-io1"] = fakeVolume{Type: "io1", IOPS: 5000}
	f.volumes["vol-gp3"] = fakeVolume{Type: "gp3", IOPS: 3000}
	f.volumes["vol-st1"] = fakeVolume{Type: "st1"}
	for _, tc := range []struct {
		id, wantType string
		wantIOPS     *int64
	}{
		{"vol-io1", "io1", ptr(5000)},
		{"vol-gp3", "gp3", nil},
		{"vol-st1", "st1", nil},
	} {
		typ, iops, err := s.GetVolumeInfo(context.Background(), tc.id, "")
		if err != nil || typ != tc.wantType || !reflect.DeepEqual(iops, tc.wantIOPS) {
			t.Errorf("GetVolumeInfo(%s) = %q, %v, %v; want %q, %v", tc.id, typ, deref(iops), err, tc.wantType, deref(tc.wantIOPS))
		}
	}
	_, _, err := s.GetVolumeInfo(context.Background(), "vol-gone", "")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidVolume.NotFound" || !strings.Contains(err.Error(), "vol-gone") {
		t.Errorf("GetVolumeInfo(missing) = %v; want InvalidVolume.NotFound naming the volume", err)
	}
}

func ptr(n int64) *int64 { return &n }

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestDeleteSnapshot(t *testing.T) {
	s, f := newTestSnapshotter(t, nil)
	f.snapshots["snap-1"] = fakeSnapshot{}
	ctx := context.Background()
	if err := s.DeleteSnapshot(ctx, "snap-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.snapshots["snap-1"]; ok {
		t.Error("snapshot still there")
	}
	if err := s.DeleteSnapshot(ctx, "snap-1"); err != nil {
		t.Errorf("deleting a deleted snapshot: %v; want nil", err)
	}
	err := s.DeleteSnapshot(ctx, "snap-forbidden")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "UnauthorizedOperation" || ae.StatusCode != 403 {
		t.Fatalf("DeleteSnapshot forbidden: %v", err)
	}
	if strings.Contains(err.Error(), fakeSecret) {
		t.Errorf("error %q leaks the secret", err)
	}
	if len(f.callsOf("DeleteSnapshot")) != 3 {
		t.Errorf("UnauthorizedOperation was retried: %d calls", len(f.callsOf("DeleteSnapshot")))
	}
}

func TestRetriesThrottling(t *testing.T) {
	s, f := newTestSnapshotter(t, nil)
	f.volumes["vol-1"] = fakeVolume{Type: "gp3"}
	f.failNext = []string{"RequestLimitExceeded", "RequestLimitExceeded"}
	if _, _, err := s.GetVolumeInfo(context.Background(), "vol-1", ""); err != nil {
		t.Fatalf("after two throttled answers: %v", err)
	}
	if n := len(f.callsOf("DescribeVolumes")); n != 3 {
		t.Errorf("%d DescribeVolumes calls; want 3 (two throttled, one answered)", n)
	}
	f.failNext = []string{"RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded"}
	_, _, err := s.GetVolumeInfo(context.Background(), "vol-1", "")
	if !isCode(err, "RequestLimitExceeded") {
		t.Errorf("after three throttled answers: %v; want RequestLimitExceeded", err)
	}

	// A retried CreateVolume repeats its idempotency token, so EC2 cannot
	// create the volume twice.
	f.snapshots["snap-1"] = fakeSnapshot{}
	f.failNext, f.failOn = []string{"RequestLimitExceeded"}, "CreateVolume"
	if _, err := s.CreateVolumeFromSnapshot(context.Background(), "snap-1", "gp3", "eu-central-1a", nil); err != nil {
		t.Fatal(err)
	}
	cv := f.callsOf("CreateVolume")
	if len(cv) != 2 || cv[0].Params.Get("ClientToken") == "" || cv[0].Params.Get("ClientToken") != cv[1].Params.Get("ClientToken") {
		t.Errorf("retried CreateVolume: %d calls, tokens %v; want 2 calls with the same token", len(cv), cv)
	}
}

func pv(spec map[string]any, labels map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": "pv-1"}
	if labels != nil {
		meta["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec,
	}}
}

func TestGetVolumeID(t *testing.T) {
	s := NewSnapshotter(nil) // needs no Init
	for _, tc := range []struct {
		name    string
		pv      *unstructured.Unstructured
		want    string
		wantErr bool
	}{
		{"csi ebs", pv(map[string]any{"csi": map[string]any{"driver": CSIDriver, "volumeHandle": "vol-0123"}}, nil), "vol-0123", false},
		{"csi other driver", pv(map[string]any{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/x"}}, nil), "", false},
		{"in-tree with zone", pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/vol-0456"}}, nil), "vol-0456", false},
		{"in-tree plain", pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-0789", "fsType": "ext4"}}, nil), "vol-0789", false},
		{"in-tree empty", pv(map[string]any{"awsElasticBlockStore": map[string]any{"fsType": "ext4"}}, nil), "", true},
		{"hostPath", pv(map[string]any{"hostPath": map[string]any{"path": "/x"}}, nil), "", false},
	} {
		got, err := s.GetVolumeID(context.Background(), tc.pv)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: GetVolumeID = %q, %v; want %q (error: %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSetVolumeID(t *testing.T) {
	s := NewSnapshotter(nil)
	for _, tc := range []struct {
		name    string
		pv      *unstructured.Unstructured
		path    []string
		want    string
		wantErr bool
	}{
		{"csi ebs", pv(map[string]any{"csi": map[string]any{"driver": CSIDriver, "volumeHandle": "vol-old"}}, nil),
			[]string{"spec", "csi", "volumeHandle"}, "vol-new", false},
		{"in-tree with zone label", pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/vol-old"}},
			map[string]any{zoneLabel: "us-east-1c"}), []string{"spec", "awsElasticBlockStore", "volumeID"}, "aws://us-east-1c/vol-new", false},
		{"in-tree without label", pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-old"}}, nil),
			[]string{"spec", "awsElasticBlockStore", "volumeID"}, "vol-new", false},
		{"csi other driver", pv(map[string]any{"csi": map[string]any{"driver": "disk.csi.azure.com"}}, nil), nil, "", true},
		{"neither", pv(map[string]any{"nfs": map[string]any{"server": "x"}}, nil), nil, "", true},
	} {
		before := tc.pv.DeepCopy()
		out, err := s.SetVolumeID(context.Background(), tc.pv, "vol-new")
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: SetVolumeID error = %v; want error: %v", tc.name, err, tc.wantErr)
			continue
		}
		if !reflect.DeepEqual(before, tc.pv) {
			t.Errorf("%s: SetVolumeID modified its input", tc.name)
		}
		if err != nil {
			continue
		}
		if got, _, _ := unstructured.NestedString(out.Object, tc.path...); got != tc.want {
			t.Errorf("%s: %s = %q; want %q", tc.name, strings.Join(tc.path, "."), got, tc.want)
		}
		if id, _ := s.GetVolumeID(context.Background(), out); id != "vol-new" {
			t.Errorf("%s: GetVolumeID after SetVolumeID = %q", tc.name, id)
		}
	}
}
