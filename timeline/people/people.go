// Package people holds fleetfeed's accounts: users and their roles,
// argon2id passwords, sessions, CSRF tokens, the login rate limiter,
// private feed tokens and the server's signing keys. Its tables live in
// the feed database; the web layer calls it to sign people in.
//
// Secrets are never stored as given: passwords as argon2id hashes,
// session and feed tokens as their SHA-256. Nothing here logs a password
// or a token.
package people

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"fleetfeed/feed"
)

// Role is what a user may do.
type Role string

// The roles, from least to most power.
const (
	// RoleViewer reads timelines, follows, makes lists, gets e-mail.
	RoleViewer Role = "viewer"
	// RoleOperator also runs actions and RPCs, and writes rules.
	RoleOperator Role = "operator"
	// RoleAdmin also manages users, tokens, node profiles and mail settings.
	RoleAdmin Role = "admin"
)

// Roles lists every role, least power first.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r has all the power of min.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole reads a role name, with an EINVALID error for an unknown one.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", feed.Errorf(feed.EINVALID, "%q is not a role (viewer, operator or admin)", s)
	}
	return r, nil
}

// User is an account.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	// HasFeedToken says whether a private feed token is set.
	HasFeedToken bool `json:"has_feed_token"`
}

// Store reads and writes accounts in the feed database.
type Store struct {
	DB *feed.DB
	// Params are the argon2id parameters new hashes are made with;
	// DefaultParams when zero. Stored hashes carry their own.
	Params Params
	// SessionTTL is how long a session lasts; DefaultSessionTTL when 0.
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a session lasts unless the Store says.
const DefaultSessionTTL = 30 * 24 * time.Hour

func (s *Store) params() Params {
	if s.Params == (Params{}) {
		return DefaultParams
	}
	return s.Params
}

func (s *Store) now() time.Time { return s.DB.Now() }

// ValidateName checks a user name: 1 to 64 letters, digits, '.', '-' or
// '_', starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return feed.Errorf(feed.EINVALID, "a user name has 1 to 64 characters")
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune(".-_", r))
		if !ok {
			return feed.Errorf(feed.EINVALID, "user name %q: use letters, digits, '.', '-' and '_', starting with a letter or digit", name)
		}
	}
	return nil
}

const userColumns = `id, name, role, email, created_at, feed_token IS NOT NULL`

func scanUser(s feed.Scanner) (*User, error) {
	var (
		u       User
		role    string
		created int64
	)
	if err := s.Scan(&u.ID, &u.Name, &role, &u.Email, &created, &u.HasFeedToken); err != nil {
		return nil, err
	}
	u.Role = Role(role)
	u.CreatedAt = time.UnixMilli(created).UTC()
	return &u, nil
}

// NewUser is what Create needs.
type NewUser struct {
	Name     string
	Password string
	Role     Role
	Email    string
}

// Create adds a user. It returns EINVALID for a bad name, role, e-mail
// address or too short a password, and ECONFLICT when the name is taken
// (names are compared without case).
func (s *Store) Create(ctx context.Context, nu NewUser) (*User, error) {
	nu.Name = strings.TrimSpace(nu.Name)
	if err := ValidateName(nu.Name); err != nil {
		return nil, err
	}
	if !nu.Role.Valid() {
		return nil, feed.Errorf(feed.EINVALID, "%q is not a role (viewer, operator or admin)", nu.Role)
	}
	email, err := normalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	hash, err := HashPassword(nu.Password, s.params())
	if err != nil {
		return nil, err
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	r, err := tx.ExecContext(ctx, `INSERT INTO users (name, password, role, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		nu.Name, hash, string(nu.Role), email, now, now)
	if feed.IsUniqueViolation(err) {
		return nil, feed.Errorf(feed.ECONFLICT, "user %q already exists", nu.Name)
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return s.Get(ctx, id)
}

// Get returns the user with the id, or ENOTFOUND.
func (s *Store) Get(ctx context.Context, id int64) (*User, error) {
	u, err := scanUser(s.DB.SQL().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.Errorf(feed.ENOTFOUND, "no user %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// ByName returns the user with the name (without case), or ENOTFOUND.
func (s *Store) ByName(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.DB.SQL().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, strings.TrimSpace(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.Errorf(feed.ENOTFOUND, "no user %q", name)
	} else if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// List returns every user, by name.
func (s *Store) List(ctx context.Context) ([]*User, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// HasAdmin reports whether any administrator exists: while none does,
// the first start may create one.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.DB.SQL().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')`).Scan(&ok); err != nil {
		return false, fmt.Errorf("find admin: %w", err)
	}
	return ok, nil
}

// SetPassword replaces a user's password and ends every session of the
// user, so that a stolen session dies with the old password.
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	hash, err := HashPassword(password, s.params())
	if err != nil {
		return err
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `UPDATE users SET password = ?, updated_at = ? WHERE id = ?`, hash, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return feed.Errorf(feed.ENOTFOUND, "no user %d", id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return tx.Commit()
}

// SetRole changes a user's role. It refuses (ECONFLICT) to take the role
// from the last administrator.
func (s *Store) SetRole(ctx context.Context, id int64, role Role) error {
	if !role.Valid() {
		return feed.Errorf(feed.EINVALID, "%q is not a role (viewer, operator or admin)", role)
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var old string
	err = tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, id).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return feed.Errorf(feed.ENOTFOUND, "no user %d", id)
	} else if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	if Role(old) == RoleAdmin && role != RoleAdmin {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
		if admins <= 1 {
			return feed.Errorf(feed.ECONFLICT, "the last administrator cannot stop being one")
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(role), s.now().UnixMilli(), id); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	return tx.Commit()
}

// SetEmail changes the address mail goes to; "" stops all mail.
func (s *Store) SetEmail(ctx context.Context, id int64, email string) error {
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	r, err := s.DB.SQL().ExecContext(ctx, `UPDATE users SET email = ?, updated_at = ? WHERE id = ?`, email, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("set e-mail: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return feed.Errorf(feed.ENOTFOUND, "no user %d", id)
	}
	return nil
}

// Delete removes a user with their sessions, follows and lists. It refuses
// (ECONFLICT) to remove the last administrator.
func (s *Store) Delete(ctx context.Context, id int64) error {
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var last bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND role = 'admin')
		AND (SELECT COUNT(*) FROM users WHERE role = 'admin') = 1`, id).Scan(&last); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if last {
		return feed.Errorf(feed.ECONFLICT, "the last administrator cannot be deleted")
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return feed.Errorf(feed.ENOTFOUND, "no user %d", id)
	}
	return tx.Commit()
}

func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 254 || strings.ContainsAny(s, " <>,\r\n") || strings.Count(s, "@") != 1 ||
		strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") {
		return "", feed.Errorf(feed.EINVALID, "%q is not an e-mail address", s)
	}
	return s, nil
}

// newToken returns a random token, base64url without padding, and the
// SHA-256 the database keeps of it.
func newToken() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	return t, hashToken(t)
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}
