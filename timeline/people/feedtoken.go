package people

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"fleetfeed/feed"
)

// NewFeedToken makes a new private feed token for a user, replacing the
// old one (which stops working), and returns it. The token goes in feed
// URLs (/home.rss?token=…); only its SHA-256 is stored, so it is shown
// once.
func (s *Store) NewFeedToken(ctx context.Context, userID int64) (string, error) {
	token, hash := newToken()
	r, err := s.DB.SQL().ExecContext(ctx, `UPDATE users SET feed_token = ?, updated_at = ? WHERE id = ?`, hash, s.now().UnixMilli(), userID)
	if err != nil {
		return "", fmt.Errorf("new feed token: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return "", feed.Errorf(feed.ENOTFOUND, "no user %d", userID)
	}
	return token, nil
}

// RevokeFeedToken removes a user's feed token: their private feeds stop
// working until a new one is made.
func (s *Store) RevokeFeedToken(ctx context.Context, userID int64) error {
	if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE users SET feed_token = NULL, updated_at = ? WHERE id = ?`, s.now().UnixMilli(), userID); err != nil {
		return fmt.Errorf("revoke feed token: %w", err)
	}
	return nil
}

// LookupFeedToken returns the user a feed token belongs to, or
// EUNAUTHORIZED.
func (s *Store) LookupFeedToken(ctx context.Context, token string) (*User, error) {
	if token == "" {
		return nil, feed.Errorf(feed.EUNAUTHORIZED, "this feed needs its token")
	}
	u, err := scanUser(s.DB.SQL().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE feed_token = ?`, hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.Errorf(feed.EUNAUTHORIZED, "the feed token is wrong or was revoked")
	} else if err != nil {
		return nil, fmt.Errorf("look up feed token: %w", err)
	}
	return u, nil
}
