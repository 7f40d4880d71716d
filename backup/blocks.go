package backup

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/rigging-dev/rigging"
)

// Item blocks run on a pool of workers and are committed in block order.
//
// A worker processes a block (runs its items' BackupItemActions, encodes
// them) into a blockRun: the tar entries, resource-list entries,
// operations and log records it would produce, plus the keys it backed up
// and the keys it found not yet backed up. The committer (the goroutine
// that owns the tarball) takes the runs in block order and applies them:
// writes the entries, appends the lists, replays the log records. A run
// whose view is stale (an earlier block, committed after the run started,
// backed up an item the run found not backed up, typically an additional
// item two blocks share) is thrown away and its items run again by the
// committer, now in order; so every output (the tarball, the resource
// list, the operations, the results, the log's lines) is what a sequential
// run writes. Neither a run again nor an earlier block that reaches an item
// a later one ran calls the plugins again: they replay the answers the
// first calls gave (memo.go), so every item's actions run once.

// recorder keeps log records to replay them later, each through the handler
// it was meant for. It is used by one goroutine at a time.
type recorder struct {
	entries []recorded
}

type recorded struct {
	h slog.Handler
	r slog.Record
}

// logger returns l recorded into rec.
func (rec *recorder) logger(l *slog.Logger) *slog.Logger {
	return slog.New(&recordingHandler{rec: rec, next: l.Handler()})
}

// replay sends the records, in order, to their handlers and forgets them.
func (rec *recorder) replay() {
	for i, e := range rec.entries {
		_ = e.h.Handle(context.Background(), e.r) // as slog.Logger does, a handler's error is dropped
		rec.entries[i] = recorded{}
	}
	rec.entries = rec.entries[:0]
}

// recordingHandler records what next would handle.
type recordingHandler struct {
	rec  *recorder
	next slog.Handler
}

func (h *recordingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.rec.entries = append(h.rec.entries, recorded{h: h.next, r: r.Clone()})
	return nil
}

func (h *recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordingHandler{rec: h.rec, next: h.next.WithAttrs(attrs)}
}

func (h *recordingHandler) WithGroup(name string) slog.Handler {
	return &recordingHandler{rec: h.rec, next: h.next.WithGroup(name)}
}

// blockRun is one block's processing, kept to be committed.
type blockRun struct {
	bk *backupper
	// log and user are the backup's log and the caller's logger, recorded
	// into rec when rec is not nil.
	log, user *slog.Logger
	rec       *recorder
	// formed is how many records forming the block left (kept when the
	// items run again).
	formed int

	block []item
	// claimed holds the keys this run backed up; read the keys it found
	// not backed up by the committed blocks (both nil until needed).
	claimed map[itemKey]bool
	read    map[itemKey]struct{}
	// uses counts this pass's Execute calls per item and action (the memo's
	// answers it took or gave; nil without a memo).
	uses map[memoKey]int
	// forced says a committed pass shared an Execute answer with this one
	// (the memo's): this one runs again, as if stale.
	forced atomic.Bool
	writes []written
	ops    []*operation
	// err is a fatal error that ended the run.
	err  error
	done chan struct{} // closed when the run is over
}

// written is a tar entry to write, with what the commit counts of it.
type written struct {
	k        itemKey
	version  string
	ns, name string
	data     []byte
	listKey  string
	finalize bool
	// otherVersion marks an item in a version the API server does not
	// prefer (FeatureAPIGroupVersions): written at its version's folder
	// only.
	otherVersion bool
}

// newRun returns a run whose logs are recorded when record is set (a run
// committed later than it logs), else go out directly.
func (bk *backupper) newRun(record bool) *blockRun {
	r := &blockRun{bk: bk, log: bk.log, user: bk.user, done: make(chan struct{})}
	if record {
		r.rec = &recorder{}
		r.log, r.user = r.rec.logger(bk.log), r.rec.logger(bk.user)
	}
	return r
}

// isBackedUp reports whether the item k is in the backup, as this run sees
// it: backed up by the run itself or by a committed block.
func (r *blockRun) isBackedUp(k itemKey) bool {
	if v, ok := r.claimed[k]; ok {
		return v
	}
	if r.bk.committed(k) {
		return true
	}
	if r.read == nil {
		r.read = map[itemKey]struct{}{}
	}
	r.read[k] = struct{}{}
	return false
}

// claim records that this run backs up k.
func (r *blockRun) claim(k itemKey) {
	if r.claimed == nil {
		r.claimed = map[itemKey]bool{}
	}
	r.claimed[k] = true
}

// committed reports whether a committed block backed up k.
func (bk *backupper) committed(k itemKey) bool {
	bk.backedUpMu.RLock()
	defer bk.backedUpMu.RUnlock()
	return bk.backedUp[k]
}

// stale reports whether a block committed since r ran backed up an item r
// found not backed up.
func (bk *backupper) stale(r *blockRun) bool {
	if r.forced.Load() {
		return true
	}
	bk.backedUpMu.RLock()
	defer bk.backedUpMu.RUnlock()
	for k := range r.read {
		if bk.backedUp[k] {
			return true
		}
	}
	return false
}

// rerun forgets what r's items did and runs them again.
func (r *blockRun) rerun(ctx context.Context) {
	clear(r.claimed)
	clear(r.read)
	clear(r.uses) // the pass again takes the memo's answers from the first
	r.forced.Store(false)
	clear(r.writes)
	r.writes, r.ops, r.err = r.writes[:0], nil, nil
	if r.rec != nil {
		clear(r.rec.entries[r.formed:])
		r.rec.entries = r.rec.entries[:r.formed]
	}
	r.err = r.backupItems(ctx)
}

// commit applies r to the backup: re-runs it first if it is stale, then
// replays its log, writes its entries and records its items and operations.
// It returns r's fatal error, or the tarball's.
func (bk *backupper) commit(ctx context.Context, r *blockRun) error {
	if r.err == nil && bk.stale(r) {
		bk.user.Debug("an earlier item block backed up an item this block read; running its items again",
			"backup", bk.backup.Name, "items", len(r.block))
		r.rerun(ctx)
	}
	if r.rec != nil {
		r.rec.replay()
	}
	if r.err != nil {
		return r.err
	}
	if bk.memo != nil {
		bk.memo.forget(r)
	}
	bk.backedUpMu.Lock()
	for k, v := range r.claimed {
		if v {
			bk.backedUp[k] = true
		}
	}
	bk.backedUpMu.Unlock()
	bk.ops = append(bk.ops, r.ops...)
	for i, w := range r.writes {
		r.writes[i] = written{} // the tarball writer keeps the data; r need not
		write := bk.tw.WriteItem
		if w.otherVersion {
			write = bk.tw.WriteVersion
		}
		if err := write(w.k.gr, w.version, w.ns, w.name, w.data); err != nil {
			return &fatalError{err}
		}
		if w.finalize {
			continue
		}
		entry := w.k.name
		if w.k.namespace != "" {
			entry = w.k.namespace + "/" + w.k.name
		}
		bk.resourceList[w.listKey] = append(bk.resourceList[w.listKey], entry)
		bk.grsBackedUp[w.k.gr] = true
		bk.itemsWritten++
		if bk.opts.Progress != nil {
			bk.opts.Progress(Progress{ItemsBackedUp: bk.itemsWritten, TotalItems: max(bk.total, bk.itemsWritten), Resource: w.k.gr.String()})
		}
	}
	return nil
}

// workers is how many blocks run at once.
func (bk *backupper) workers() int {
	if n := bk.opts.Workers; n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// blocksInFlight is how many blocks per worker may be formed, running or
// waiting to be committed. Blocks are committed in order, so one long block
// holds back those after it: the margin keeps the other workers busy
// meanwhile (a block in flight holds its items' encoded JSON, a few KiB).
const blocksInFlight = 16

// backupBlocks forms the item blocks of collected, in order, and backs up
// their items: one after the other with one worker, else on a pool of
// workers, with at most blocksInFlight blocks per worker in flight.
func (bk *backupper) backupBlocks(ctx context.Context, collected []item) error {
	workers := bk.workers()
	if workers == 1 {
		for _, it := range collected {
			if bk.inBlock[it.key()] {
				continue
			}
			r := bk.newRun(false)
			if r.err = r.formBlock(ctx, it); r.err == nil {
				r.err = r.backupItems(ctx)
			}
			if err := bk.commit(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}

	bk.memo = newMemo()
	defer func() { bk.memo = nil }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *blockRun)
	pending := make(chan *blockRun, blocksInFlight*workers) // in block order
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				r.err = r.backupItems(ctx)
				close(r.done)
			}
		}()
	}
	wg.Add(1)
	go func() { // forms the blocks, in order (inBlock is its own)
		defer wg.Done()
		defer close(pending)
		defer close(jobs)
		for _, it := range collected {
			if bk.inBlock[it.key()] {
				continue
			}
			r := bk.newRun(true)
			r.err = r.formBlock(ctx, it)
			r.formed = len(r.rec.entries)
			select {
			case pending <- r:
			case <-ctx.Done():
				return
			}
			if r.err != nil {
				close(r.done)
				return
			}
			select {
			case jobs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()

	err := func() error {
		for r := range pending {
			select {
			case <-r.done:
			case <-ctx.Done():
				return bk.note(ctx)
			}
			if err := bk.commit(ctx, r); err != nil {
				return err
			}
		}
		return bk.note(ctx)
	}()
	cancel()
	for range pending { // let the former end
	}
	wg.Wait()
	return err
}

// formBlock forms the ItemBlock of first: the items ItemBlockActions relate
// to it, recursively.
func (r *blockRun) formBlock(ctx context.Context, first item) error {
	bk := r.bk
	if err := bk.load(&first); err != nil {
		return &fatalError{err}
	}
	r.block = []item{first}
	bk.inBlock[first.key()] = true
	for i := 0; i < len(r.block); i++ {
		it := r.block[i]
		for _, a := range bk.blockActions {
			if !a.matcher.Matches(it.res, it.key().namespace, it.labels) {
				continue
			}
			ids, err := retryUnavailable(r, newItemLog(r.log, slog.String("namespace", it.key().namespace)), a.name, "GetRelatedItems", func() ([]rigging.ResourceIdentifier, error) {
				return a.action.GetRelatedItems(ctx, it.obj, bk.backup)
			})
			if isFatal(err) {
				return err
			}
			if err != nil {
				r.errorf(r.log, it.key().namespace, "error getting related items",
					"resource", it.res.String(), "name", it.obj.GetName(), "error", fmt.Errorf("plugin %s: GetRelatedItems: %w", a.name, err))
				continue
			}
			for _, id := range ids {
				k := itemKey{gr: id.GroupResource, namespace: id.Namespace, name: id.Name}
				if bk.inBlock[k] {
					continue
				}
				rel, ok, getErr := bk.find(ctx, id, false)
				if getErr != nil {
					r.warnf(r.log.With("namespace", id.Namespace), "could not get the item from the cluster", "plugin", a.name, "item", id.String(), "error", getErr)
				}
				if !ok && getErr == nil && bk.fetches() {
					// Velero's warning: the item is gone from the API server.
					r.warnf(r.log.With("namespace", id.Namespace), "related item was not found in "+bk.source()+", can't add it to the item block", "plugin", a.name, "item", id.String())
				}
				if !ok {
					r.log.Debug("related item not in the input", "item", k.String(), "plugin", a.name)
					continue
				}
				bk.inBlock[rel.key()] = true // k's strings may keep a decoded object alive: rel's are the index's
				r.block = append(r.block, rel)
			}
		}
	}
	return nil
}

// backupItems backs up each item of the block.
func (r *blockRun) backupItems(ctx context.Context) error {
	for _, it := range r.block {
		if err := r.bk.note(ctx); err != nil {
			return err
		}
		if _, err := r.backupItem(ctx, it, false, false); err != nil {
			if isFatal(err) {
				return err
			}
			r.errorf(r.log, it.key().namespace, "error backing up item",
				"resource", it.res.String(), "name", it.key().name, "error", err)
		}
	}
	return nil
}

// single runs f, which backs up items outside the blocks (CRDs, finalized
// items), and commits what it did.
func (bk *backupper) single(ctx context.Context, f func(r *blockRun) error) error {
	r := bk.newRun(false)
	r.err = f(r)
	return bk.commit(ctx, r)
}

// errorf logs an error into log (the run's backup log, counted in the
// results under namespace) and to the caller's logger.
func (r *blockRun) errorf(log *slog.Logger, namespace, msg string, args ...any) {
	log.Error(msg, append([]any{"namespace", namespace}, args...)...)
	r.user.Error(msg, append([]any{"backup", r.bk.backup.Name, "namespace", namespace}, args...)...)
}

// warnf logs a warning into log (which carries the item's attributes) and to
// the caller's logger.
func (r *blockRun) warnf(log *slog.Logger, msg string, args ...any) {
	log.Warn(msg, args...)
	r.user.Warn(msg, append([]any{"backup", r.bk.backup.Name}, args...)...)
}
