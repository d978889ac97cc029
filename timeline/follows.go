package timeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// Follows stores what users follow — servers, hashtags, lists — and the
// lists they make, and compiles each user's follows into the Interests
// their home timeline and live stream are made of.
//
// Users are the people package's; here a user is an id, and 0 is nobody
// (an anonymous reader, who sees public lists only).
type Follows struct {
	DB *feed.DB
	// InterestsTTL is how long a user's compiled Interests are reused
	// before they are read again (to see servers that moved datacenter
	// or appeared since); DefaultInterestsTTL when 0. Changes made
	// through this Follows are seen at once.
	InterestsTTL time.Duration

	mu    sync.Mutex
	gen   uint64 // bumped by every change of follows or lists
	cache map[int64]cachedInterests
}

// DefaultInterestsTTL bounds how stale cached Interests may be.
const DefaultInterestsTTL = time.Minute

type cachedInterests struct {
	in  *Interests
	gen uint64
	at  time.Time
}

func (f *Follows) reader() *Reader { return &Reader{DB: f.DB} }

// changed drops every cached Interests: a list change reaches all its
// followers, so the cache is cleared whole rather than per user.
func (f *Follows) changed() {
	f.mu.Lock()
	f.gen++
	f.cache = nil
	f.mu.Unlock()
}

// nodeID finds a server by handle or alias, or ENOTFOUND.
func nodeID(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (int64, error) {
	n := feed.NormalizeName(name)
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM nodes WHERE name = ? UNION ALL SELECT node_id FROM node_aliases WHERE alias = ? LIMIT 1`, n, n).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, feed.Errorf(feed.ENOTFOUND, "no server named %q", name)
	}
	return id, err
}

func (f *Follows) exec(ctx context.Context, what, q string, args ...any) error {
	if _, err := f.DB.SQL().ExecContext(ctx, q, args...); err != nil {
		if isForeignKey(err) {
			return feed.Errorf(feed.ENOTFOUND, "no such user")
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	f.changed()
	return nil
}

// FollowNode makes the user follow a server, by handle or alias. Following
// twice is not an error. ENOTFOUND for an unknown server.
func (f *Follows) FollowNode(ctx context.Context, userID int64, name string) error {
	id, err := nodeID(ctx, f.DB.SQL(), name)
	if err != nil {
		return err
	}
	return f.exec(ctx, "follow server", `INSERT OR IGNORE INTO follow_nodes (user_id, node_id, created_at) VALUES (?, ?, ?)`,
		userID, id, f.DB.Now().UnixMilli())
}

// UnfollowNode stops following a server; not following it is not an error.
func (f *Follows) UnfollowNode(ctx context.Context, userID int64, name string) error {
	id, err := nodeID(ctx, f.DB.SQL(), name)
	if err != nil {
		return err
	}
	return f.exec(ctx, "unfollow server", `DELETE FROM follow_nodes WHERE user_id = ? AND node_id = ?`, userID, id)
}

// FollowTag makes the user follow a hashtag (with or without '#').
func (f *Follows) FollowTag(ctx context.Context, userID int64, tag string) error {
	t := translators.Tag(tag)
	if t == "" {
		return feed.Errorf(feed.EINVALID, "%q is not a hashtag", tag)
	}
	return f.exec(ctx, "follow tag", `INSERT OR IGNORE INTO follow_tags (user_id, tag, created_at) VALUES (?, ?, ?)`,
		userID, t, f.DB.Now().UnixMilli())
}

// UnfollowTag stops following a hashtag.
func (f *Follows) UnfollowTag(ctx context.Context, userID int64, tag string) error {
	return f.exec(ctx, "unfollow tag", `DELETE FROM follow_tags WHERE user_id = ? AND tag = ?`, userID, translators.Tag(tag))
}

// FollowList makes the user follow a list: their own, or another user's
// public one. ENOTFOUND for a list they may not see.
func (f *Follows) FollowList(ctx context.Context, userID, listID int64) error {
	if _, err := f.list(ctx, f.DB.SQL(), userID, listID); err != nil {
		return err
	}
	return f.exec(ctx, "follow list", `INSERT OR IGNORE INTO follow_lists (user_id, list_id, created_at) VALUES (?, ?, ?)`,
		userID, listID, f.DB.Now().UnixMilli())
}

// UnfollowList stops following a list.
func (f *Follows) UnfollowList(ctx context.Context, userID, listID int64) error {
	return f.exec(ctx, "unfollow list", `DELETE FROM follow_lists WHERE user_id = ? AND list_id = ?`, userID, listID)
}

// Following is what a user follows, by name, for their settings page and
// follow buttons.
type Following struct {
	Nodes []string `json:"nodes"`
	Tags  []string `json:"tags"`
	Lists []*List  `json:"lists"`
}

// FollowsNode reports whether the follows hold the server with this
// handle.
func (g *Following) FollowsNode(name string) bool {
	return containsString(g.Nodes, feed.NormalizeName(name))
}

// FollowsTag reports whether the follows hold the hashtag.
func (g *Following) FollowsTag(tag string) bool { return containsString(g.Tags, translators.Tag(tag)) }

// FollowsList reports whether the follows hold the list.
func (g *Following) FollowsList(id int64) bool {
	for _, l := range g.Lists {
		if l.ID == id {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Following returns what the user follows. Lists that another user has
// since made private are left out (and stop feeding the home timeline).
func (f *Follows) Following(ctx context.Context, userID int64) (*Following, error) {
	g := &Following{Nodes: []string{}, Tags: []string{}, Lists: []*List{}}
	db := f.DB.SQL()
	if err := scanStrings(ctx, db, &g.Nodes, `SELECT n.name FROM follow_nodes f JOIN nodes n ON n.id = f.node_id WHERE f.user_id = ? ORDER BY n.name`, userID); err != nil {
		return nil, fmt.Errorf("following: %w", err)
	}
	if err := scanStrings(ctx, db, &g.Tags, `SELECT tag FROM follow_tags WHERE user_id = ? ORDER BY tag`, userID); err != nil {
		return nil, fmt.Errorf("following: %w", err)
	}
	lists, err := f.lists(ctx, `JOIN follow_lists fl ON fl.list_id = l.id WHERE fl.user_id = ? AND (l.public OR l.owner_id = ?)`, userID, userID)
	if err != nil {
		return nil, err
	}
	g.Lists = lists
	return g, nil
}

func scanStrings(ctx context.Context, db *sql.DB, dst *[]string, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		*dst = append(*dst, s)
	}
	return rows.Err()
}

// Interests returns the user's home timeline's interests: followed
// servers and hashtags, and the servers and queries of followed lists.
// They are cached: a call costs no SQL unless follows or lists changed
// or InterestsTTL passed, so the live home stream may call it per notice.
func (f *Follows) Interests(ctx context.Context, userID int64) (*Interests, error) {
	ttl := f.InterestsTTL
	if ttl <= 0 {
		ttl = DefaultInterestsTTL
	}
	now := time.Now()
	f.mu.Lock()
	c, ok := f.cache[userID]
	gen := f.gen
	f.mu.Unlock()
	if ok && c.gen == gen && now.Sub(c.at) < ttl {
		return c.in, nil
	}
	in, err := f.loadInterests(ctx, userID)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.gen == gen {
		if f.cache == nil {
			f.cache = map[int64]cachedInterests{}
		}
		f.cache[userID] = cachedInterests{in: in, gen: gen, at: now}
	}
	f.mu.Unlock()
	return in, nil
}

func (f *Follows) loadInterests(ctx context.Context, userID int64) (*Interests, error) {
	r := f.reader()
	nodes, err := r.ids(ctx, `SELECT node_id FROM follow_nodes WHERE user_id = ?
		UNION SELECT ln.node_id FROM follow_lists fl JOIN lists l ON l.id = fl.list_id JOIN list_nodes ln ON ln.list_id = l.id
		WHERE fl.user_id = ? AND (l.public OR l.owner_id = ?)`, userID, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("read follows: %w", err)
	}
	var tags, queries []string
	if err := scanStrings(ctx, f.DB.SQL(), &tags, `SELECT tag FROM follow_tags WHERE user_id = ?`, userID); err != nil {
		return nil, fmt.Errorf("read follows: %w", err)
	}
	if err := scanStrings(ctx, f.DB.SQL(), &queries, `SELECT DISTINCT q.query FROM follow_lists fl JOIN lists l ON l.id = fl.list_id
		JOIN list_queries q ON q.list_id = l.id WHERE fl.user_id = ? AND (l.public OR l.owner_id = ?)`, userID, userID); err != nil {
		return nil, fmt.Errorf("read follows: %w", err)
	}
	compiled, err := f.compileAll(ctx, queries)
	if err != nil {
		return nil, err
	}
	return NewInterests(nodes, tags, compiled...), nil
}

func (f *Follows) compileAll(ctx context.Context, queries []string) ([]*Compiled, error) {
	sort.Strings(queries)
	var out []*Compiled
	for _, s := range queries {
		q, err := ParseQuery(s)
		if err != nil {
			// Stored queries were parsed when added; one that no longer
			// parses is skipped rather than breaking the timeline.
			continue
		}
		c, err := f.reader().Compile(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Home returns a page of the user's home timeline: posts of the servers,
// hashtags and lists they follow, newest first, each once.
func (f *Follows) Home(ctx context.Context, userID int64, page Page) ([]*feed.Post, error) {
	in, err := f.Interests(ctx, userID)
	if err != nil {
		return nil, err
	}
	return f.reader().Matching(ctx, in, page)
}
