package people

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"fleetfeed/feed"
)

// Session is a signed-in browser.
type Session struct {
	// Token is the session cookie's value. Only CreateSession fills it:
	// the database keeps its SHA-256.
	Token     string
	User      *User
	CSRF      CSRFSecret
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (s *Store) ttl() time.Duration {
	if s.SessionTTL <= 0 {
		return DefaultSessionTTL
	}
	return s.SessionTTL
}

// CreateSession starts a session for a user who has just signed in.
func (s *Store) CreateSession(ctx context.Context, userID int64) (*Session, error) {
	u, err := s.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	token, hash := newToken()
	csrf := make([]byte, 32)
	rand.Read(csrf)
	now := s.now()
	exp := now.Add(s.ttl())
	if _, err := s.DB.SQL().ExecContext(ctx, `INSERT INTO sessions (token, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		hash, userID, csrf, now.UnixMilli(), exp.UnixMilli()); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return &Session{Token: token, User: u, CSRF: csrf, CreatedAt: now.UTC(), ExpiresAt: exp.UTC()}, nil
}

// LookupSession returns the live session with the token, with its user,
// or EUNAUTHORIZED for an unknown or expired one.
func (s *Store) LookupSession(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, feed.Errorf(feed.EUNAUTHORIZED, "not signed in")
	}
	var (
		sess             Session
		uid              int64
		created, expires int64
	)
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT user_id, csrf, created_at, expires_at FROM sessions WHERE token = ? AND expires_at > ?`,
		hashToken(token), s.now().UnixMilli()).Scan(&uid, (*[]byte)(&sess.CSRF), &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.Errorf(feed.EUNAUTHORIZED, "the session has ended; sign in again")
	} else if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if sess.User, err = s.Get(ctx, uid); err != nil {
		return nil, err
	}
	sess.CreatedAt = time.UnixMilli(created).UTC()
	sess.ExpiresAt = time.UnixMilli(expires).UTC()
	return &sess, nil
}

// DeleteSession ends the session with the token (signing out); an unknown
// token is not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.DB.SQL().ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, hashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user ("sign out everywhere").
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.DB.SQL().ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and returns
// how many; the server calls it now and then.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	r, err := s.DB.SQL().ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return r.RowsAffected()
}
