//go:build !rigging_no_apiservice

package all

import _ "github.com/rigging-dev/rigging/builtin/apiservice" // drop with -tags rigging_no_apiservice
