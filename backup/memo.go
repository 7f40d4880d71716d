package backup

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// A parallel backup runs blocks ahead of their commit; a run that turns
// out stale is run again, and an earlier block may reach an item a later
// block has already run (as an additional item of its own). The memo keeps
// the answer of every BackupItemAction Execute such runs made, so that the
// run again, or the earlier block, replays the answer instead of calling
// the plugin a second time: an item's actions run once, its asynchronous
// operation is started once and tracked (the replay records it), and the
// output is still what a sequential run writes, because a replay goes
// through the same steps (and logs the same lines) with the same answers.
//
// An answer is keyed by the item, the action, and the how-manyth time one
// pass over a block executes that action on that item (a sequential run
// executes an action on an item again only after the item failed or was
// skipped, and a later reach runs it again: so does a replay, from the
// next answer). The answers a committed pass used are forgotten: a later
// pass that reaches the item again (it failed there) calls the plugin
// again, as a sequential run does, and a later pass that had taken one of
// them runs again to do so. A sequential backup (one worker) keeps
// no memo: its calls are plain calls.

// memoKey names one Execute answer.
type memoKey struct {
	k      itemKey
	action int // index in backupper.actions
}

// memoEntry is one Execute call, in progress until done is closed.
type memoEntry struct {
	done chan struct{}
	// ok says the call ended with an answer to replay (res, err); a call
	// the context or the plugin's absence ended fatally leaves it false,
	// and the waiters make the call themselves (and meet the same end).
	ok  bool
	err error
	res executed
	// input: the action returned the shared input item (it.obj), which is
	// not copied; else res.updated is a snapshot of what it returned.
	input bool
	// retry is the warning retryUnavailable logged, to log it again.
	retry *loggedWarning
	// users are the passes that took this answer (guarded by memo.mu).
	users []*blockRun
}

type loggedWarning struct {
	msg  string
	args []any
}

// memo holds the Execute answers of a parallel backup.
type memo struct {
	mu      sync.Mutex
	entries map[memoKey][]*memoEntry
}

func newMemo() *memo { return &memo{entries: map[memoKey][]*memoEntry{}} }

// entry returns the n-th answer of key for pass r and whether r is to make
// the call (a new entry, in progress).
func (m *memo) entry(r *blockRun, key memoKey, n int) (*memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.entries[key]
	if n < len(list) {
		list[n].users = append(list[n].users, r)
		return list[n], false
	}
	e := &memoEntry{done: make(chan struct{}), users: []*blockRun{r}}
	m.entries[key] = append(list, e)
	return e, true
}

// forget drops the answers committed pass r used. Another pass that took
// one of them (a later block, not committed yet) is marked to run again: a
// sequential run would have made that call again (the item was not backed
// up), not reused this one's answer.
func (m *memo) forget(r *blockRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, n := range r.uses {
		list := m.entries[key]
		n = min(n, len(list))
		for _, e := range list[:n] {
			for _, u := range e.users {
				if u != r {
					u.forced.Store(true)
				}
			}
		}
		if n == len(list) {
			delete(m.entries, key)
			continue
		}
		clear(list[:n])
		m.entries[key] = list[n:]
	}
}

// retryWarner notes the warning retryUnavailable logs, passing it on.
type retryWarner struct {
	next  warner
	noted *loggedWarning
}

func (w *retryWarner) warnf(log *slog.Logger, msg string, args ...any) {
	w.next.warnf(log, msg, args...)
	w.noted = &loggedWarning{msg: msg, args: args}
}

// execute runs action number ai of the backup on obj, the item it's copy
// (or it.obj itself) as the previous actions left it, calling the plugin
// once more when it was unavailable. In a parallel backup outside finalize
// mode the answer comes from the memo when a run made the same call
// already, and goes into it otherwise.
func (r *blockRun) execute(ctx context.Context, it item, il *itemLog, ai int, obj *unstructured.Unstructured, finalize bool) (executed, error) {
	bk := r.bk
	a := bk.actions[ai]
	call := func(w warner) (executed, error) {
		return retryUnavailable(w, il, a.name, "Execute", func() (executed, error) {
			var res executed
			var err error
			res.updated, res.additional, res.opID, res.postItems, err = a.action.Execute(ctx, obj, bk.backup)
			return res, err
		})
	}
	if bk.memo == nil || finalize {
		return call(r)
	}
	key := memoKey{k: it.key(), action: ai}
	if r.uses == nil {
		r.uses = map[memoKey]int{}
	}
	n := r.uses[key]
	r.uses[key] = n + 1
	e, mine := bk.memo.entry(r, key, n)
	if !mine {
		select {
		case <-e.done:
		case <-ctx.Done():
			return executed{}, &fatalError{fmt.Errorf("plugin %s: execute on %s: %w", a.name, key.k, ctx.Err())}
		}
		if !e.ok {
			return call(r)
		}
		if e.retry != nil {
			r.warnf(il.logger(), e.retry.msg, e.retry.args...)
		}
		res := e.res
		switch {
		case e.input:
			res.updated = it.obj
		case res.updated != nil:
			res.updated = res.updated.DeepCopy() // the replay's chain may modify it
		}
		return res, e.err
	}
	defer close(e.done)
	w := &retryWarner{next: r}
	res, err := call(w)
	if (err != nil && isFatal(err)) || ctx.Err() != nil {
		return res, err
	}
	e.ok, e.err, e.retry = true, err, w.noted
	e.res = executed{additional: res.additional, opID: res.opID, postItems: res.postItems}
	if err == nil {
		u := res.updated
		if u == nil {
			u = obj // changed in place, maybe: the chain goes on changing it
		}
		if u == it.obj {
			e.input = true
		} else {
			e.res.updated = u.DeepCopy()
		}
	}
	return res, err
}
