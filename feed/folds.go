package feed

import (
	"context"
	"fmt"
	"time"
)

// foldIndex remembers, for each fold hash, the newest post with that hash
// whose last repeat is recent, so that looking for the post a repeat folds
// into costs a map lookup instead of a query. It is complete for posts whose
// last_at is at or after from; older ones are looked up in the database.
//
// Only the pipeline writes posts, under its mutex, so the index cannot go
// stale; a batch stages its changes and they are applied after its commit.
type foldIndex struct {
	from    time.Time
	entries map[int64]foldEntry
	adds    int
}

type foldEntry struct {
	id, nodeID, replyTo int64
	lastAt              int64 // unix ms
}

// loadFolds fills the index with the posts that can still take repeats,
// reaching back two windows so that events that arrive up to a window late
// are answered from memory too.
func (p *Pipeline) loadFolds(ctx context.Context, now time.Time, window time.Duration) error {
	from := now.Add(-2 * window)
	rows, err := p.DB.db.QueryContext(ctx, `SELECT fold_hash, id, node_id, COALESCE(in_reply_to, 0), last_at FROM posts WHERE last_at >= ? ORDER BY id`, from.UnixMilli())
	if err != nil {
		return fmt.Errorf("load folds: %w", err)
	}
	defer rows.Close()
	idx := &foldIndex{from: from, entries: map[int64]foldEntry{}}
	for rows.Next() {
		var (
			h int64
			e foldEntry
		)
		if err := rows.Scan(&h, &e.id, &e.nodeID, &e.replyTo, &e.lastAt); err != nil {
			return fmt.Errorf("load folds: %w", err)
		}
		idx.entries[h] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load folds: %w", err)
	}
	p.folds = idx
	return nil
}

// apply merges a committed batch's changes and, now and then, forgets
// entries too old to take repeats.
func (idx *foldIndex) apply(staged map[int64]foldEntry, now time.Time, window time.Duration) {
	for h, e := range staged {
		idx.entries[h] = e
	}
	idx.adds += len(staged)
	if idx.adds < 50_000 {
		return
	}
	idx.adds = 0
	cut := now.Add(-3 * window)
	for h, e := range idx.entries {
		if e.lastAt < cut.UnixMilli() {
			delete(idx.entries, h)
		}
	}
	if cut.After(idx.from) {
		idx.from = cut
	}
}

// lookup returns the entry for h as the batch sees it, and whether the
// index can answer for a repeat at time at (otherwise ask the database).
func (b *batch) lookupFold(h int64, at time.Time) (foldEntry, bool, bool) {
	if e, ok := b.staged[h]; ok {
		return e, true, true
	}
	idx := b.p.folds
	if at.Add(-b.window).Before(idx.from) {
		return foldEntry{}, false, false
	}
	e, ok := idx.entries[h]
	return e, ok, true
}
