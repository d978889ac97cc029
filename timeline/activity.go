package timeline

import (
	"context"
	"fmt"
	"time"

	"fleetfeed/feed"
)

// PostsPerHour counts a node's posts by the hour they happened in: hours
// buckets of one hour, the last one ending at end, oldest first.
func (r *Reader) PostsPerHour(ctx context.Context, nodeID int64, end time.Time, hours int) ([]int, error) {
	if hours <= 0 {
		return nil, nil
	}
	counts := make([]int, hours)
	start := end.Add(-time.Duration(hours) * time.Hour)
	// The pipeline never stores a post more than an hour after the time
	// it was stored at (it clamps clocks that run ahead), so its id is at
	// least MinIDAt(created_at - 1h): that bound lets the query walk the
	// (node_id, id) index instead of all of the node's posts.
	rows, err := r.DB.SQL().QueryContext(ctx, `SELECT (created_at - ?) / 3600000, COUNT(*) FROM posts
		WHERE node_id = ? AND id >= ? AND created_at >= ? AND created_at < ?
		GROUP BY 1`,
		start.UnixMilli(), nodeID, feed.MinIDAt(start.Add(-time.Hour)), start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("posts per hour: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var n int
		if err := rows.Scan(&bucket, &n); err != nil {
			return nil, fmt.Errorf("posts per hour: %w", err)
		}
		if bucket >= 0 && bucket < int64(hours) {
			counts[bucket] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posts per hour: %w", err)
	}
	return counts, nil
}

// LatestID is the id of the newest post stored, 0 when there is none. A
// post committed after LatestID returned has a greater id: a reader that
// shows a page read after LatestID and then follows the stream from it
// misses nothing.
func (r *Reader) LatestID(ctx context.Context) (int64, error) {
	var id int64
	if err := r.DB.SQL().QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM posts`).Scan(&id); err != nil {
		return 0, fmt.Errorf("latest post: %w", err)
	}
	return id, nil
}
