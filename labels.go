package rigging

// Labels and annotations with a meaning to Velero, and so to rigging's hosts
// and built-in plugins.
const (
	// LabelBackupName is put on every restored object, naming its backup.
	LabelBackupName = "velero.io/backup-name"
	// LabelRestoreName is put on every restored object, naming its restore.
	LabelRestoreName = "velero.io/restore-name"
	// LabelStorageLocation names a backup's storage location.
	LabelStorageLocation = "velero.io/storage-location"
	// LabelScheduleName names the schedule that created a backup.
	LabelScheduleName = "velero.io/schedule-name"
	// LabelExcludeFromBackup set to "true" keeps an object out of backups.
	LabelExcludeFromBackup = "velero.io/exclude-from-backup"
	// AnnotationSkipFromBackup on an item a BackupItemAction returns makes the
	// host skip the item.
	AnnotationSkipFromBackup = "velero.io/skip-from-backup"
	// AnnotationBackupMustIncludeAdditionalItems set to "true" on an item a
	// BackupItemAction returns makes its additional items bypass the backup's
	// filters. The host removes it.
	AnnotationBackupMustIncludeAdditionalItems = "backup.velero.io/must-include-additional-items"
	// AnnotationRestoreMustIncludeAdditionalItems is the restore-side
	// counterpart (Velero v1.18.3). The host always removes it.
	AnnotationRestoreMustIncludeAdditionalItems = "restore.velero.io/must-include-additional-items"
)
