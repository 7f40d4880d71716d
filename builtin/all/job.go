//go:build !rigging_no_job

package all

import _ "github.com/rigging-dev/rigging/builtin/job" // drop with -tags rigging_no_job
