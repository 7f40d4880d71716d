//go:build !rigging_no_service

package all

import _ "github.com/rigging-dev/rigging/builtin/service" // drop with -tags rigging_no_service
