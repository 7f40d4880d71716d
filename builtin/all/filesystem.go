//go:build !rigging_no_filesystem

package all

import _ "github.com/rigging-dev/rigging/providers/filesystem" // drop with -tags rigging_no_filesystem
