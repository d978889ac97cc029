package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"

	"fleetfeed/feed"
)

// sendTimeout bounds one delivery, connection to QUIT.
const sendTimeout = 2 * time.Minute

func (s *Service) backoff(attempts int) time.Duration {
	d := s.Backoff
	if d <= 0 {
		d = DefaultBackoff
	}
	for i := 1; i < attempts && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return s.MaxAttempts
}

type outgoing struct {
	id       int64
	to       string
	msg      []byte
	attempts int
}

// SendDue delivers the outbox's mail that is due, one message at a time.
// A failure is recorded on the message (attempts, last error) and it is
// tried again after a backoff that doubles each time, until MaxAttempts
// or a permanent (5xx) refusal, when it is marked failed. It returns how
// many were sent and how many failed this time; err is for the outbox
// itself, not for delivery.
func (s *Service) SendDue(ctx context.Context) (sent, failed int, err error) {
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled() {
		return 0, 0, err
	}
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT id, recipient, message, attempts FROM outbox
		WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT 50`, s.DB.Now().UnixMilli())
	if err != nil {
		return 0, 0, fmt.Errorf("read outbox: %w", err)
	}
	var due []outgoing
	for rows.Next() {
		var o outgoing
		if err := rows.Scan(&o.id, &o.to, &o.msg, &o.attempts); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("read outbox: %w", err)
		}
		due = append(due, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("read outbox: %w", err)
	}
	for _, o := range due {
		if ctx.Err() != nil {
			break
		}
		derr := s.deliver(ctx, set, o.to, o.msg)
		now := s.DB.Now()
		if derr == nil {
			if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = '' WHERE id = ?`,
				now.UnixMilli(), o.id); err != nil {
				return sent, failed, fmt.Errorf("mark mail sent: %w", err)
			}
			sent++
			continue
		}
		failed++
		attempts := o.attempts + 1
		status := StatusPending
		var te *textproto.Error
		if attempts >= s.maxAttempts() || (errors.As(derr, &te) && te.Code >= 500) {
			status = StatusFailed
		}
		s.logger().Warn("mail not delivered", "outbox", o.id, "attempt", attempts, "status", status, "err", derr)
		if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_at = ? WHERE id = ?`,
			status, attempts, derr.Error(), now.Add(s.backoff(attempts)).UnixMilli(), o.id); err != nil {
			return sent, failed, fmt.Errorf("record mail failure: %w", err)
		}
	}
	return sent, failed, nil
}

// deliver sends one message over SMTP with the settings.
func (s *Service) deliver(ctx context.Context, set Settings, to string, msg []byte) error {
	from, err := mail.ParseAddress(set.From)
	if err != nil {
		return fmt.Errorf("sender %q: %w", set.From, err)
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	addr := net.JoinHostPort(set.Host, strconv.Itoa(set.Port))
	cfg := s.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: set.Host}
	}
	d := &net.Dialer{}
	var conn net.Conn
	if set.Security == TLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, set.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close()
	if set.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp %s does not offer STARTTLS (set security to tls or none)", addr)
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if set.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", set.Username, set.Password, set.Host)); err != nil {
			return fmt.Errorf("smtp login as %s: %w", set.Username, err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp RCPT TO %s: %w", to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	return c.Quit()
}

// Intervals of Run's loop.
const (
	sendEvery   = 30 * time.Second
	digestEvery = 5 * time.Minute
)

// Run is the mail service's loop until ctx ends: the notifier on the hub,
// the sender (every 30 seconds, and at once when mail is queued) and the
// daily digests (checked every 5 minutes). Errors go to the log.
func (s *Service) Run(ctx context.Context, hub *feed.Hub) {
	go s.Notify(ctx, hub)
	send := time.NewTicker(sendEvery)
	defer send.Stop()
	digest := time.NewTicker(digestEvery)
	defer digest.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-digest.C:
			if _, err := s.QueueDigests(ctx); err != nil {
				s.logger().Error("queue digests", "err", err)
			}
			continue
		case <-send.C:
		case <-s.wakeC():
		}
		if _, _, err := s.SendDue(ctx); err != nil {
			s.logger().Error("send mail", "err", err)
		}
	}
}
