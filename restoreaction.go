package rigging

// What a restore did with one object, as Velero's restore resource list
// (restores/NAME/restore-NAME-resource-list.json.gz) words it after each
// entry, plus RestoreActionExists.
const (
	// RestoreActionCreated: the object was created (or written to
	// manifests).
	RestoreActionCreated = "created"
	// RestoreActionUpdated: it existed, differed, and was updated to the
	// backup's version (existing-resource policy "update").
	RestoreActionUpdated = "updated"
	// RestoreActionSkipped: it existed and was the backup's version.
	RestoreActionSkipped = "skipped"
	// RestoreActionFailed: it existed and differed and was left as it was
	// (a warning says so), or the API server refused it (an error says
	// why).
	RestoreActionFailed = "failed"
	// RestoreActionExists: a Namespace existed already (namespaces are
	// ensured, not compared, as Velero ensures them). Not in the resource
	// list.
	RestoreActionExists = "exists"
)
