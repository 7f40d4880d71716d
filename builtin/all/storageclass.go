//go:build !rigging_no_storageclass

package all

import _ "github.com/rigging-dev/rigging/builtin/storageclass" // drop with -tags rigging_no_storageclass
