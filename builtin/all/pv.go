//go:build !rigging_no_pv

package all

import _ "github.com/rigging-dev/rigging/builtin/pv" // drop with -tags rigging_no_pv
