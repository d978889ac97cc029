// Package feed owns fleetfeed's post model, its SQLite database and the
// ingest pipeline that turns translated events into stored posts, and the
// hub that tells readers about new posts once they are committed.
package feed

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is fleetfeed's SQLite database: one file in WAL mode.
type DB struct {
	db   *sql.DB
	path string

	// Now returns the current time; tests replace it.
	Now func() time.Time

	idMu   sync.Mutex
	lastID int64
}

// NewDB returns a DB for the file at path; call Open before use.
func NewDB(path string) *DB {
	return &DB{path: path, Now: time.Now}
}

// Open opens (creating if needed) the database file and applies every
// migration not yet applied, each in its own transaction.
func (db *DB) Open() error {
	if db.path == "" {
		return errors.New("open database: no path")
	}
	// Every setting is in the connection string so that each pooled
	// connection gets it.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-32000")
	dsn := "file:" + db.path + "?" + q.Encode()
	d, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.db = d
	if err := d.Ping(); err != nil {
		d.Close()
		return fmt.Errorf("open database %s: %w", db.path, err)
	}
	if err := db.migrate(context.Background()); err != nil {
		d.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	if err := d.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM posts`).Scan(&db.lastID); err != nil {
		d.Close()
		return fmt.Errorf("read last post id: %w", err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.db == nil {
		return nil
	}
	return db.db.Close()
}

// SQL returns the underlying handle, for the packages that read and write
// their own tables in this database (nodes, timeline).
func (db *DB) SQL() *sql.DB { return db.db }

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, db.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// nextID returns a new post id, greater than every id before it: the
// current time in milliseconds shifted left 16 bits, plus a sequence when
// several posts share a millisecond.
func (db *DB) nextID() int64 {
	db.idMu.Lock()
	defer db.idMu.Unlock()
	id := db.Now().UnixMilli() << 16
	if id <= db.lastID {
		id = db.lastID + 1
	}
	db.lastID = id
	return id
}

// IDTime is the time encoded in a post id.
func IDTime(id int64) time.Time { return time.UnixMilli(id >> 16) }

// MinIDAt is the smallest id a post stored at t can have: a cursor for
// "posts since t".
func MinIDAt(t time.Time) int64 { return t.UnixMilli() << 16 }

// FormatID renders an id as it appears in JSON and URLs.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID parses an id from JSON or a URL.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(EINVALID, "%q is not a post id", s)
	}
	return id, nil
}

// IsUniqueViolation reports whether err is SQLite's unique or primary key
// constraint error, by its extended code.
func IsUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return false
}
