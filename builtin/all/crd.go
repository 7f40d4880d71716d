//go:build !rigging_no_crd

package all

import _ "github.com/rigging-dev/rigging/builtin/crd" // drop with -tags rigging_no_crd
