package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/backup"
	"github.com/rigging-dev/rigging/bench/measure"
	"github.com/rigging-dev/rigging/internal/ujson"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

// backup measures backup.Run on cfg.Items into the filesystem store: every
// action and the store in-process, against every action and the store
// served by PluginBinary (an external plugin shadows the built-in of the
// same name). Each result's operation is one item.
func (s *suite) backup() ([]measure.Case, int, int, error) {
	if len(s.cfg.Items) == 0 {
		return nil, 0, 0, nil
	}
	dir, err := os.MkdirTemp("", "rigging-bench-backup-")
	if err != nil {
		return nil, 0, 0, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	if _, ok := registry.Default.Lookup(rigging.KindBackupItemAction, SleepAction); !ok {
		registry.RegisterIn(registry.Default, SleepAction, newSleepAction)
	}
	inproc := manager.New(manager.Options{Logger: discard})
	s.closers = append(s.closers, func() { inproc.Close() })
	sleepWith := func(workers int) func(context.Context, *manager.Manager, *archive.Store, string, []*unstructured.Unstructured) (int64, error) {
		return func(ctx context.Context, m *manager.Manager, store *archive.Store, name string, items []*unstructured.Unstructured) (int64, error) {
			return RunBackupWorkers(ctx, m, store, name, items, workers, true)
		}
	}
	cases := []measure.Case{
		s.backupCase(BackupInProcess, inproc, filepath.Join(dir, "inproc"), RunBackup),
		s.backupCase(BackupFloor, inproc, filepath.Join(dir, "floor"), RunFloor),
		s.backupCase(BackupSleep1, inproc, filepath.Join(dir, "sleep1"), sleepWith(1)),
		s.backupCase(BackupSleep2, inproc, filepath.Join(dir, "sleep2"), sleepWith(2)),
	}
	if s.cfg.PluginBinary != "" {
		rm, err := s.rpcManager()
		if err != nil {
			return nil, 0, 0, err
		}
		cases = append(cases, s.backupCase(BackupRPC, rm, filepath.Join(dir, "rpc"), RunBackup))
	}
	return cases, max(2, s.cfg.Rounds/2), 1, nil
}

// BackupFloor is the backup group's lower bound: the items of the backup
// encoded and written as its tarball into the same store (RunFloor), with
// nothing else.
const BackupFloor = "backup-floor"

// backupCase measures run (RunBackup or RunFloor) with m's actions and
// store.
func (s *suite) backupCase(name string, m *manager.Manager, root string, run func(context.Context, *manager.Manager, *archive.Store, string, []*unstructured.Unstructured) (int64, error)) measure.Case {
	seq := 0
	var store *archive.Store
	return measure.Case{Name: name, Run: func(n int) (measure.Sample, error) {
		if store == nil {
			// One store for every round: a plugin process keeps one
			// ObjectStore per name, initialised once.
			st, err := OpenFilesystem(s.ctx, m, root)
			if err != nil {
				return measure.Sample{}, err
			}
			if c, ok := st.(rigging.Closer); ok {
				s.closers = append(s.closers, func() { c.Close() })
			}
			store = archive.NewStore(st, "bench", "")
		}
		var all measure.Sample
		for range n {
			seq++
			smp, err := measure.Once(func() (int64, error) {
				return run(s.ctx, m, store, fmt.Sprintf("bench-%d", seq), s.cfg.Items)
			})
			if err != nil {
				return all, err
			}
			// One operation per item backed up.
			smp.N = int(smp.Bytes)
			smp.Bytes = 0
			smp.Lat = nil
			all = merge(all, smp)
		}
		return all, nil
	}}
}

// OpenFilesystem returns the filesystem ObjectStore as m reaches it (an
// external filesystem plugin serves it over RPC), initialised at root.
func OpenFilesystem(ctx context.Context, m *manager.Manager, root string) (rigging.ObjectStore, error) {
	st, err := m.ObjectStore(ctx, filesystem.Name)
	if err != nil {
		return nil, err
	}
	if err := st.Init(ctx, map[string]string{filesystem.KeyRoot: root}); err != nil {
		return nil, err
	}
	return st, nil
}

// RunBackup backs items up as name into store with m's actions (the
// velero.io/csi-* ones left out, as Velero does without EnableCSI, and
// SleepAction) and returns the number of items backed up.
func RunBackup(ctx context.Context, m *manager.Manager, store *archive.Store, name string, items []*unstructured.Unstructured) (int64, error) {
	return RunBackupWorkers(ctx, m, store, name, items, 0, false)
}

// RunBackupWorkers is RunBackup with workers item blocks processed at once
// (0: GOMAXPROCS), and with SleepAction among the actions when sleep is
// set (m must offer it: RegisterPlugins in-process, or a plugin process
// started with EnvPlugins=1).
func RunBackupWorkers(ctx context.Context, m *manager.Manager, store *archive.Store, name string, items []*unstructured.Unstructured, workers int, sleep bool) (int64, error) {
	sum, err := backup.Run(ctx, backup.Options{
		Name: name, Items: items, Store: store, Plugins: withoutCSI{m, sleep},
		OperationPollInterval: 10 * time.Millisecond, Workers: workers,
	})
	if err != nil {
		return 0, err
	}
	// A backup with errors measured something else than a backup (an
	// action's failing path): the measurement is void.
	if n := sum.Backup.Status.Errors; n > 0 {
		return 0, fmt.Errorf("backup %s: %d errors, among them: %s", name, n, oneError(sum.Results.Errors))
	}
	return int64(sum.Backup.Status.Progress.ItemsBackedUp), nil
}

// oneError returns one message of r: Velero's, a cluster-scoped item's or
// that of the first namespace in sorted order.
func oneError(r archive.Result) string {
	msgs := slices.Concat(r.Velero, r.Cluster)
	for _, ns := range slices.Sorted(maps.Keys(r.Namespaces)) {
		msgs = append(msgs, r.Namespaces[ns]...)
	}
	if len(msgs) == 0 {
		return ""
	}
	return msgs[0]
}

// withoutCSI leaves out the actions named velero.io/csi-*, as Velero v1.18
// does unless its EnableCSI feature flag is on (they need a cluster), and
// SleepAction unless sleep is set.
type withoutCSI struct {
	m     *manager.Manager
	sleep bool
}

func (w withoutCSI) BackupItemActionsV2(ctx context.Context) ([]rigging.BackupItemActionV2, error) {
	all, err := w.m.BackupItemActionsV2(ctx)
	return slices.DeleteFunc(all, func(a rigging.BackupItemActionV2) bool {
		return isCSI(a.Name()) || (a.Name() == SleepAction && !w.sleep)
	}), err
}

func (w withoutCSI) ItemBlockActions(ctx context.Context) ([]rigging.ItemBlockAction, error) {
	all, err := w.m.ItemBlockActions(ctx)
	return slices.DeleteFunc(all, func(a rigging.ItemBlockAction) bool { return isCSI(a.Name()) }), err
}

func isCSI(name string) bool { return strings.Contains(name, "velero.io/csi-") }

// RunFloor writes items into store as the tarball of a backup named name
// and returns how many it wrote: each item mapped to its resource, encoded
// to JSON as the pipeline encodes it, and written at its two paths, nothing
// else (no filters, actions, copies, log, sidecars or metadata; m is not
// used). It is the least a backup of the items does whatever runs its
// actions, so the time of any backup over it bounds how much faster that
// backup could be made in-process: RPC backup time / floor time is the most
// backup_inproc_vs_rpc could reach.
func RunFloor(ctx context.Context, _ *manager.Manager, store *archive.Store, name string, items []*unstructured.Unstructured) (int64, error) {
	mapper := resources.NewMapper()
	n := int64(0)
	key := store.Layout.BackupKey(name, archive.BackupContents)
	err := store.Put(ctx, key, func(w io.Writer) error {
		tw, err := archive.NewWriter(w, time.Now())
		if err != nil {
			return err
		}
		defer tw.Abort()
		for _, o := range items {
			r, err := mapper.ForObject(o)
			if err != nil {
				return err
			}
			data, err := ujson.Marshal(o.Object)
			if err != nil {
				return err
			}
			ns := ""
			if r.Namespaced {
				ns = o.GetNamespace()
			}
			if err := tw.WriteItem(r.GroupResource(), r.Version, ns, o.GetName(), data); err != nil {
				return err
			}
			n++
		}
		return tw.Close()
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
