package plugin

import (
	"testing"
)

func TestDecodeBackupReusesSameBytes(t *testing.T) {
	a := []byte(`{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"a"}}`)
	b := []byte(`{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b"}}`)
	var d backupDecoder
	first, err := d.decode(a)
	if err != nil || first.Name != "a" {
		t.Fatalf("decode a: %+v %v", first, err)
	}
	again, _ := d.decode(append([]byte(nil), a...))
	if again != first {
		t.Error("the same bytes were decoded again instead of reused")
	}
	other, err := d.decode(b)
	if err != nil || other.Name != "b" || other == first {
		t.Errorf("decode b: %+v %v", other, err)
	}
	if back, _ := d.decode(a); back.Name != "a" {
		t.Errorf("after b, a decodes as %q", back.Name)
	}
	if _, err := d.decode([]byte(`{"metadata":`)); err == nil {
		t.Error("bad JSON accepted")
	}
	if n, err := d.decode(nil); n != nil || err != nil {
		t.Errorf("empty: %v %v", n, err)
	}
}
