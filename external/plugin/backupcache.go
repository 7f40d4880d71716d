package plugin

import (
	"bytes"
	"sync/atomic"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// backupDecoder decodes the Backup of action requests, reusing the last
// decoded value when the bytes are the same: a host sends one Backup with
// every item, and decoding it per call cost a quarter of a plugin's CPU
// (docs/BENCHMARKS.md). Actions share the decoded value: rigging's action
// interfaces say they must not modify the Backup. Each mux (one per
// served gRPC server) has its own. Safe for concurrent use.
type backupDecoder struct {
	last atomic.Pointer[decodedBackup]
}

// decodedBackup is one decoded Backup and the JSON it came from.
type decodedBackup struct {
	raw []byte
	b   *rigging.Backup
}

// decode decodes Backup JSON, reusing the last decoded value when the
// bytes are the same.
func (d *backupDecoder) decode(raw []byte) (*rigging.Backup, error) {
	if last := d.last.Load(); last != nil && bytes.Equal(last.raw, raw) {
		return last.b, nil
	}
	b, err := wire.DecodeObject[rigging.Backup](raw)
	if err != nil || b == nil {
		return b, err
	}
	d.last.Store(&decodedBackup{raw: bytes.Clone(raw), b: b})
	return b, nil
}
