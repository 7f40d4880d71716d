package rigging

// InputPreserver is an optional interface of a BackupItemAction or
// BackupItemActionV2 whose Execute never modifies the item it is given: it
// returns that item unchanged, or a deep copy of it that it made and
// changed, sharing no map or slice with it (Unstructured.DeepCopy; not a
// shallow clone of the top-level map).
// Hosts that share an item between calls and with other readers must give
// any other action a private copy of the item; an InputPreserver may get
// the shared item itself (it saves a deep copy per item). A client of an
// action in another process preserves its input by construction (the item
// crosses the wire), so it may implement this too. Wrappers of an action
// (a Manager's middleware) must forward the underlying action's answer.
//
// The answer must not change during the action's life. Returning false is
// the same as not implementing the interface.
type InputPreserver interface {
	PreservesInput() bool
}

// PreservesInput reports whether action declares, as an InputPreserver,
// that its Execute leaves its input item unmodified.
func PreservesInput(action any) bool {
	p, ok := action.(InputPreserver)
	return ok && p.PreservesInput()
}
