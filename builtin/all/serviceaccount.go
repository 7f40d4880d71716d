//go:build !rigging_no_serviceaccount

package all

import _ "github.com/rigging-dev/rigging/builtin/serviceaccount" // drop with -tags rigging_no_serviceaccount
