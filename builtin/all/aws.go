//go:build !rigging_no_aws

package all

import _ "github.com/rigging-dev/rigging/providers/aws" // drop with -tags rigging_no_aws
