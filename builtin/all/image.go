//go:build !rigging_no_image

package all

import _ "github.com/rigging-dev/rigging/builtin/image" // drop with -tags rigging_no_image
