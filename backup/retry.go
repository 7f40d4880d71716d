package backup

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/rigging-dev/rigging"
)

// retryUnavailable runs call, a plugin call made for an item (or to
// resolve an action), and runs it once more when it failed with
// rigging.ErrPluginUnavailable: the plugin's process died or its
// connection was lost during the call, and the host restarts the process
// on the next call.
//
// The call may have run before the process died, so the plugin may see the
// same item twice. Velero's contract allows that: item actions must cope
// with being given an item again (Velero itself retries a backup's items
// and re-runs actions in finalize mode), and an action's effect is the
// item it returns, which only the second call's answer supplies.
//
// A second ErrPluginUnavailable means the plugin is missing (it cannot be
// restarted, is quarantined, or dies again), an infrastructure failure
// rather than an error the plugin reported about the item: the error
// returned is then fatal, so the whole backup fails and is not listed
// instead of being listed PartiallyFailed without the item. Any other error
// is returned as is.
func retryUnavailable[T any](bk warner, log *itemLog, plugin, method string, call func() (T, error)) (T, error) {
	res, err := call()
	if err == nil || !errors.Is(err, rigging.ErrPluginUnavailable) {
		return res, err
	}
	bk.warnf(log.logger(), "plugin unavailable during a call; calling it once more after a restart (the plugin may see this item again)",
		"plugin", plugin, "call", method, "error", err)
	res, err = call()
	if err != nil && errors.Is(err, rigging.ErrPluginUnavailable) {
		var zero T
		return zero, &fatalError{fmt.Errorf("%w (failed again after a restart; the plugin is unavailable, so the backup fails)", namePlugin(plugin, err))}
	}
	return res, err
}

// warner logs a warning into a backup log and to the caller's logger.
type warner interface {
	warnf(log *slog.Logger, msg string, args ...any)
}
