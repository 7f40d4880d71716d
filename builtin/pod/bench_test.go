package pod

import (
	"context"
	"testing"

	"github.com/rigging-dev/rigging"
)

// BenchmarkBackupActionExecute measures velero.io/pod's backup action on the
// two-claim pod (about 2 KiB of JSON), called directly.
func BenchmarkBackupActionExecute(b *testing.B) {
	item := twoClaimPodTB(b)
	a := &BackupAction{}
	ctx := context.Background()
	backup := &rigging.Backup{}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.Execute(ctx, item, backup); err != nil {
			b.Fatal(err)
		}
	}
}
