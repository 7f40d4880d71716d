package plugin

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/wire"
)

// The per-kind servers (one file per kind, named as its client in package
// external) only map messages to interface calls; routing, lazy creation,
// errors and panics are handled once, in mux and the interceptors. The
// helpers below decode and encode the items action requests carry.

// getItemBackup returns the instance serving plugin and the (item,
// backup) pair most action requests carry, decoded.
func getItemBackup[T any](s kindServer[T], plugin string, item, backup []byte) (T, *itemBackup, error) {
	impl, err := s.get(plugin)
	if err != nil {
		return impl, nil, err
	}
	u, err := wire.DecodeItem(item)
	if err != nil {
		return impl, nil, err
	}
	b, err := s.m.backups.decode(backup)
	if err != nil {
		return impl, nil, err
	}
	return impl, &itemBackup{u, b}, nil
}

// getDecoded returns the instance serving plugin and a request's payload
// raw, decoded by decode.
func getDecoded[T, V any](s kindServer[T], plugin string, decode func([]byte) (V, error), raw []byte) (T, V, error) {
	impl, err := s.get(plugin)
	if err != nil {
		var zero V
		return impl, zero, err
	}
	v, err := decode(raw)
	return impl, v, err
}

type itemBackup struct {
	item   *unstructured.Unstructured
	backup *rigging.Backup
}

// echo returns the JSON of updated, or the request's item when the
// implementation returned nil: a response always carries item JSON. A
// backup item action that declares rigging.InputPreserver (impl) and
// returns the item it was given (given) has left it unchanged, so the
// request's JSON is echoed too, with no encoding; the host then hands its
// caller back the item it sent.
func echo(impl any, updated, given *unstructured.Unstructured, in []byte) ([]byte, error) {
	if updated == nil || (updated == given && rigging.PreservesInput(impl)) {
		return in, nil
	}
	return wire.EncodeItem(updated)
}
