package timeline

import (
	"context"
	"database/sql"
	"fmt"

	"fleetfeed/feed"
)

// LastPostBySource returns each node's newest post from source (one post
// per node that has one), ordered by node name: the last Puppet run that
// was worth a post, say, with its details.
func (r *Reader) LastPostBySource(ctx context.Context, source string) ([]*feed.Post, error) {
	tx, err := r.DB.SQL().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("last posts: %w", err)
	}
	defer tx.Rollback()
	posts, err := feed.QueryPosts(ctx, tx, `SELECT `+feed.PostColumns+` FROM `+feed.PostFrom+`
		WHERE p.id IN (SELECT MAX(id) FROM posts WHERE source = ? GROUP BY node_id) ORDER BY n.name`, source)
	if err != nil {
		return nil, fmt.Errorf("last posts: %w", err)
	}
	return posts, nil
}
