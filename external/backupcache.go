package external

import (
	"sync/atomic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// backupEncoder encodes the Backup of action requests, reusing the last
// encoding while the caller passes the same *rigging.Backup unchanged in the
// fields it updates during a backup (resourceVersion, generation, phase,
// progress, error and warning counts): a pipeline sends one Backup with
// every item, and encoding it per call cost a fifth of the host's CPU
// (docs/BENCHMARKS.md). A caller that changes other fields of a Backup
// between calls must pass a copy. A Catalog's clients share one; each
// NewClient has its own. Safe for concurrent use.
type backupEncoder struct {
	last atomic.Pointer[encodedBackup]
}

// encodedBackup is one Backup's key and JSON.
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

// encode returns the JSON of b (nil for nil), reusing the last encoding
// when b is the same Backup, unchanged in the fields above.
func (e *backupEncoder) encode(b *rigging.Backup) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	k := keyOf(b)
	if last := e.last.Load(); last != nil && last.key == k {
		return last.json, nil
	}
	j, err := wire.EncodeObject(b)
	if err != nil {
		return nil, err
	}
	e.last.Store(&encodedBackup{key: k, json: j})
	return j, nil
}
