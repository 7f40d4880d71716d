package rigging

import "errors"

// ErrPluginUnavailable reports that a plugin could not be reached: its
// process could not be started (or restarted), was quarantined, or died, or
// its connection was lost, during the call. Such a call may or may not have
// run in the plugin before the process went away.
//
// Hosts that supervise plugin processes restart the process on the next
// call, so a caller that can safely repeat the work (an idempotent call, or
// an item action, which Velero allows to see the same item again) may retry
// once. A second ErrPluginUnavailable means the plugin is missing: an
// infrastructure failure rather than an error the plugin reported. Test for
// it with errors.Is; the error's text is the host's, naming the cause.
var ErrPluginUnavailable = errors.New("plugin unavailable")
