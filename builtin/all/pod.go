//go:build !rigging_no_pod

package all

import _ "github.com/rigging-dev/rigging/builtin/pod" // drop with -tags rigging_no_pod
