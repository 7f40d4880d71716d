package rigging

import "errors"

// Sentinel errors. Hosts and plugins wrap them with context (the plugin, the
// item, the key); callers test for them with errors.Is.
var (
	// ErrInvalidName reports a plugin name that breaks Velero's naming rules.
	ErrInvalidName = errors.New("invalid plugin name")
	// ErrInvalidKind reports a kind string that is not one of Kinds.
	ErrInvalidKind = errors.New("invalid plugin kind")
	// ErrPluginNotFound reports that no source offers a plugin of the requested
	// kind and name. Such errors say which kind and name were asked for and, for
	// a built-in, the likely fix (a missing import of its package).
	ErrPluginNotFound = errors.New("plugin not found")
	// ErrAsyncNotSupported is what an action that runs no asynchronous
	// operations (every v1 action offered as v2) returns from Progress. Its text
	// is Velero's.
	ErrAsyncNotSupported = errors.New("plugin does not support asynchronous operations")
	// ErrInvalidOperationID reports an operation ID the plugin does not know.
	ErrInvalidOperationID = errors.New("invalid operation ID")
	// ErrNotFound reports an object that does not exist: an object-store key,
	// or an item a Lookup was asked for.
	ErrNotFound = errors.New("not found")
	// ErrNotInitialized reports a call on an ObjectStore or VolumeSnapshotter
	// before its Init succeeded.
	ErrNotInitialized = errors.New("plugin not initialized")
	// ErrAlreadyInitialized reports a second Init of the same ObjectStore or
	// VolumeSnapshotter instance.
	ErrAlreadyInitialized = errors.New("plugin already initialized")
	// ErrPanic marks an error made from a panic in a plugin. The host survives;
	// the error carries the panic value and, where known, the stack.
	ErrPanic = errors.New("plugin panicked")
	// ErrClosed reports a call through a Manager (or an instance it handed out)
	// after Close.
	ErrClosed = errors.New("plugin manager closed")
	// ErrNoCluster reports that an action asked a Lookup for other objects
	// and its host had none to give: no Lookup in the call's context, or (a
	// plugin served over gRPC) no cluster configuration where a plugin
	// process looks for one. An action that needs other objects fails with
	// it (wrapped with the plugin and the item) instead of answering as if
	// there were none.
	ErrNoCluster = errors.New("no cluster to look up objects in")
)
