package backup_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/archive/archivetest"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

type fakeDelete struct {
	mu   sync.Mutex
	seen []string
	fail string
}

func (d *fakeDelete) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"persistentvolumeclaims", "featureflags.shop.example.com"}}, nil
}

func (d *fakeDelete) Execute(_ context.Context, in *rigging.DeleteItemActionExecuteInput) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in.Backup == nil || in.Backup.Name != "b1" {
		return errors.New("backup not passed")
	}
	d.seen = append(d.seen, in.Item.GetKind()+"/"+in.Item.GetNamespace()+"/"+in.Item.GetName())
	if in.Item.GetName() == d.fail {
		return errors.New("snapshot still in use")
	}
	return nil
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name, fail string
		wantErr    error
	}{
		{name: "actions then objects"},
		{name: "a failing action removes nothing", fail: "redis-data", wantErr: backup.ErrActionsFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := archivetest.NewMemStore()
			store := archive.NewStore(mem, bucket, "")
			items := clusterExport(t)
			if _, _, err := run(t, backup.Options{Items: items, Store: store, Spec: rigging.BackupSpec{IncludedNamespaces: []string{"shop"}}}); err != nil {
				t.Fatal(err)
			}
			d := &fakeDelete{fail: tc.fail}
			r := registry.New()
			registry.RegisterIn(r, "example.com/release", func(*slog.Logger) (rigging.DeleteItemAction, error) { return d, nil })
			m := manager.New(manager.Options{Registry: r, Logger: slog.New(slog.DiscardHandler)})
			defer m.Close()

			calls, err := backup.Delete(context.Background(), store, m, "b1")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			slices.Sort(d.seen)
			// The claims of shop, and the custom resources (their CRD came with them).
			if calls != 6 || !slices.Contains(d.seen, "PersistentVolumeClaim/shop/data-postgres-0") || !slices.Contains(d.seen, "FeatureFlag/shop/dark-mode") {
				t.Errorf("%d calls on %v", calls, d.seen)
			}
			left := mem.Keys(bucket)
			if tc.wantErr == nil && len(left) != 0 {
				t.Errorf("objects left: %v", left)
			}
			if tc.wantErr != nil && (len(left) != 9 || !strings.Contains(err.Error(), "redis-data")) {
				t.Errorf("after a failed action: %d objects, error %v", len(left), err)
			}
		})
	}
	if _, err := backup.Delete(context.Background(), archive.NewStore(archivetest.NewMemStore(), bucket, ""), nil, "missing"); !errors.Is(err, archive.ErrBackupNotFound) {
		t.Errorf("missing backup: %v", err)
	}
}
