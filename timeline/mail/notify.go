package mail

import (
	"context"
	"fmt"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/translators"
)

// isCritical reports whether a post is one people get mail about at once.
func isCritical(p *feed.Post) bool {
	if p.Severity == translators.SeverityCritical {
		return true
	}
	for _, t := range p.Tags {
		if t == "critical" {
			return true
		}
	}
	return false
}

type recipient struct {
	id    int64
	email string
}

// NotifyPost queues a mail about a new critical post for every user who
// asked for them and follows it (its server, a hashtag of it, or a list
// it is in). Other posts, and any post while mail is off, queue nothing.
// It returns how many mails it queued.
func (s *Service) NotifyPost(ctx context.Context, p *feed.Post) (int, error) {
	if !isCritical(p) {
		return 0, nil
	}
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled() {
		return 0, err
	}
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT u.id, u.email FROM users u JOIN mail_prefs m ON m.user_id = u.id
		WHERE m.critical AND u.email != '' ORDER BY u.id`)
	if err != nil {
		return 0, fmt.Errorf("find recipients: %w", err)
	}
	var rcpts []recipient
	for rows.Next() {
		var r recipient
		if err := rows.Scan(&r.id, &r.email); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find recipients: %w", err)
		}
		rcpts = append(rcpts, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find recipients: %w", err)
	}
	queued := 0
	for _, r := range rcpts {
		in, err := s.Follows.Interests(ctx, r.id)
		if err != nil {
			return queued, err
		}
		if !in.Matches(p) {
			continue
		}
		unsub, err := s.UnsubscribeURL(ctx, r.id, KindCritical)
		if err != nil {
			return queued, err
		}
		m := s.criticalMessage(set.From, r.email, unsub, p, s.DB.Now())
		ok, err := s.enqueue(ctx, r.id, KindCritical, p.ID, r.email, m.Subject, m.bytes())
		if err != nil {
			return queued, err
		}
		if ok {
			queued++
		}
	}
	return queued, nil
}

// Notify listens to the hub until ctx ends and queues mail for new
// critical posts. It only reads the hub's channel and writes the outbox:
// ingest never waits for it, and if it falls so far behind that the hub
// drops it, it says so in the log and subscribes again.
func (s *Service) Notify(ctx context.Context, hub *feed.Hub) {
	for ctx.Err() == nil {
		sub := hub.Subscribe(1024)
		s.notifyFrom(ctx, sub)
		dropped := sub.Dropped()
		sub.Close()
		if dropped {
			s.logger().Warn("mail notifier fell behind the feed; critical posts in the gap get no mail")
		}
	}
}

func (s *Service) notifyFrom(ctx context.Context, sub *feed.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case n, ok := <-sub.C():
			if !ok {
				return
			}
			if n.Kind != feed.NoticeUpdate {
				continue
			}
			if _, err := s.NotifyPost(ctx, n.Post); err != nil {
				s.logger().Error("queue critical mail", "post", n.Post.ID, "err", err)
			}
		}
	}
}

// Digest bounds.
const maxDigestPosts = timeline.MaxLimit

// QueueDigests queues the daily digest of every user who asked for one and
// whose last digest is older than the start of today (UTC): the posts of
// what they follow from then until the start of today. A quiet day sends
// nothing but still counts as done. It returns how many mails it queued.
func (s *Service) QueueDigests(ctx context.Context) (int, error) {
	set, err := s.Settings(ctx)
	if err != nil || !set.Enabled() {
		return 0, err
	}
	now := s.DB.Now()
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if now.UTC().Before(end) {
		end = end.AddDate(0, 0, -1)
	}
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT u.id, u.email, m.last_digest FROM users u JOIN mail_prefs m ON m.user_id = u.id
		WHERE m.digest AND u.email != '' AND m.last_digest < ? ORDER BY u.id`, end.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("find digest readers: %w", err)
	}
	type reader struct {
		recipient
		last int64
	}
	var readers []reader
	for rows.Next() {
		var r reader
		if err := rows.Scan(&r.id, &r.email, &r.last); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find digest readers: %w", err)
		}
		readers = append(readers, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find digest readers: %w", err)
	}
	queued := 0
	for _, r := range readers {
		start := time.UnixMilli(r.last)
		if day := end.AddDate(0, 0, -1); start.Before(day) {
			start = day // after a long pause, one day, not a month
		}
		in, err := s.Follows.Interests(ctx, r.id)
		if err != nil {
			return queued, err
		}
		page := timeline.Page{SinceID: feed.MinIDAt(start) - 1, MaxID: feed.MinIDAt(end), Limit: maxDigestPosts}
		posts, err := (&timeline.Reader{DB: s.DB}).Matching(ctx, in, page)
		if err != nil {
			return queued, err
		}
		if len(posts) > 0 {
			unsub, err := s.UnsubscribeURL(ctx, r.id, KindDigest)
			if err != nil {
				return queued, err
			}
			// A full page means the day had more than a digest shows.
			truncated := len(posts) == maxDigestPosts
			m := s.digestMessage(set.From, r.email, unsub, end.AddDate(0, 0, -1), posts, truncated, now)
			if _, err := s.enqueue(ctx, r.id, KindDigest, 0, r.email, m.Subject, m.bytes()); err != nil {
				return queued, err
			}
			queued++
		}
		if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE mail_prefs SET last_digest = ? WHERE user_id = ?`, end.UnixMilli(), r.id); err != nil {
			return queued, fmt.Errorf("mark digest: %w", err)
		}
	}
	return queued, nil
}
