package timeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"fleetfeed/feed"
)

// Interests are what a timeline is made of: posts of some servers, posts
// with some hashtags, and posts matching some queries. A user's home
// timeline is their Interests (see Follows.Interests), a list's timeline
// the list's, a search one query's. Interests are immutable: a change
// of follows makes new ones.
type Interests struct {
	nodes   idSet
	tags    map[string]struct{}
	queries []*Compiled
}

// NewInterests returns the interests in posts of the servers with these
// ids, posts carrying any of these hashtags, and posts matching any of
// the queries.
func NewInterests(nodeIDs []int64, tags []string, queries ...*Compiled) *Interests {
	in := &Interests{nodes: idSet{}, tags: map[string]struct{}{}, queries: queries}
	for _, id := range nodeIDs {
		in.nodes[id] = struct{}{}
	}
	for _, t := range tags {
		in.tags[t] = struct{}{}
	}
	return in
}

// Empty reports whether nothing can match.
func (in *Interests) Empty() bool {
	return len(in.nodes) == 0 && len(in.tags) == 0 && len(in.queries) == 0
}

// Matches reports whether a post belongs to the timeline, in memory and
// without SQL: the live home, list and search streams filter the hub's
// notices with it.
func (in *Interests) Matches(p *feed.Post) bool {
	if in.nodes.has(p.NodeID) {
		return true
	}
	for _, t := range p.Tags {
		if _, ok := in.tags[t]; ok {
			return true
		}
	}
	for _, q := range in.queries {
		if q.Matches(p) {
			return true
		}
	}
	return false
}

// maxNodeWalks is how many servers' posts a timeline reads one index
// range each; above it, a first query finds the servers worth reading.
const maxNodeWalks = 16

// bounds are a page's id range (exclusive, 0 for none) and order.
type bounds struct {
	lo, hi int64
	asc    bool
	limit  int
}

func (p Page) bounds() bounds {
	b := bounds{hi: p.MaxID, lo: max(p.SinceID, p.MinID), limit: p.limit()}
	b.asc = p.MinID > 0 && p.SinceID == 0
	return b
}

// where returns the range over col as SQL conditions, each starting with
// " AND ".
func (b bounds) where(col string) (string, []any) {
	var q string
	var args []any
	if b.lo > 0 {
		q += " AND " + col + " > ?"
		args = append(args, b.lo)
	}
	if b.hi > 0 {
		q += " AND " + col + " < ?"
		args = append(args, b.hi)
	}
	return q, args
}

func (b bounds) order() string {
	if b.asc {
		return " ASC"
	}
	return " DESC"
}

// Matching returns a page of the timeline of the interests.
//
// Each source is read through an index in id order and stops after a
// page: a server's posts through posts (node_id, id), a hashtag's through
// post_tags (tag, post_id), a query's through the source that bounds it
// (see drivers), words through the full-text index. The union of those
// pages holds the timeline's page; it is merged here, without repeats. Many
// servers (a user following a thousand) are first narrowed to the ones
// whose newest post could be on the page: the page-th newest of their
// newest posts bounds the page, and only servers whose newest post is
// above that bound are read.
func (r *Reader) Matching(ctx context.Context, in *Interests, page Page) ([]*feed.Post, error) {
	b := page.bounds()
	seen := map[int64]struct{}{}
	var ids []int64
	add := func(more []int64) {
		for _, id := range more {
			if _, ok := seen[id]; !ok {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	more, err := r.nodeWalk(ctx, in.nodes, b)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	add(more)
	if more, err = r.tagWalk(ctx, in.tags, b); err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	add(more)
	for _, q := range in.queries {
		if more, err = r.queryWalk(ctx, q, b); err != nil {
			return nil, fmt.Errorf("read timeline: query %q: %w", q.Query, err)
		}
		add(more)
	}
	if len(ids) == 0 {
		return []*feed.Post{}, nil
	}
	if b.asc {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	} else {
		sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	}
	if len(ids) > b.limit {
		ids = ids[:b.limit]
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return r.posts(ctx, `SELECT `+feed.PostColumns+` FROM `+feed.PostFrom+` WHERE p.id IN (`+marks(len(ids))+`) ORDER BY p.id`+b.order(), args...)
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// chunk bounds how many SELECTs one UNION ALL joins (SQLite allows 500).
const chunk = 100

// unionIDs runs one LIMITed SELECT per item, joined by UNION ALL in chunks,
// and returns every id they give.
func (r *Reader) unionIDs(ctx context.Context, n int, sel func(i int) (string, []any)) ([]int64, error) {
	var out []int64
	for start := 0; start < n; start += chunk {
		end := min(n, start+chunk)
		var q strings.Builder
		var args []any
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(" UNION ALL ")
			}
			s, a := sel(i)
			q.WriteString("SELECT * FROM (" + s + ")")
			args = append(args, a...)
		}
		ids, err := r.ids(ctx, q.String(), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

func (r *Reader) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := r.DB.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func sortedIDs(set idSet) []int64 {
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// nodeWalk reads a page of posts from each server worth reading.
func (r *Reader) nodeWalk(ctx context.Context, nodes idSet, b bounds) ([]int64, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	cand := sortedIDs(nodes)
	cond, condArgs := b.where("id")
	if len(cand) > maxNodeWalks {
		if ids, ok, err := r.windowWalk(ctx, nodes, b); err != nil || ok {
			return ids, err
		}
		// Each server's newest post in range; the page-th newest of
		// those bounds the page (ids are unique, so exactly the servers
		// at or above it can have posts on it).
		agg := "MAX"
		if b.asc {
			agg = "MIN"
		}
		list := make([]string, len(cand))
		for i, id := range cand {
			list[i] = fmt.Sprint(id)
		}
		// MATERIALIZED: else SQLite runs the subquery twice a server.
		q := `WITH t AS MATERIALIZED (SELECT (SELECT ` + agg + `(id) FROM posts WHERE node_id = j.value` + cond + `) AS m FROM json_each(?) j)
			SELECT m FROM t WHERE m IS NOT NULL ORDER BY m` + b.order() + ` LIMIT ?`
		tops, err := r.ids(ctx, q, append(append(condArgs, "["+strings.Join(list, ",")+"]"), b.limit)...)
		if err != nil {
			return nil, err
		}
		if len(tops) == 0 {
			return nil, nil
		}
		// Read back which servers those posts are from: the id list is
		// small (one page).
		args := make([]any, len(tops))
		for i, id := range tops {
			args[i] = id
		}
		if cand, err = r.ids(ctx, `SELECT node_id FROM posts WHERE id IN (`+marks(len(tops))+`)`, args...); err != nil {
			return nil, err
		}
		edge := tops[len(tops)-1]
		if b.asc {
			cond += " AND id <= ?"
		} else {
			cond += " AND id >= ?"
		}
		condArgs = append(condArgs, edge)
	}
	return r.unionIDs(ctx, len(cand), func(i int) (string, []any) {
		return `SELECT id FROM posts WHERE node_id = ?` + cond + ` ORDER BY id` + b.order() + ` LIMIT ?`,
			append(append([]any{cand[i]}, condArgs...), b.limit)
	})
}

// maxWindow bounds how many of the newest posts windowWalk reads.
const maxWindow = 4000

// windowWalk serves a page of many servers' posts from the newest posts of
// the whole store, when the servers are a large enough part of the fleet
// that a short window likely holds a page of theirs: read the window's
// ids and servers, keep the followed ones. ok is false when the window
// held less than a page (the servers are quieter than their number
// says); the caller then reads them server by server.
func (r *Reader) windowWalk(ctx context.Context, nodes idSet, b bounds) ([]int64, bool, error) {
	var fleet int64
	if err := r.DB.SQL().QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM nodes`).Scan(&fleet); err != nil || fleet == 0 {
		return nil, false, err
	}
	// Three pages' worth of the followed servers' share of posts.
	window := int(3 * int64(b.limit) * fleet / int64(len(nodes)))
	if window > maxWindow {
		return nil, false, nil
	}
	cond, args := b.where("id")
	rows, err := r.DB.SQL().QueryContext(ctx, `SELECT id, node_id FROM posts WHERE 1`+cond+` ORDER BY id`+b.order()+` LIMIT ?`,
		append(args, window)...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []int64
	n := 0
	for rows.Next() {
		var id, node int64
		if err := rows.Scan(&id, &node); err != nil {
			return nil, false, err
		}
		n++
		if nodes.has(node) {
			if out = append(out, id); len(out) == b.limit {
				return out, true, nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// A window shorter than asked for is the whole range: what it
	// held is all there is.
	return out, n < window, nil
}

// tagWalk reads a page of posts of each hashtag.
func (r *Reader) tagWalk(ctx context.Context, tags map[string]struct{}, b bounds) ([]int64, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	list := make([]string, 0, len(tags))
	for t := range tags {
		list = append(list, t)
	}
	sort.Strings(list)
	cond, condArgs := b.where("post_id")
	return r.unionIDs(ctx, len(list), func(i int) (string, []any) {
		return `SELECT post_id FROM post_tags WHERE tag = ?` + cond + ` ORDER BY post_id` + b.order() + ` LIMIT ?`,
			append(append([]any{list[i]}, condArgs...), b.limit)
	})
}

// queryWalk reads a page of the posts matching a query from each of its
// drivers, or by scanning posts newest first when nothing bounds it.
func (r *Reader) queryWalk(ctx context.Context, c *Compiled, b bounds) ([]int64, error) {
	var pred sqlPred
	pred.write(c.root)
	ds, ok := drivers(c.root)
	scan := func(extra string) ([]int64, error) {
		cond, args := b.where("p.id")
		q := `SELECT p.id FROM posts p WHERE 1` + cond + extra + ` AND ` + pred.b.String() + ` ORDER BY p.id` + b.order() + ` LIMIT ?`
		return r.ids(ctx, q, append(append(args, pred.args...), b.limit)...)
	}
	if !ok {
		return scan("")
	}
	var out []int64
	for _, d := range ds {
		var more []int64
		var err error
		switch {
		case d.kind == driveTag:
			cond, args := b.where("t.post_id")
			q := `SELECT t.post_id FROM post_tags t CROSS JOIN posts p ON p.id = t.post_id WHERE t.tag = ?` + cond +
				` AND ` + pred.b.String() + ` ORDER BY t.post_id` + b.order() + ` LIMIT ?`
			more, err = r.ids(ctx, q, append(append(append([]any{d.tag}, args...), pred.args...), b.limit)...)
		case d.kind == driveFTS:
			cond, args := b.where("posts_fts.docid")
			q := `SELECT posts_fts.docid FROM posts_fts CROSS JOIN posts p ON p.id = posts_fts.docid WHERE posts_fts MATCH ?` + cond +
				` AND ` + pred.b.String() + ` ORDER BY posts_fts.docid` + b.order() + ` LIMIT ?`
			more, err = r.ids(ctx, q, append(append(append([]any{d.match}, args...), pred.args...), b.limit)...)
		case len(d.nodes) > maxNodeWalks:
			// Many servers (a datacenter): scan newest first; the unary
			// + keeps SQLite from reading each server's posts whole.
			more, err = scan(" AND +p.node_id IN (" + idList(d.nodes) + ")")
		default:
			cond, args := b.where("p.id")
			nodes := sortedIDs(d.nodes)
			more, err = r.unionIDs(ctx, len(nodes), func(i int) (string, []any) {
				return `SELECT p.id FROM posts p INDEXED BY posts_node WHERE p.node_id = ?` + cond + ` AND ` + pred.b.String() +
						` ORDER BY p.id` + b.order() + ` LIMIT ?`,
					append(append(append([]any{nodes[i]}, args...), pred.args...), b.limit)
			})
		}
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// Search returns a page of the posts matching a search (see Query for the
// language), newest first. A query that does not parse is EINVALID.
func (r *Reader) Search(ctx context.Context, query string, page Page) ([]*feed.Post, error) {
	in, err := r.SearchInterests(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, err := r.IndexPending(ctx); err != nil {
		return nil, err
	}
	return r.Matching(ctx, in, page)
}

// SearchInterests parses and compiles a search, for Matching and for a
// live search stream's Matches.
func (r *Reader) SearchInterests(ctx context.Context, query string) (*Interests, error) {
	q, err := ParseSearch(query)
	if err != nil {
		return nil, err
	}
	c, err := r.Compile(ctx, q)
	if err != nil {
		return nil, err
	}
	return NewInterests(nil, nil, c), nil
}

// Datacenter returns a page of the posts of the servers in a datacenter.
func (r *Reader) Datacenter(ctx context.Context, name string, page Page) ([]*feed.Post, error) {
	in, err := r.DatacenterInterests(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.Matching(ctx, in, page)
}

// DatacenterInterests are the servers of a datacenter, by its name as
// stored; ENOTFOUND when no server stands there.
func (r *Reader) DatacenterInterests(ctx context.Context, name string) (*Interests, error) {
	ids, err := r.ids(ctx, `SELECT id FROM nodes WHERE datacenter = ?`, strings.TrimSpace(name))
	if err != nil {
		return nil, fmt.Errorf("datacenter %q: %w", name, err)
	}
	if len(ids) == 0 {
		return nil, feed.Errorf(feed.ENOTFOUND, "no server stands in datacenter %q", name)
	}
	return NewInterests(ids, nil), nil
}
