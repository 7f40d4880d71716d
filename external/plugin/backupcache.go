package plugin

import (
	"bytes"
	"sync/atomic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// decodedBackup is the last Backup this process decoded and the JSON it
// came from. A host sends the same Backup with every item of a backup, so
// most requests find it here and skip decoding 1-2 KiB of JSON (a quarter
// of a plugin's CPU per Execute, measured in docs/BENCHMARKS.md). Actions
// share the decoded value: rigging's action interfaces say they must not
// modify the Backup.
type decodedBackup struct {
	raw []byte
	b   *rigging.Backup
}

var lastBackup atomic.Pointer[decodedBackup]

// decodeBackup decodes Backup JSON, reusing the last decoded value when
// the bytes are the same.
func decodeBackup(raw []byte) (*rigging.Backup, error) {
	if last := lastBackup.Load(); last != nil && bytes.Equal(last.raw, raw) {
		return last.b, nil
	}
	b, err := wire.DecodeObject[rigging.Backup](raw)
	if err != nil || b == nil {
		return b, err
	}
	lastBackup.Store(&decodedBackup{raw: bytes.Clone(raw), b: b})
	return b, nil
}
