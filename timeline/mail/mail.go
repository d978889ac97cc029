// Package mail tells people by e-mail about what they follow: at once for
// a critical post, and in a daily digest. It never holds up ingest: a
// notifier listens to the feed hub and writes mail to an outbox table, and
// a sender delivers the outbox over SMTP with retries and exponential
// backoff, recording each attempt's error where administrators see it.
//
// Mail is off until an administrator saves SMTP settings. Each message
// carries a signed unsubscribe link that works without signing in.
package mail

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/timeline/people"
)

// Security is how the connection to the SMTP server is protected.
type Security string

// The security modes.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS
	// (usually port 587); a server that does not offer it is an error.
	StartTLS Security = "starttls"
	// TLS connects over TLS from the start (usually port 465).
	TLS Security = "tls"
	// None sends in plain text (a relay on localhost); password
	// authentication is then refused unless the server is on localhost.
	None Security = "none"
)

// Settings are the SMTP relay's. Host "" turns mail off.
type Settings struct {
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Username string   `json:"username"`
	Password string   `json:"password,omitempty"`
	From     string   `json:"from"`
	Security Security `json:"security"`
}

// Enabled reports whether mail is configured.
func (s Settings) Enabled() bool { return s.Host != "" }

// Validate checks the settings; an empty Host (mail off) is valid.
func (s Settings) Validate() error {
	if s.Host == "" {
		return nil
	}
	if strings.ContainsAny(s.Host, " /:@") {
		return feed.Errorf(feed.EINVALID, "SMTP host %q is not a host name", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		return feed.Errorf(feed.EINVALID, "SMTP port %d is not a port", s.Port)
	}
	switch s.Security {
	case StartTLS, TLS, None:
	default:
		return feed.Errorf(feed.EINVALID, "SMTP security %q: use starttls, tls or none", s.Security)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return feed.Errorf(feed.EINVALID, "sender %q is not an e-mail address", s.From)
	}
	return nil
}

// Prefs are what one user wants by e-mail.
type Prefs struct {
	// Critical: a mail for each critical post of what they follow.
	Critical bool `json:"critical"`
	// Digest: a daily mail of the day's posts of what they follow.
	Digest bool `json:"digest"`
}

// Kinds of mail, as unsubscribe links and the outbox name them.
const (
	KindCritical = "critical"
	KindDigest   = "digest"
)

// Service is fleetfeed's mail: settings, preferences, the outbox, the
// notifier and the sender.
type Service struct {
	DB      *feed.DB
	People  *people.Store
	Follows *timeline.Follows
	// BaseURL is the web page's address ("https://fleet.example.com"),
	// for the links in mail.
	BaseURL string
	Logger  *slog.Logger
	// MaxAttempts is how often a mail is tried before it is given up;
	// DefaultMaxAttempts when 0. Backoff is the wait after the first
	// failure, doubling after each (DefaultBackoff when 0), up to MaxBackoff.
	MaxAttempts int
	Backoff     time.Duration
	// TLSConfig, when set, is used for TLS and STARTTLS (tests trust
	// their own certificate with it).
	TLSConfig *tls.Config

	wakeOnce sync.Once
	wake     chan struct{}
}

// Retry defaults.
const (
	DefaultMaxAttempts = 8
	DefaultBackoff     = time.Minute
	MaxBackoff         = 6 * time.Hour
)

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Settings returns the SMTP settings; zero (mail off) when none are saved.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	var set Settings
	var sec string
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT host, port, username, password, sender, security FROM mail_settings WHERE id = 1`).
		Scan(&set.Host, &set.Port, &set.Username, &set.Password, &set.From, &sec)
	if errors.Is(err, sql.ErrNoRows) {
		return Settings{Port: 587, Security: StartTLS}, nil
	} else if err != nil {
		return set, fmt.Errorf("mail settings: %w", err)
	}
	set.Security = Security(sec)
	return set, nil
}

// SetSettings saves the SMTP settings (EINVALID when they do not check).
// An empty Password keeps the saved one, so that a settings page need not
// show it; set KeepPassword false to clear it.
func (s *Service) SetSettings(ctx context.Context, set Settings, keepPassword bool) error {
	if set.Security == "" {
		set.Security = StartTLS
	}
	if err := set.Validate(); err != nil {
		return err
	}
	q := `INSERT INTO mail_settings (id, host, port, username, password, sender, security) VALUES (1, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port, username = excluded.username,
		password = CASE WHEN ? AND excluded.password = '' THEN password ELSE excluded.password END,
		sender = excluded.sender, security = excluded.security`
	if _, err := s.DB.SQL().ExecContext(ctx, q, set.Host, set.Port, set.Username, set.Password, set.From, string(set.Security), keepPassword); err != nil {
		return fmt.Errorf("save mail settings: %w", err)
	}
	return nil
}

// Prefs returns a user's mail preferences (all off by default).
func (s *Service) Prefs(ctx context.Context, userID int64) (Prefs, error) {
	var p Prefs
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT critical, digest FROM mail_prefs WHERE user_id = ?`, userID).Scan(&p.Critical, &p.Digest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("mail preferences: %w", err)
	}
	return p, nil
}

// SetPrefs saves a user's mail preferences. A user without an e-mail
// address gets none either way.
func (s *Service) SetPrefs(ctx context.Context, userID int64, p Prefs) error {
	_, err := s.DB.SQL().ExecContext(ctx, `INSERT INTO mail_prefs (user_id, critical, digest, last_digest) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET critical = excluded.critical, digest = excluded.digest`,
		userID, p.Critical, p.Digest, s.DB.Now().UnixMilli())
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey {
			return feed.Errorf(feed.ENOTFOUND, "no user %d", userID)
		}
		return fmt.Errorf("save mail preferences: %w", err)
	}
	return nil
}
