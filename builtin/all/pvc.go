//go:build !rigging_no_pvc

package all

import _ "github.com/rigging-dev/rigging/builtin/pvc" // drop with -tags rigging_no_pvc
