// Package veleroserver checks rigging against a real Velero v1.18.3 server
// (`velero server`, run out of cluster against the test API server by
// internal/veleroserver, with the real velero-plugin-for-aws on versitygw):
// a rigging backup that the server syncs and restores, a Velero backup that
// rigging lists, describes and restores, the two backups of the same
// namespaces holding the same items, and deletions on either side seen by
// the other. The tests drive Velero only through its custom resources and
// the bucket, as a user's kubectl would.
package veleroserver
