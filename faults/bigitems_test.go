package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
)

// TestBigItems sends items of 8 MiB and 64 MiB through every RPC that
// carries an item or a body, in both directions where the RPC returns one
// (Velero's gRPC servers keep the 4 MiB default and break on them). The
// 64 MiB size is skipped with -short and -race.
func TestBigItems(t *testing.T) {
	h := newHost(t, external.Options{}, nil, "echo")
	ctx := context.Background()
	backup := &rigging.Backup{}
	backup.Name = "big"
	restore := &rigging.Restore{}
	restore.Name = "big"
	for _, size := range []int{8 << 20, 64 << 20} {
		if size > 8<<20 && (testing.Short() || raceEnabled) {
			t.Logf("skipping %d MiB with -short or -race (run without them for it)", size>>20)
			continue
		}
		item := configMap("ns", "big", size)
		check := func(t *testing.T, what string, u *unstructured.Unstructured, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			blob, _, _ := unstructured.NestedString(u.Object, "data", "blob")
			if len(blob) != size {
				t.Fatalf("%s: came back with %d bytes of data, want %d", what, len(blob), size)
			}
		}
		t.Run(fmt.Sprintf("%dMiB", size>>20), func(t *testing.T) {
			timed := func(what string, f func()) {
				start := time.Now()
				f()
				t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
			}
			timed("BackupItemAction.Execute", func() {
				a, err := h.m.BackupItemAction(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				out, _, err := a.Execute(ctx, item, backup)
				check(t, "BackupItemAction.Execute", out, err)
			})
			timed("BackupItemActionV2.Execute", func() {
				a, err := h.m.BackupItemActionV2(ctx, "faults.rigging.dev/echo-v2")
				if err != nil {
					t.Fatal(err)
				}
				out, _, _, _, err := a.Execute(ctx, item, backup)
				check(t, "BackupItemActionV2.Execute", out, err)
			})
			timed("RestoreItemAction.Execute (item and itemFromBackup)", func() {
				a, err := h.m.RestoreItemAction(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: item, Restore: restore})
				if err != nil {
					t.Fatal(err)
				}
				check(t, "RestoreItemAction.Execute", out.UpdatedItem, err)
			})
			timed("RestoreItemActionV2.Execute (item and itemFromBackup)", func() {
				a, err := h.m.RestoreItemActionV2(ctx, "faults.rigging.dev/echo-v2")
				if err != nil {
					t.Fatal(err)
				}
				out, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{Item: item, ItemFromBackup: item, Restore: restore})
				if err != nil {
					t.Fatal(err)
				}
				check(t, "RestoreItemActionV2.Execute", out.UpdatedItem, err)
			})
			timed("DeleteItemAction.Execute", func() {
				a, err := h.m.DeleteItemAction(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: item, Backup: backup}); err != nil {
					t.Fatalf("DeleteItemAction.Execute: %v", err)
				}
			})
			timed("ItemBlockAction.GetRelatedItems", func() {
				a, err := h.m.ItemBlockAction(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				ids, err := a.GetRelatedItems(ctx, item, backup)
				if err != nil || len(ids) != 1 || ids[0].Name != "big" {
					t.Fatalf("ItemBlockAction.GetRelatedItems: %v, %v", ids, err)
				}
			})
			timed("VolumeSnapshotter.GetVolumeID + SetVolumeID", func() {
				v, err := h.m.VolumeSnapshotter(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				if err := v.Init(ctx, nil); err != nil {
					t.Fatal(err)
				}
				id, err := v.GetVolumeID(ctx, item)
				if err != nil || id == "" {
					t.Fatalf("GetVolumeID: %q, %v", id, err)
				}
				out, err := v.SetVolumeID(ctx, item, "vol-1")
				check(t, "VolumeSnapshotter.SetVolumeID", out, err)
			})
			timed("ObjectStore.PutObject + GetObject", func() {
				s, err := h.m.ObjectStore(ctx, "faults.rigging.dev/echo")
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Init(ctx, map[string]string{"bucket": "b"}); err != nil {
					t.Fatal(err)
				}
				body := bytes.Repeat([]byte{0xa5}, size)
				if err := s.PutObject(ctx, "b", "k", bytes.NewReader(body)); err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				rc, err := s.GetObject(ctx, "b", "k")
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("GetObject: %d bytes back (%v), want %d equal bytes", len(got), err, size)
				}
			})
		})
	}
}
