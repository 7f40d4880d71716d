//go:build !rigging_no_csi

package all

import _ "github.com/rigging-dev/rigging/builtin/csi" // drop with -tags rigging_no_csi
