package external

import (
	"sync/atomic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// encodedBackup is the JSON of the last Backup this host sent. A backup
// pipeline passes the same *rigging.Backup with every item, and encoding it
// is a fifth of the host's CPU per Execute (docs/BENCHMARKS.md), so it is
// encoded once per backup. The key is the pointer together with the fields
// a caller updates while a backup runs (resourceVersion, generation, phase,
// progress, error and warning counts): changing any of them, or passing a
// different value, encodes again. A caller that changes other fields of a
// Backup between calls must pass a copy.
type encodedBackup struct {
	key  backupKey
	json []byte
}

type backupKey struct {
	b               *rigging.Backup
	resourceVersion string
	generation      int64
	phase           rigging.BackupPhase
	errors          int
	warnings        int
	hasProgress     bool
	progress        rigging.BackupProgress
}

func keyOf(b *rigging.Backup) backupKey {
	k := backupKey{b: b, resourceVersion: b.ResourceVersion, generation: b.Generation, phase: b.Status.Phase,
		errors: b.Status.Errors, warnings: b.Status.Warnings}
	if p := b.Status.Progress; p != nil {
		k.hasProgress, k.progress = true, *p
	}
	return k
}

var lastBackup atomic.Pointer[encodedBackup]

// encodeBackup returns the JSON of b (nil for nil), reusing the last
// encoding when b is the same Backup, unchanged in the fields above.
func encodeBackup(b *rigging.Backup) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	k := keyOf(b)
	if last := lastBackup.Load(); last != nil && last.key == k {
		return last.json, nil
	}
	j, err := wire.EncodeObject(b)
	if err != nil {
		return nil, err
	}
	lastBackup.Store(&encodedBackup{key: k, json: j})
	return j, nil
}
