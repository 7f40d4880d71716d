// Package ebs provides the velero.io/aws VolumeSnapshotter: EBS snapshots of
// persistent volumes, configured with the keys of velero-plugin-for-aws v1.14
// (region, profile, credentialsFile, enableSharedConfig, ebsKmsKeyId).
// Importing the package registers it in registry.Default:
//
//	import _ "github.com/rigging-dev/rigging/providers/aws/ebs"
//
// It is a separate package from the S3 object store so that binaries that
// only store backups carry no EC2 code. It speaks the five EC2 Query API
// actions it needs (CreateSnapshot, DeleteSnapshot, DescribeSnapshots,
// DescribeVolumes, CreateVolume) itself, signed with aws-sdk-go-v2's SigV4
// signer and retried with its standard retryer, instead of importing
// service/ec2: docs/AWS.md has the measurements behind that choice.
package ebs

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/providers/aws/internal/awsconf"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the plugin name, shared with the velero.io/aws object store as in
// velero-plugin-for-aws.
const Name = "velero.io/aws"

// Config keys of the snapshotter.
const (
	KeyRegion             = awsconf.KeyRegion
	KeyProfile            = awsconf.KeyProfile
	KeyCredentialsFile    = awsconf.KeyCredentialsFile
	KeyEnableSharedConfig = awsconf.KeyEnableSharedConfig
	KeyEBSKMSKeyID        = "ebsKmsKeyId"
)

// CSIDriver is the EBS CSI driver whose PVs the snapshotter handles, besides
// in-tree awsElasticBlockStore PVs.
const CSIDriver = "ebs.csi.aws.com"

// ErrInvalidConfig marks an Init error caused by the config: an unknown key,
// a malformed value or a missing region. The message names the key.
var ErrInvalidConfig = awsconf.ErrInvalidConfig

// zoneLabel is the PV label whose zone goes into an in-tree volume ID
// ("aws://<zone>/<vol>") on SetVolumeID, as velero-plugin-for-aws does.
const zoneLabel = "failure-domain.beta.kubernetes.io/zone"

// iopsVolumeTypes are the volume types whose IOPS are captured on backup and
// set on restore (velero-plugin-for-aws does the same).
var iopsVolumeTypes = []string{"io1", "io2"}

var volumeIDPattern = regexp.MustCompile(`vol-.*`)

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.VolumeSnapshotter, error) {
		return NewSnapshotter(log), nil
	})
}

// Snapshotter is the velero.io/aws VolumeSnapshotter. It is safe for
// concurrent use once Init has returned.
type Snapshotter struct {
	log *slog.Logger

	mu     sync.Mutex  // serializes Init
	inited atomic.Bool // set once Init has filled the fields below
	ec2    *client
	kmsKey string
}

// NewSnapshotter returns a Snapshotter that logs to log (nil: slog.Default()).
// Call Init before anything else.
func NewSnapshotter(log *slog.Logger) *Snapshotter {
	if log == nil {
		log = slog.Default()
	}
	return &Snapshotter{log: log}
}

// Init validates config and resolves credentials; region is required. It
// sends no request. A second Init fails with rigging.ErrAlreadyInitialized.
func (s *Snapshotter) Init(ctx context.Context, config map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inited.Load() {
		return fmt.Errorf("plugin %s: init: %w", Name, rigging.ErrAlreadyInitialized)
	}
	if err := s.init(ctx, config); err != nil {
		return fmt.Errorf("plugin %s: init: %w", Name, err)
	}
	s.inited.Store(true)
	return nil
}

func (s *Snapshotter) init(ctx context.Context, config map[string]string) error {
	if err := awsconf.CheckKeys(config, KeyRegion, KeyProfile, KeyCredentialsFile, KeyEnableSharedConfig, KeyEBSKMSKeyID); err != nil {
		return err
	}
	if _, err := awsconf.Bool(config, KeyEnableSharedConfig); err != nil {
		return err
	}
	region := config[KeyRegion]
	if region == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalidConfig, KeyRegion)
	}
	cfg, err := awsconf.Load(ctx, awsconf.Options{
		Region: region, Profile: config[KeyProfile], CredentialsFile: config[KeyCredentialsFile],
	})
	if err != nil {
		return err
	}
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	s.ec2 = c
	s.kmsKey = config[KeyEBSKMSKeyID]
	return nil
}

func (s *Snapshotter) ready(op string) error {
	if !s.inited.Load() {
		return fmt.Errorf("plugin %s: %s: %w", Name, op, rigging.ErrNotInitialized)
	}
	return nil
}

// CreateVolumeFromSnapshot creates a volume of volumeType in volumeAZ from
// snapshotID, copying the snapshot's tags (with the cluster-ownership tags
// replaced when AWS_CLUSTER_NAME is set) and its encryption; ebsKmsKeyId, when
// set, encrypts with that key. IOPS are sent for io1 and io2 volumes when not
// nil.
func (s *Snapshotter) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, volumeAZ string, iops *int64) (string, error) {
	if err := s.ready("create volume from " + snapshotID); err != nil {
		return "", err
	}
	snaps, err := s.ec2.describeSnapshots(ctx, snapshotID)
	if err != nil {
		return "", fmt.Errorf("plugin %s: create volume from %s: %w", Name, snapshotID, err)
	}
	if len(snaps) != 1 {
		return "", fmt.Errorf("plugin %s: create volume from %s: DescribeSnapshots returned %d snapshots, want 1", Name, snapshotID, len(snaps))
	}
	in := createVolumeInput{
		snapshotID: snapshotID,
		zone:       volumeAZ,
		volumeType: volumeType,
		encrypted:  snaps[0].encrypted,
		tags:       clusterTags(snaps[0].tags, os.Getenv("AWS_CLUSTER_NAME")),
	}
	if s.kmsKey != "" {
		in.encrypted = true
		in.kmsKeyID = s.kmsKey
	}
	if iops != nil && slices.Contains(iopsVolumeTypes, volumeType) {
		in.iops = iops
	}
	id, err := s.ec2.createVolume(ctx, in)
	if err != nil {
		return "", fmt.Errorf("plugin %s: create volume from %s in %s: %w", Name, snapshotID, volumeAZ, err)
	}
	return id, nil
}

// GetVolumeInfo returns the volume's type and, for io1 and io2 volumes, its
// IOPS (nil otherwise).
func (s *Snapshotter) GetVolumeInfo(ctx context.Context, volumeID, volumeAZ string) (string, *int64, error) {
	if err := s.ready("describe volume " + volumeID); err != nil {
		return "", nil, err
	}
	v, err := s.describeVolume(ctx, volumeID)
	if err != nil {
		return "", nil, err
	}
	var iops *int64
	if v.iops != nil && slices.Contains(iopsVolumeTypes, v.volumeType) {
		iops = v.iops
	}
	return v.volumeType, iops, nil
}

func (s *Snapshotter) describeVolume(ctx context.Context, volumeID string) (volume, error) {
	vols, err := s.ec2.describeVolumes(ctx, volumeID)
	if err != nil {
		return volume{}, fmt.Errorf("plugin %s: describe volume %s: %w", Name, volumeID, err)
	}
	if len(vols) != 1 {
		return volume{}, fmt.Errorf("plugin %s: describe volume %s: DescribeVolumes returned %d volumes, want 1", Name, volumeID, len(vols))
	}
	return vols[0], nil
}

// CreateSnapshot snapshots volumeID, tagging the snapshot with tags (Velero's
// backup labels) and then every tag of the volume whose key tags does not
// already hold.
func (s *Snapshotter) CreateSnapshot(ctx context.Context, volumeID, volumeAZ string, tags map[string]string) (string, error) {
	if err := s.ready("snapshot " + volumeID); err != nil {
		return "", err
	}
	v, err := s.describeVolume(ctx, volumeID)
	if err != nil {
		return "", err
	}
	id, err := s.ec2.createSnapshot(ctx, volumeID, snapshotTags(tags, v.tags))
	if err != nil {
		return "", fmt.Errorf("plugin %s: snapshot %s: %w", Name, volumeID, err)
	}
	return id, nil
}

// DeleteSnapshot deletes snapshotID; a snapshot EC2 does not know
// (InvalidSnapshot.NotFound) is already deleted and not an error.
func (s *Snapshotter) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	if err := s.ready("delete snapshot " + snapshotID); err != nil {
		return err
	}
	err := s.ec2.deleteSnapshot(ctx, snapshotID)
	if err != nil && !isCode(err, "InvalidSnapshot.NotFound") {
		return fmt.Errorf("plugin %s: delete snapshot %s: %w", Name, snapshotID, err)
	}
	return nil
}

// GetVolumeID returns the EBS volume ID ("vol-…") of a PV provisioned by the
// EBS CSI driver (spec.csi.volumeHandle) or the in-tree plugin
// (spec.awsElasticBlockStore.volumeID, "aws://<zone>/vol-…" or "vol-…"), and
// "" for any other PV. It needs no Init.
func (s *Snapshotter) GetVolumeID(_ context.Context, pv *unstructured.Unstructured) (string, error) {
	if driver, ok, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver"); ok {
		if driver == CSIDriver {
			handle, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
			return volumeIDPattern.FindString(handle), nil
		}
		s.log.Debug("PV's CSI driver is not EBS; not handled", "pv", pv.GetName(), "driver", driver)
	}
	if _, ok, _ := unstructured.NestedMap(pv.Object, "spec", "awsElasticBlockStore"); ok {
		id, _, _ := unstructured.NestedString(pv.Object, "spec", "awsElasticBlockStore", "volumeID")
		if id == "" {
			return "", fmt.Errorf("plugin %s: PV %s: spec.awsElasticBlockStore.volumeID is empty", Name, pv.GetName())
		}
		return volumeIDPattern.FindString(id), nil
	}
	return "", nil
}

// SetVolumeID returns a copy of pv pointing at volumeID: spec.csi.volumeHandle
// for an EBS CSI PV; spec.awsElasticBlockStore.volumeID for an in-tree PV,
// as "aws://<zone>/<id>" when the PV has the
// failure-domain.beta.kubernetes.io/zone label. Any other PV is an error.
func (s *Snapshotter) SetVolumeID(_ context.Context, pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if driver, ok, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver"); ok {
		if driver != CSIDriver {
			return nil, fmt.Errorf("plugin %s: PV %s: CSI driver %q is not %s", Name, pv.GetName(), driver, CSIDriver)
		}
		if err := unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle"); err != nil {
			return nil, fmt.Errorf("plugin %s: PV %s: %w", Name, pv.GetName(), err)
		}
		return out, nil
	}
	if _, ok, _ := unstructured.NestedMap(pv.Object, "spec", "awsElasticBlockStore"); ok {
		id := volumeID
		if zone := pv.GetLabels()[zoneLabel]; zone != "" {
			id = "aws://" + zone + "/" + volumeID
		}
		if err := unstructured.SetNestedField(out.Object, id, "spec", "awsElasticBlockStore", "volumeID"); err != nil {
			return nil, fmt.Errorf("plugin %s: PV %s: %w", Name, pv.GetName(), err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("plugin %s: PV %s has neither spec.csi nor spec.awsElasticBlockStore", Name, pv.GetName())
}

// tag is an EC2 resource tag.
type tag struct{ Key, Value string }

// snapshotTags is Velero's tags, sorted by key, then the volume's tags whose
// keys Velero's do not override, in the volume's order.
func snapshotTags(velero map[string]string, volumeTags []tag) []tag {
	out := make([]tag, 0, len(velero)+len(volumeTags))
	for _, k := range slices.Sorted(maps.Keys(velero)) {
		out = append(out, tag{k, velero[k]})
	}
	for _, t := range volumeTags {
		if _, ok := velero[t.Key]; !ok {
			out = append(out, t)
		}
	}
	return out
}

// clusterTags is the tags a restored volume gets from its snapshot. When
// cluster (AWS_CLUSTER_NAME) is set the volume is marked as owned by it and
// the snapshot's own ownership tags are dropped.
func clusterTags(snapshot []tag, cluster string) []tag {
	var out []tag
	if cluster != "" {
		out = append(out, tag{"kubernetes.io/cluster/" + cluster, "owned"}, tag{"KubernetesCluster", cluster})
	}
	for _, t := range snapshot {
		if cluster != "" && (strings.HasPrefix(t.Key, "kubernetes.io/cluster/") || t.Key == "KubernetesCluster") {
			continue
		}
		out = append(out, t)
	}
	return out
}

var _ rigging.VolumeSnapshotter = (*Snapshotter)(nil)
