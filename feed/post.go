package feed

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"fleetfeed/translators"
)

// Post is a stored post.
type Post struct {
	ID int64
	// Node is the handle of the server the post is about.
	Node string
	// NodeID is the node's row id.
	NodeID int64
	// Text is the sentence without hashtags; Tags are the hashtags, in
	// the order they follow the sentence.
	Text     string
	Tags     []string
	Severity translators.Severity
	Source   string
	// CreatedAt is when the event happened; LastAt when its last fold
	// arrived (equal to CreatedAt for a post that never folded).
	CreatedAt time.Time
	LastAt    time.Time
	// Count is how many events this post stands for: 1, or more once
	// repeats have folded into it.
	Count int
	// InReplyTo is the id of the post this one replies to, 0 if none.
	InReplyTo int64
	Thread    string
	EventID   string
	Details   json.RawMessage
	// CausedBy is the id of the post that asked for what this post
	// reports (an action or rule that ran Puppet on the server), 0 if
	// none; see Pipeline.Expect.
	CausedBy int64
}

// FullText is the sentence with its hashtags, as readers see it.
func (p *Post) FullText() string { return translators.Sentence(p.Text, p.Tags) }

// FoldNote says how often a folded post happened, for display after its
// sentence ("12 times since 14:05"); "" when it never folded.
func (p *Post) FoldNote() string {
	if p.Count <= 1 {
		return ""
	}
	span := p.LastAt.Sub(p.CreatedAt)
	switch {
	case span < time.Hour:
		return fmt.Sprintf("%d times in the last hour", p.Count)
	case span < 24*time.Hour:
		return fmt.Sprintf("%d times in %d hours", p.Count, int(span.Hours()+0.5))
	default:
		return fmt.Sprintf("%d times in %d days", p.Count, int(span.Hours()/24+0.5))
	}
}

// postJSON is the post as the JSON API and the websocket show it.
type postJSON struct {
	ID        string          `json:"id"`
	Node      string          `json:"node"`
	Text      string          `json:"text"`
	Sentence  string          `json:"sentence"`
	Tags      []string        `json:"tags"`
	Severity  string          `json:"severity"`
	Source    string          `json:"source"`
	CreatedAt time.Time       `json:"created_at"`
	LastAt    time.Time       `json:"last_at"`
	InReplyTo *string         `json:"in_reply_to"`
	CausedBy  string          `json:"caused_by,omitempty"`
	Count     int             `json:"count"`
	FoldNote  string          `json:"fold_note,omitempty"`
	Details   json.RawMessage `json:"details"`
}

// MarshalJSON writes the post in the API's shape: ids as strings, text with
// hashtags, in_reply_to null for a post that starts a thread, caused_by
// only on a post something asked for.
func (p *Post) MarshalJSON() ([]byte, error) {
	j := postJSON{
		ID:        FormatID(p.ID),
		Node:      p.Node,
		Text:      p.FullText(),
		Sentence:  p.Text,
		Tags:      p.Tags,
		Severity:  string(p.Severity),
		Source:    p.Source,
		CreatedAt: p.CreatedAt.UTC(),
		LastAt:    p.LastAt.UTC(),
		Count:     p.Count,
		FoldNote:  p.FoldNote(),
		Details:   p.Details,
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if len(j.Details) == 0 {
		j.Details = json.RawMessage("{}")
	}
	if p.InReplyTo != 0 {
		s := FormatID(p.InReplyTo)
		j.InReplyTo = &s
	}
	if p.CausedBy != 0 {
		j.CausedBy = FormatID(p.CausedBy)
	}
	return json.Marshal(j)
}

// PostColumns is the column list ScanPost expects, for queries that select
// from posts aliased p joined with nodes aliased n.
const PostColumns = `p.id, n.name, p.node_id, p.text, p.tags, p.severity, p.source,
	p.created_at, p.last_at, p.count, COALESCE(p.in_reply_to, 0), p.thread, p.event_id, p.details,
	COALESCE(p.caused_by, 0)`

// PostFrom is the FROM clause matching PostColumns.
const PostFrom = `posts p JOIN nodes n ON n.id = p.node_id`

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// ScanPost reads one row selected with PostColumns.
func ScanPost(s Scanner) (*Post, error) {
	var (
		p                 Post
		tags, details     string
		created, last     int64
		severity, eventID string
	)
	if err := s.Scan(&p.ID, &p.Node, &p.NodeID, &p.Text, &tags, &severity, &p.Source,
		&created, &last, &p.Count, &p.InReplyTo, &p.Thread, &eventID, &details, &p.CausedBy); err != nil {
		return nil, err
	}
	p.Severity = translators.Severity(severity)
	p.EventID = eventID
	p.CreatedAt = time.UnixMilli(created).UTC()
	p.LastAt = time.UnixMilli(last).UTC()
	p.Details = json.RawMessage(details)
	if err := json.Unmarshal([]byte(tags), &p.Tags); err != nil {
		return nil, fmt.Errorf("post %d tags: %w", p.ID, err)
	}
	return &p, nil
}

// QueryPosts runs a query selecting PostColumns and returns its posts.
func QueryPosts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]*Post, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var posts []*Post
	for rows.Next() {
		p, err := ScanPost(rows)
		if err != nil {
			return nil, err
		}
		posts = append(posts, p)
	}
	return posts, rows.Err()
}

// PostByID returns one post, or an ENOTFOUND error.
func (db *DB) PostByID(ctx context.Context, id int64) (*Post, error) {
	p, err := ScanPost(db.db.QueryRowContext(ctx, `SELECT `+PostColumns+` FROM `+PostFrom+` WHERE p.id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, Errorf(ENOTFOUND, "no post %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("post %d: %w", id, err)
	}
	return p, nil
}

// PostsByID returns the posts with the given ids, newest first; missing ids
// are skipped.
func (db *DB) PostsByID(ctx context.Context, ids []int64) ([]*Post, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return QueryPosts(ctx, db.db, `SELECT `+PostColumns+` FROM `+PostFrom+` WHERE p.id IN (`+marks+`) ORDER BY p.id DESC`, args...)
}

// Thread returns the post with id, the post its thread starts with, and
// every reply to that root, oldest first: the whole incident.
func (db *DB) Thread(ctx context.Context, id int64) ([]*Post, error) {
	p, err := db.PostByID(ctx, id)
	if err != nil {
		return nil, err
	}
	root := p.ID
	if p.InReplyTo != 0 {
		root = p.InReplyTo
	}
	return QueryPosts(ctx, db.db, `SELECT `+PostColumns+` FROM `+PostFrom+`
		WHERE p.id = ? OR p.in_reply_to = ? ORDER BY p.id`, root, root)
}

// CausedBy returns the posts that id caused, oldest first: the reports of
// the Puppet runs an action or rule asked for (see Pipeline.Expect).
func (db *DB) CausedBy(ctx context.Context, id int64) ([]*Post, error) {
	posts, err := QueryPosts(ctx, db.db, `SELECT `+PostColumns+` FROM `+PostFrom+`
		WHERE p.caused_by = ? ORDER BY p.id`, id)
	if err != nil {
		return nil, fmt.Errorf("posts caused by %d: %w", id, err)
	}
	return posts, nil
}
