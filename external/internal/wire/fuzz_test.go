package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/internal/wire"
	"github.com/rigging-dev/rigging/manifest"
)

// FuzzDecodeItem checks the item decoder both sides use on every item that
// crosses the wire: no panic, and an accepted item survives an
// encode/decode round trip unchanged (what a plugin returns untouched is
// what the host gets back). Seeds: the JSON of every object of the demo
// manifests and of the cluster-export namespace kube-system, as the host
// encodes them.
func FuzzDecodeItem(f *testing.F) {
	for _, file := range []string{"../../../testdata/demo/pod-two-pvcs.yaml", "../../../testdata/demo/claims.yaml",
		"../../../testdata/demo/service-clusterip.yaml", "../../../testdata/manifests/cluster-export/kube-system.yaml"} {
		objs, err := manifest.Load(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, o := range objs {
			b, err := wire.EncodeItem(o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{`{}`, `null`, `[]`, `{"kind":1}`, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":[]}}`,
		`{"kind":"Pod","spec":{"n":1e400}}`, `{"kind":"Pod","x":"\ud800"}`, `{"kind":"List","items":[{"kind":"Pod"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := wire.DecodeItem(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "decode item") {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		enc, err := wire.EncodeItem(u)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", data, err)
		}
		back, err := wire.DecodeItem(enc)
		if err != nil {
			t.Fatalf("cannot decode own encoding %s: %v", enc, err)
		}
		// A number may change type once (1e3 decodes as float64 1000,
		// which encodes as 1000 and decodes as int64), so the fixed point
		// is the encoding: what a plugin returns untouched is, byte for
		// byte, what it was sent.
		again, err := wire.EncodeItem(back)
		if err != nil {
			t.Fatalf("cannot encode %s again: %v", enc, err)
		}
		if !bytes.Equal(enc, again) {
			t.Fatalf("round trip changed the item:\nfirst  %s\nsecond %s", enc, again)
		}
	})
}

// FuzzDecodeBackup checks the Backup decoder of the wire (every
// BackupItemAction, ItemBlockAction and DeleteItemAction call carries one):
// no panic, and encode/decode of what it accepts is stable.
func FuzzDecodeBackup(f *testing.F) {
	f.Add([]byte(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"demo-1","namespace":"velero","uid":"4f1c",` +
		`"labels":{"velero.io/storage-location":"default"}},"spec":{"includedNamespaces":["app"],"storageLocation":"default",` +
		`"ttl":"720h0m0s","itemOperationTimeout":"4h0m0s","hooks":{}},"status":{"version":1,"formatVersion":"1.1.0",` +
		`"phase":"InProgress","startTimestamp":"2026-11-27T10:03:23Z","expiration":"2026-12-27T10:03:23Z"}}`))
	f.Add([]byte(`{"metadata":{"name":"b"},"spec":{"future":[1,{"a":null}]},"status":{"x":1},"top":"y"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) { objectRoundTrip[rigging.Backup](t, data) })
}

// FuzzDecodeRestore is FuzzDecodeBackup for the Restore every
// RestoreItemAction call carries.
func FuzzDecodeRestore(f *testing.F) {
	f.Add([]byte(`{"kind":"Restore","apiVersion":"velero.io/v1","metadata":{"name":"r-1","namespace":"velero"},` +
		`"spec":{"backupName":"demo-1","namespaceMapping":{"app":"app-copy"},"restorePVs":true,"itemOperationTimeout":"4h0m0s"},` +
		`"status":{"phase":"InProgress","startTimestamp":"2026-11-27T10:05:00Z"}}`))
	f.Add([]byte(`{"spec":{"future":true},"status":{"y":[]},"z":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) { objectRoundTrip[rigging.Restore](t, data) })
}

func objectRoundTrip[T any](t *testing.T, data []byte) {
	v, err := wire.DecodeObject[T](data)
	if err != nil || v == nil {
		return
	}
	e1, err := wire.EncodeObject(v)
	if err != nil {
		t.Fatalf("decoded %q but cannot encode it: %v", data, err)
	}
	w, err := wire.DecodeObject[T](e1)
	if err != nil || w == nil {
		t.Fatalf("cannot decode own encoding %s: %v", e1, err)
	}
	e2, err := wire.EncodeObject(w)
	if err != nil {
		t.Fatalf("cannot re-encode %s: %v", e1, err)
	}
	x, err := wire.DecodeObject[T](e2)
	if err != nil || x == nil {
		t.Fatalf("cannot decode own encoding %s: %v", e2, err)
	}
	e3, _ := wire.EncodeObject(x)
	if !bytes.Equal(e2, e3) {
		t.Fatalf("encoding is not stable:\ninput  %q\nsecond %s\nthird  %s", data, e2, e3)
	}
	var m1, m2 any
	if json.Unmarshal(e1, &m1) != nil || json.Unmarshal(e2, &m2) != nil {
		t.Fatalf("encodings are not JSON: %s / %s", e1, e2)
	}
	if !reflect.DeepEqual(dropNulls(m1), dropNulls(m2)) {
		t.Fatalf("re-encoding changed the meaning:\nfirst  %s\nsecond %s", e1, e2)
	}
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(e)
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}

// FuzzProgress feeds arbitrary bytes, as a plugin's Progress reply, to the
// host's progress decoder: no panic, and the decoded progress survives the
// trip back to the wire and again unchanged.
func FuzzProgress(f *testing.F) {
	for _, p := range []rigging.OperationProgress{
		{},
		{Completed: true, NCompleted: 3, NTotal: 3, OperationUnits: "bytes", Description: "done",
			Started: time.Unix(1700000000, 0).UTC(), Updated: time.Unix(1700000060, 5).UTC()},
		{Err: "snapshot failed", NCompleted: -1, NTotal: 1 << 62},
	} {
		b, err := proto.Marshal(wire.Progress(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x3a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x10}) // started: huge seconds
	f.Fuzz(func(t *testing.T, data []byte) {
		var w generated.OperationProgress
		if proto.Unmarshal(data, &w) != nil {
			return
		}
		p1 := wire.FromProgress(&w)
		p2 := wire.FromProgress(wire.Progress(p1))
		if !p1.Started.Equal(p2.Started) || !p1.Updated.Equal(p2.Updated) {
			t.Fatalf("times changed: %v/%v -> %v/%v", p1.Started, p1.Updated, p2.Started, p2.Updated)
		}
		p1.Started, p1.Updated, p2.Started, p2.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(p1, p2) {
			t.Fatalf("round trip changed the progress: %+v -> %+v", p1, p2)
		}
	})
}

// FuzzFromStatus feeds arbitrary bytes, as the google.rpc.Status of a failed
// call, to the host's error decoder: no panic, the plugin's message kept
// verbatim, and rigging.ErrPanic matched only for a panic status. Seeds:
// statuses the plugin side produces for errors with stacks and sentinels,
// and for panics.
func FuzzFromStatus(f *testing.F) {
	for _, err := range []error{
		wire.Status(errors.New("plain failure")),
		wire.Status(rigging.ErrNotFound),
		wire.Status(wireStackErr()),
		wire.PanicStatus("boom", []uintptr{}),
		wire.PanicStatus(errors.New("panic with error"), nil),
		status.Error(codes.DeadlineExceeded, "deadline"),
		status.Error(codes.Unavailable, "transport closing"),
	} {
		b, err := proto.Marshal(status.Convert(err).Proto())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sp spb.Status
		if proto.Unmarshal(data, &sp) != nil || sp.Code == 0 {
			return
		}
		err := wire.FromStatus(status.FromProto(&sp).Err())
		var re *wire.RemoteError
		if !errors.As(err, &re) {
			t.Fatalf("FromStatus gave %T, want *RemoteError", err)
		}
		if re.Error() != sp.Message || re.Code != codes.Code(sp.Code) {
			t.Fatalf("message/code changed: %q %v, want %q %v", re.Error(), re.Code, sp.Message, codes.Code(sp.Code))
		}
		if errors.Is(err, rigging.ErrPanic) != (re.Code == codes.Aborted && strings.HasPrefix(sp.Message, "plugin panicked")) {
			t.Fatalf("ErrPanic matched wrongly for code %v message %q", re.Code, sp.Message)
		}
		_ = re.Frames()
		// Re-sending it (a host relaying a plugin error) must not panic either.
		_ = wire.Status(err)
	})
}

type stackErr struct{ pcs []uintptr }

func (e stackErr) Error() string      { return "failed with a stack" }
func (e stackErr) Callers() []uintptr { return e.pcs }

func wireStackErr() error {
	// Program counters of this test binary: resolvable frames.
	pcs := make([]uintptr, 8)
	n := runtime.Callers(1, pcs)
	return stackErr{pcs[:n]}
}
