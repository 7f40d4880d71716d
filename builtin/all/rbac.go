//go:build !rigging_no_rbac

package all

import _ "github.com/rigging-dev/rigging/builtin/rbac" // drop with -tags rigging_no_rbac
