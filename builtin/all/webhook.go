//go:build !rigging_no_webhook

package all

import _ "github.com/rigging-dev/rigging/builtin/webhook" // drop with -tags rigging_no_webhook
