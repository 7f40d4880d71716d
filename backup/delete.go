package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/resources"
)

// DeletePlugins is what Delete needs from a plugin Manager;
// *manager.Manager implements it.
type DeletePlugins interface {
	DeleteItemActions(ctx context.Context) ([]rigging.DeleteItemAction, error)
}

// ErrActionsFailed reports a deletion stopped because DeleteItemActions
// failed; nothing was removed from the store.
var ErrActionsFailed = errors.New("delete item actions failed")

// Delete deletes backup name as Velero does: every DeleteItemAction runs on
// each backed-up item it applies to (to release what the backup holds
// outside the store), then every object under backups/NAME/ is removed,
// velero-backup.json first. If an action fails, nothing is removed and the
// error (wrapping ErrActionsFailed) names each failed action call. It
// returns the number of action calls. plugins may be nil (no actions).
func Delete(ctx context.Context, store *archive.Store, plugins DeletePlugins, name string) (int, error) {
	b, err := store.GetBackup(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("delete backup %s: %w", name, err)
	}
	calls, err := runDeleteActions(ctx, store, plugins, b)
	if err != nil {
		return calls, fmt.Errorf("delete backup %s: %w", name, err)
	}
	if err := store.DeleteBackup(ctx, name); err != nil {
		return calls, fmt.Errorf("delete backup %s: %w", name, err)
	}
	return calls, nil
}

func runDeleteActions(ctx context.Context, store *archive.Store, plugins DeletePlugins, b *rigging.Backup) (int, error) {
	if plugins == nil {
		return 0, nil
	}
	actions, err := plugins.DeleteItemActions(ctx)
	if err != nil {
		return 0, fmt.Errorf("list DeleteItemActions: %w", err)
	}
	if len(actions) == 0 {
		return 0, nil
	}
	c, err := store.ReadContents(ctx, b.Name, archive.Limits{})
	if errors.Is(err, rigging.ErrNotFound) {
		return 0, nil // no tarball: no items to release
	}
	if err != nil {
		return 0, err
	}
	mapper := resources.NewMapper()
	for _, name := range c.Names(crdsGR, "") {
		if crd, err := c.Get(crdsGR, "", name).Object(); err == nil {
			_ = mapper.AddCRD(crd) // an unusable CRD only leaves its resources unmatched
		}
	}
	matchers := make([]*resources.Matcher, len(actions))
	for i, a := range actions {
		sel, err := a.AppliesTo(ctx)
		if err == nil {
			matchers[i], err = resources.CompileSelector(sel, mapper)
		}
		if err != nil {
			return 0, fmt.Errorf("DeleteItemAction %d: AppliesTo: %w", i, err)
		}
	}
	calls := 0
	var errs []error
	for _, it := range c.All() {
		obj, err := it.Object()
		if err != nil {
			return calls, err
		}
		for i, a := range actions {
			if !matchers[i].MatchesObject(obj) {
				continue
			}
			calls++
			if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: obj, Backup: b}); err != nil {
				errs = append(errs, fmt.Errorf("DeleteItemAction %d on %s: %w", i, archive.ItemPath(it.GroupResource.String(), "", it.Namespace, it.Name), err))
			}
		}
	}
	if len(errs) > 0 {
		return calls, fmt.Errorf("%w; nothing was removed: %w", ErrActionsFailed, errors.Join(errs...))
	}
	return calls, nil
}
