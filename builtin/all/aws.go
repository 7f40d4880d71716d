//go:build !rigging_no_aws

package all

// The AWS provider: the velero.io/aws ObjectStore (S3) and VolumeSnapshotter
// (EBS). Both go with -tags rigging_no_aws, and with them the AWS SDK.
import (
	_ "github.com/rigging-dev/rigging/providers/aws"
	_ "github.com/rigging-dev/rigging/providers/aws/ebs"
)
