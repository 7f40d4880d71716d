// The codec cases of the per-call group: the JSON work of one Execute
// without any transport, with the standard codecs and with internal/ujson.

package bench

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/internal/ujson"
)

// ujsonItemCall is rigging's item JSON work of one Execute when the action
// changes the item, in-process with no transport: the host encodes the
// item, the plugin decodes it and encodes the changed item, the host
// decodes it, all with internal/ujson (the Backup is encoded and decoded
// once per backup; an unchanged item skips the last two steps).
func ujsonItemCall() Call {
	item, _, _ := Fixtures()
	do := func() error {
		ij, err := ujson.Marshal(item.Object)
		if err != nil {
			return err
		}
		pi, err := ujson.Unmarshal(ij)
		if err != nil {
			return err
		}
		oj, err := ujson.Marshal(pi)
		if err != nil {
			return err
		}
		_, err = ujson.Unmarshal(oj)
		return err
	}
	return Call{Name: JSONUjsonItem, Do: do, Scale: 1}
}

// jsonCodecCall is the JSON work of one Execute over Velero's protocol
// with the standard codecs (encoding/json, apimachinery's unstructured
// JSON: what Velero's host and framework use), in-process with no
// transport: the host encodes the item and the
// Backup, the plugin decodes both and encodes the returned item, the host
// decodes it. It is the part of the RPC paths that no transport can remove
// while the wire carries JSON. Without withBackup it leaves the Backup out
// (what remains once host and plugin encode and decode it once per backup).
func jsonCodecCall(withBackup bool) (Call, error) {
	name := JSONCodec
	if !withBackup {
		name = JSONCodecItem
	}
	item, b, err := Fixtures()
	if err != nil {
		return Call{}, err
	}
	do := func() error {
		ij, err := json.Marshal(item.Object)
		if err != nil {
			return err
		}
		if withBackup {
			bj, err := json.Marshal(b)
			if err != nil {
				return err
			}
			var pb rigging.Backup
			if err := json.Unmarshal(bj, &pb); err != nil {
				return err
			}
		}
		pi := &unstructured.Unstructured{}
		if err := pi.UnmarshalJSON(ij); err != nil {
			return err
		}
		oj, err := json.Marshal(pi.Object)
		if err != nil {
			return err
		}
		return (&unstructured.Unstructured{}).UnmarshalJSON(oj)
	}
	return Call{Name: name, Do: do, Scale: 1}, do()
}
