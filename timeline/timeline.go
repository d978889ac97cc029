// Package timeline reads posts: the public timeline and those of a server
// and a hashtag, newest first, paged by post id cursors.
package timeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// Default and largest page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 200
)

// Page selects a window of a timeline by post id.
type Page struct {
	// Limit is the number of posts; DefaultLimit when 0.
	Limit int
	// MaxID, when set, keeps posts older than it ("older" links).
	MaxID int64
	// SinceID, when set, keeps posts newer than it, still newest first:
	// the newest Limit of them.
	SinceID int64
	// MinID, when set, keeps the posts right after it, oldest first: what
	// a client that saw MinID missed, in order.
	MinID int64
}

// ParsePage reads limit, max_id, since_id and min_id from query values,
// with an EINVALID error naming the bad one.
func ParsePage(get func(string) string) (Page, error) {
	var p Page
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, feed.Errorf(feed.EINVALID, "limit %q is not a positive number", s)
		}
		p.Limit = n
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max_id", &p.MaxID}, {"since_id", &p.SinceID}, {"min_id", &p.MinID}} {
		if s := get(f.name); s != "" {
			id, err := feed.ParseID(s)
			if err != nil {
				return p, feed.Errorf(feed.EINVALID, "%s %q is not a post id", f.name, s)
			}
			*f.dst = id
		}
	}
	return p, nil
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// query appends the page's conditions and order to a query over posts p.
func (p Page) query(idCol string, where []string, args []any) (string, []any) {
	if p.MaxID > 0 {
		where = append(where, idCol+" < ?")
		args = append(args, p.MaxID)
	}
	if p.SinceID > 0 {
		where = append(where, idCol+" > ?")
		args = append(args, p.SinceID)
	}
	if p.MinID > 0 {
		where = append(where, idCol+" > ?")
		args = append(args, p.MinID)
	}
	q := ``
	if len(where) > 0 {
		q = ` WHERE ` + strings.Join(where, " AND ")
	}
	order := " DESC"
	if p.MinID > 0 && p.SinceID == 0 {
		order = " ASC"
	}
	q += ` ORDER BY ` + idCol + order + ` LIMIT ?`
	return q, append(args, p.limit())
}

// Reader reads timelines from the feed database.
type Reader struct {
	DB *feed.DB
}

// Public is every post.
func (r *Reader) Public(ctx context.Context, page Page) ([]*feed.Post, error) {
	q, args := page.query("p.id", nil, nil)
	return r.posts(ctx, `SELECT `+feed.PostColumns+` FROM `+feed.PostFrom+q, args...)
}

// Node is the posts of one node, by its row id.
func (r *Reader) Node(ctx context.Context, nodeID int64, page Page) ([]*feed.Post, error) {
	q, args := page.query("p.id", []string{"p.node_id = ?"}, []any{nodeID})
	return r.posts(ctx, `SELECT `+feed.PostColumns+` FROM `+feed.PostFrom+q, args...)
}

// Tag is the posts carrying a hashtag (with or without '#').
func (r *Reader) Tag(ctx context.Context, tag string, page Page) ([]*feed.Post, error) {
	t := translators.Tag(tag)
	if t == "" {
		return nil, feed.Errorf(feed.EINVALID, "%q is not a hashtag", tag)
	}
	q, args := page.query("t.post_id", []string{"t.tag = ?"}, []any{t})
	return r.posts(ctx, `SELECT `+feed.PostColumns+` FROM post_tags t JOIN posts p ON p.id = t.post_id JOIN nodes n ON n.id = p.node_id`+q, args...)
}

func (r *Reader) posts(ctx context.Context, q string, args ...any) ([]*feed.Post, error) {
	posts, err := feed.QueryPosts(ctx, r.DB.SQL(), q, args...)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	if posts == nil {
		posts = []*feed.Post{}
	}
	return posts, nil
}

// Stats counts what the store holds.
type Stats struct {
	Events int64 `json:"events"`
	Posts  int64 `json:"posts"`
	Nodes  int64 `json:"nodes"`
}

// Stats returns the number of events, posts and nodes stored.
func (r *Reader) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := r.DB.SQL().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM posts), (SELECT COUNT(*) FROM nodes)`).
		Scan(&s.Events, &s.Posts, &s.Nodes)
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}
