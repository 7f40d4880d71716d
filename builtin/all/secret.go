//go:build !rigging_no_secret

package all

import _ "github.com/rigging-dev/rigging/builtin/secret" // drop with -tags rigging_no_secret
