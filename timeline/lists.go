package timeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"

	"fleetfeed/feed"
)

// List is a named set of servers and tag queries. Its members need not be
// followed; other users may read and follow it when it is public.
type List struct {
	ID      int64  `json:"id"`
	OwnerID int64  `json:"-"`
	Owner   string `json:"owner"`
	Name    string `json:"name"`
	Public  bool   `json:"public"`
	// Nodes are the member servers' handles; Queries the tag queries.
	Nodes     []string  `json:"nodes"`
	Queries   []string  `json:"queries"`
	Followers int       `json:"followers"`
	CreatedAt time.Time `json:"created_at"`
}

func validListName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", feed.Errorf(feed.EINVALID, "a list name has 1 to 100 characters")
	}
	return name, nil
}

func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}

// CreateList makes a list owned by the user. ECONFLICT when the user has a
// list of that name already.
func (f *Follows) CreateList(ctx context.Context, ownerID int64, name string, public bool) (*List, error) {
	name, err := validListName(name)
	if err != nil {
		return nil, err
	}
	r, err := f.DB.SQL().ExecContext(ctx, `INSERT INTO lists (owner_id, name, public, created_at) VALUES (?, ?, ?, ?)`,
		ownerID, name, public, f.DB.Now().UnixMilli())
	switch {
	case feed.IsUniqueViolation(err):
		return nil, feed.Errorf(feed.ECONFLICT, "you have a list called %q already", name)
	case isForeignKey(err):
		return nil, feed.Errorf(feed.ENOTFOUND, "no such user")
	case err != nil:
		return nil, fmt.Errorf("create list: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return nil, err
	}
	return f.List(ctx, ownerID, id)
}

// UpdateList renames a list and sets whether it is public. Only its owner
// may; to others it is ENOTFOUND (a private list) or EFORBIDDEN.
func (f *Follows) UpdateList(ctx context.Context, userID, listID int64, name string, public bool) error {
	name, err := validListName(name)
	if err != nil {
		return err
	}
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE lists SET name = ?, public = ? WHERE id = ?`, name, public, listID)
		if feed.IsUniqueViolation(err) {
			return feed.Errorf(feed.ECONFLICT, "you have a list called %q already", name)
		}
		return err
	})
}

// DeleteList removes a list (owner only).
func (f *Follows) DeleteList(ctx context.Context, userID, listID int64) error {
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM lists WHERE id = ?`, listID)
		return err
	})
}

// AddListNode adds a server, by handle or alias, to a list (owner only).
func (f *Follows) AddListNode(ctx context.Context, userID, listID int64, node string) error {
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		id, err := nodeID(ctx, tx, node)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO list_nodes (list_id, node_id) VALUES (?, ?)`, listID, id)
		return err
	})
}

// RemoveListNode takes a server off a list (owner only).
func (f *Follows) RemoveListNode(ctx context.Context, userID, listID int64, node string) error {
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		id, err := nodeID(ctx, tx, node)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM list_nodes WHERE list_id = ? AND node_id = ?`, listID, id)
		return err
	})
}

// maxListQueries bounds a list's queries, and so its timeline's SQL.
const maxListQueries = 20

// AddListQuery adds a tag query (see Query) to a list (owner only). A query
// that does not parse is EINVALID, with where and why.
func (f *Follows) AddListQuery(ctx context.Context, userID, listID int64, query string) error {
	q, err := ParseQuery(query)
	if err != nil {
		return err
	}
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM list_queries WHERE list_id = ?`, listID).Scan(&n); err != nil {
			return err
		}
		if n >= maxListQueries {
			return feed.Errorf(feed.EINVALID, "a list holds at most %d queries", maxListQueries)
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO list_queries (list_id, query) VALUES (?, ?)`, listID, q.String())
		return err
	})
}

// RemoveListQuery takes a query off a list (owner only).
func (f *Follows) RemoveListQuery(ctx context.Context, userID, listID int64, query string) error {
	return f.editList(ctx, userID, listID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM list_queries WHERE list_id = ? AND query = ?`, listID, strings.TrimSpace(query))
		return err
	})
}

// editList runs fn in a transaction after checking the user owns the list.
func (f *Follows) editList(ctx context.Context, userID, listID int64, fn func(*sql.Tx) error) error {
	tx, err := f.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	l, err := f.list(ctx, tx, userID, listID)
	if err != nil {
		return err
	}
	if l.OwnerID != userID {
		return feed.Errorf(feed.EFORBIDDEN, "only %s may change the list %q", l.Owner, l.Name)
	}
	if err := fn(tx); err != nil {
		var fe *feed.Error
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("change list %d: %w", listID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("change list %d: %w", listID, err)
	}
	f.changed()
	return nil
}

type querier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

const listColumns = `l.id, l.owner_id, COALESCE((SELECT name FROM users WHERE id = l.owner_id), ''), l.name, l.public, l.created_at,
	(SELECT COUNT(*) FROM follow_lists WHERE list_id = l.id)`

func scanList(s feed.Scanner) (*List, error) {
	var l List
	var created int64
	if err := s.Scan(&l.ID, &l.OwnerID, &l.Owner, &l.Name, &l.Public, &created, &l.Followers); err != nil {
		return nil, err
	}
	l.CreatedAt = time.UnixMilli(created).UTC()
	return &l, nil
}

// list reads a list the viewer may see, without members.
func (f *Follows) list(ctx context.Context, q querier, viewerID, listID int64) (*List, error) {
	l, err := scanList(q.QueryRowContext(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.id = ? AND (l.public OR l.owner_id = ?)`, listID, viewerID))
	if errors.Is(err, sql.ErrNoRows) {
		// A private list of someone else is not found, not forbidden:
		// its existence is private too.
		return nil, feed.Errorf(feed.ENOTFOUND, "no list %d", listID)
	} else if err != nil {
		return nil, fmt.Errorf("read list %d: %w", listID, err)
	}
	return l, nil
}

func (f *Follows) members(ctx context.Context, l *List) error {
	l.Nodes, l.Queries = []string{}, []string{}
	if err := scanStrings(ctx, f.DB.SQL(), &l.Nodes, `SELECT n.name FROM list_nodes m JOIN nodes n ON n.id = m.node_id WHERE m.list_id = ? ORDER BY n.name`, l.ID); err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	if err := scanStrings(ctx, f.DB.SQL(), &l.Queries, `SELECT query FROM list_queries WHERE list_id = ? ORDER BY query`, l.ID); err != nil {
		return fmt.Errorf("list queries: %w", err)
	}
	return nil
}

// List returns a list with its members, if the viewer (0 for an anonymous
// reader) may see it: it is theirs or public. ENOTFOUND otherwise.
func (f *Follows) List(ctx context.Context, viewerID, listID int64) (*List, error) {
	l, err := f.list(ctx, f.DB.SQL(), viewerID, listID)
	if err != nil {
		return nil, err
	}
	return l, f.members(ctx, l)
}

func (f *Follows) lists(ctx context.Context, where string, args ...any) ([]*List, error) {
	rows, err := f.DB.SQL().QueryContext(ctx, `SELECT `+listColumns+` FROM lists l `+where+` ORDER BY l.name, l.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	var out []*List
	for rows.Next() {
		l, err := scanList(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read lists: %w", err)
		}
		out = append(out, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	for _, l := range out {
		if err := f.members(ctx, l); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []*List{}
	}
	return out, nil
}

// OwnLists returns the user's lists, by name.
func (f *Follows) OwnLists(ctx context.Context, userID int64) ([]*List, error) {
	return f.lists(ctx, `WHERE l.owner_id = ?`, userID)
}

// PublicLists returns every public list, by name.
func (f *Follows) PublicLists(ctx context.Context) ([]*List, error) {
	return f.lists(ctx, `WHERE l.public`)
}

// ListInterests returns what a list's timeline is made of, if the viewer
// may see the list.
func (f *Follows) ListInterests(ctx context.Context, viewerID, listID int64) (*Interests, error) {
	l, err := f.List(ctx, viewerID, listID)
	if err != nil {
		return nil, err
	}
	ids, err := f.reader().ids(ctx, `SELECT node_id FROM list_nodes WHERE list_id = ?`, listID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	compiled, err := f.compileAll(ctx, l.Queries)
	if err != nil {
		return nil, err
	}
	return NewInterests(ids, nil, compiled...), nil
}

// ListTimeline returns a page of a list's timeline, for a viewer who may
// see the list.
func (f *Follows) ListTimeline(ctx context.Context, viewerID, listID int64, page Page) ([]*feed.Post, error) {
	in, err := f.ListInterests(ctx, viewerID, listID)
	if err != nil {
		return nil, err
	}
	return f.reader().Matching(ctx, in, page)
}
