// Package aws provides the velero.io/aws ObjectStore: Amazon S3, or any
// S3-compatible store, on aws-sdk-go-v2, configured with the same keys and
// meanings as velero-plugin-for-aws v1.14, so a BackupStorageLocation written
// for Velero works unchanged. Importing the package registers the store in
// registry.Default:
//
//	import _ "github.com/rigging-dev/rigging/providers/aws"
//
// The EBS VolumeSnapshotter lives in providers/aws/ebs, so binaries that only
// store backups do not carry an EC2 client. docs/AWS.md describes the config
// keys, the differences from velero-plugin-for-aws and how the package is
// tested.
package aws
