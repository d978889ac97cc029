package mail

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Outbox statuses.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// OutboxItem is a mail in the outbox, as administrators see it.
type OutboxItem struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Recipient string     `json:"recipient"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"`
	NextAt    time.Time  `json:"next_at"`
	SentAt    *time.Time `json:"sent_at"`
}

// enqueue adds a message; a second critical mail for the same user and
// post is dropped. It reports whether a row was added.
func (s *Service) enqueue(ctx context.Context, userID int64, kind string, postID int64, to, subject string, msg []byte) (bool, error) {
	var post any
	if postID != 0 {
		post = postID
	}
	now := s.DB.Now().UnixMilli()
	r, err := s.DB.SQL().ExecContext(ctx, `INSERT OR IGNORE INTO outbox (user_id, kind, post_id, recipient, subject, message, created_at, next_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, userID, kind, post, to, subject, msg, now, now)
	if err != nil {
		return false, fmt.Errorf("queue mail: %w", err)
	}
	n, _ := r.RowsAffected()
	if n > 0 {
		s.poke()
	}
	return n > 0, nil
}

// poke wakes the sender without waiting.
func (s *Service) poke() {
	select {
	case s.wakeC() <- struct{}{}:
	default:
	}
}

func (s *Service) wakeC() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// OutboxFilter selects outbox items.
type OutboxFilter struct {
	// Failing keeps mail that failed at least once: given up, or
	// waiting for a retry. Otherwise every item is listed.
	Failing bool
	// Limit bounds the items, newest first; 100 when 0.
	Limit int
}

// Outbox lists mail for administrators, newest first: with Failing, the
// mail that does not get through and why.
func (s *Service) Outbox(ctx context.Context, f OutboxFilter) ([]*OutboxItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT id, kind, recipient, subject, status, attempts, last_error, created_at, next_at, sent_at FROM outbox`
	if f.Failing {
		q += ` WHERE status = 'failed' OR (status = 'pending' AND attempts > 0)`
	}
	rows, err := s.DB.SQL().QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	out := []*OutboxItem{}
	for rows.Next() {
		var (
			it            OutboxItem
			created, next int64
			sent          sql.NullInt64
		)
		if err := rows.Scan(&it.ID, &it.Kind, &it.Recipient, &it.Subject, &it.Status, &it.Attempts, &it.LastError, &created, &next, &sent); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		it.CreatedAt = time.UnixMilli(created).UTC()
		it.NextAt = time.UnixMilli(next).UTC()
		if sent.Valid {
			t := time.UnixMilli(sent.Int64).UTC()
			it.SentAt = &t
		}
		out = append(out, &it)
	}
	return out, rows.Err()
}

// Retry makes a failed mail due again now, with its attempts reset.
func (s *Service) Retry(ctx context.Context, id int64) error {
	if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_at = ? WHERE id = ? AND status != 'sent'`,
		s.DB.Now().UnixMilli(), id); err != nil {
		return fmt.Errorf("retry mail: %w", err)
	}
	s.poke()
	return nil
}
