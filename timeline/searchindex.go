package timeline

import (
	"context"
	"fmt"
	"time"
)

// IndexPending adds the posts stored since the last call to the full-text
// index, in one statement, and returns how many. Search calls it first,
// so results are never stale; the server also runs it in the background
// (RunIndexer) so that a search rarely waits. Posts are not indexed by a
// trigger because that costs ingest five times more (see the 0002
// migration).
func (r *Reader) IndexPending(ctx context.Context) (int64, error) {
	db := r.DB.SQL()
	var last, newest int64
	if err := db.QueryRowContext(ctx, `SELECT last_post, (SELECT COALESCE(MAX(id), 0) FROM posts) FROM search_index WHERE id = 1`).
		Scan(&last, &newest); err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	if newest <= last {
		return 0, nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	defer tx.Rollback()
	// Read again under the write lock: another indexer may have run.
	if err := tx.QueryRowContext(ctx, `SELECT last_post, (SELECT COALESCE(MAX(id), 0) FROM posts) FROM search_index WHERE id = 1`).
		Scan(&last, &newest); err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	if newest <= last {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO posts_fts (docid, text, tags) SELECT id, text, tags FROM posts WHERE id > ? AND id <= ? ORDER BY id`, last, newest)
	if err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE search_index SET last_post = ? WHERE id = 1`, newest); err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	return res.RowsAffected()
}

// RunIndexer calls IndexPending every interval until ctx ends, passing
// errors to onErr (which may be nil).
func (r *Reader) RunIndexer(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.IndexPending(ctx); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
