package external

import (
	"bytes"
	"testing"

	"github.com/rigging-dev/rigging"
)

func TestEncodeBackupOncePerBackup(t *testing.T) {
	var e backupEncoder
	b := &rigging.Backup{}
	b.Name = "b1"
	first, err := e.encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.encode(b); &again[0] != &first[0] {
		t.Error("an unchanged Backup was encoded again")
	}
	for _, change := range []func(){
		func() { b.Status.Phase = rigging.BackupPhaseCompleted },
		func() { b.Status.Progress = &rigging.BackupProgress{TotalItems: 3} },
		func() { b.Status.Progress.ItemsBackedUp = 2 },
		func() { b.ResourceVersion = "7" },
		func() { b.Status.Errors = 1 },
	} {
		before, _ := e.encode(b)
		change()
		after, err := e.encode(b)
		if err != nil || bytes.Equal(before, after) {
			t.Errorf("a change was not encoded: %s", after)
		}
	}
	other := &rigging.Backup{}
	other.Name = "b2"
	if j, _ := e.encode(other); !bytes.Contains(j, []byte(`"b2"`)) {
		t.Errorf("another Backup encodes as %s", j)
	}
	if j, err := e.encode(nil); j != nil || err != nil {
		t.Errorf("nil: %s %v", j, err)
	}
}
