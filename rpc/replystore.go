package rpc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"fleetfeed/feed"
)

// DefaultAsyncListener is the sender id under which the fleetfeed server
// listens for the replies of asynchronous requests (ListenReplies), and
// so where the CLI's --async sends them by default.
const DefaultAsyncListener = "fleetfeed-server"

// AsyncReplyDestination is the queue the replies of asynchronous requests
// go to, read by the listener called senderID. It is a queue, not a
// topic, so replies wait for a listener that restarts.
func AsyncReplyDestination(collective, senderID string) string {
	return "/queue/" + collective + ".reply." + senderID
}

// AsyncRequest is the record of a request sent with SendAsync.
type AsyncRequest struct {
	ID      string        `json:"requestid"`
	Agent   string        `json:"agent"`
	Action  string        `json:"action"`
	Caller  string        `json:"caller"`
	Targets []string      `json:"targets"`
	Created time.Time     `json:"created"`
	TTL     time.Duration `json:"-"`
}

// StoredReply is a reply as a ReplyStore keeps it.
type StoredReply struct {
	// Seq orders the replies of the store; pages are cut by it.
	Seq        int64          `json:"seq"`
	RequestID  string         `json:"requestid"`
	Sender     string         `json:"sender"`
	StatusCode StatusCode     `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Data       map[string]any `json:"data"`
	Received   time.Time      `json:"received"`
}

// Page asks for the replies after the cursor After (0: from the first),
// at most Limit of them (DefaultPageSize if 0, at most MaxPageSize).
type Page struct {
	After int64
	Limit int
}

// Page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ReplyPage is one page of a request's replies.
type ReplyPage struct {
	// Request is the request's record; nil if the store has none (the
	// request was sent by a client without this store).
	Request *AsyncRequest `json:"request"`
	Replies []StoredReply `json:"replies"`
	// Total is the number of replies stored for the request.
	Total int `json:"total"`
	// Next is the cursor of the next page, 0 when this is the last.
	Next int64 `json:"next"`
}

// ReplyStore keeps the replies of asynchronous requests, readable later
// by request id.
type ReplyStore interface {
	// SaveRequest records a request as it is sent. Saving an id twice is
	// an error.
	SaveRequest(ctx context.Context, req *AsyncRequest) error
	// Save stores one verified reply. A second reply from the same sender
	// to the same request is ignored (nil error).
	Save(ctx context.Context, rep *Reply, received time.Time) error
	// List returns one page of a request's replies in the order they were
	// stored; an unknown request gives an empty page.
	List(ctx context.Context, requestID string, page Page) (*ReplyPage, error)
}

// SQLiteReplyStore is a ReplyStore in fleetfeed's database (tables
// rpc_requests and rpc_replies, migration 0003_rpc.sql).
type SQLiteReplyStore struct {
	DB *feed.DB
}

var _ ReplyStore = (*SQLiteReplyStore)(nil)

// SaveRequest records req.
func (s *SQLiteReplyStore) SaveRequest(ctx context.Context, req *AsyncRequest) error {
	targets, err := json.Marshal(nonNilStrings(req.Targets))
	if err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO rpc_requests (id, agent, action, caller, targets, created, ttl)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, req.ID, req.Agent, req.Action, req.Caller, string(targets),
		req.Created.UnixMilli(), int64(req.TTL/time.Second)); err != nil {
		if feed.IsUniqueViolation(err) {
			return fmt.Errorf("save request %s: already exists: %w", req.ID, err)
		}
		return fmt.Errorf("save request %s: %w", req.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save request %s: %w", req.ID, err)
	}
	return nil
}

// Save stores rep.
func (s *SQLiteReplyStore) Save(ctx context.Context, rep *Reply, received time.Time) error {
	data, err := json.Marshal(rep.Data)
	if err != nil {
		return fmt.Errorf("save reply: %w", err)
	}
	if rep.Data == nil {
		data = []byte("{}")
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save reply: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO rpc_replies (request_id, sender, statuscode, statusmsg, data, received)
		VALUES (?, ?, ?, ?, ?, ?)`, rep.RequestID, rep.SenderID, int(rep.StatusCode), rep.StatusMsg, string(data),
		received.UnixMilli()); err != nil {
		return fmt.Errorf("save reply from %s to %s: %w", rep.SenderID, rep.RequestID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save reply: %w", err)
	}
	return nil
}

// List returns a page of the replies to requestID.
func (s *SQLiteReplyStore) List(ctx context.Context, requestID string, page Page) (*ReplyPage, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	tx, err := s.DB.SQL().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	defer tx.Rollback()
	out := &ReplyPage{Replies: []StoredReply{}}
	if out.Request, err = findAsyncRequest(ctx, tx, requestID); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rpc_replies WHERE request_id = ?`, requestID).Scan(&out.Total); err != nil {
		return nil, fmt.Errorf("count replies: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, sender, statuscode, statusmsg, data, received FROM rpc_replies
		WHERE request_id = ? AND id > ? ORDER BY id LIMIT ?`, requestID, page.After, limit+1)
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r        StoredReply
			data     string
			received int64
		)
		if err := rows.Scan(&r.Seq, &r.Sender, &r.StatusCode, &r.StatusMsg, &data, &received); err != nil {
			return nil, fmt.Errorf("list replies: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &r.Data); err != nil {
			return nil, fmt.Errorf("reply %d data: %w", r.Seq, err)
		}
		r.RequestID, r.Received = requestID, time.UnixMilli(received).UTC()
		out.Replies = append(out.Replies, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	if len(out.Replies) > limit {
		out.Replies = out.Replies[:limit]
		out.Next = out.Replies[limit-1].Seq
	}
	return out, nil
}

func findAsyncRequest(ctx context.Context, tx *sql.Tx, id string) (*AsyncRequest, error) {
	var (
		r       = AsyncRequest{ID: id}
		targets string
		created int64
		ttl     int64
	)
	err := tx.QueryRowContext(ctx, `SELECT agent, action, caller, targets, created, ttl FROM rpc_requests WHERE id = ?`, id).
		Scan(&r.Agent, &r.Action, &r.Caller, &targets, &created, &ttl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find request %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(targets), &r.Targets); err != nil {
		return nil, fmt.Errorf("request %s targets: %w", id, err)
	}
	r.Created, r.TTL = time.UnixMilli(created).UTC(), time.Duration(ttl)*time.Second
	return &r, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SendAsync sends call to targets (or, if targets is nil, to the nodes
// call discovers, after its limit) without waiting: one signed request
// per node, all at once, whose replies go to the queue of the listener
// ClientConfig.AsyncReplyTo (see ListenReplies), which stores them. It
// records the request in ClientConfig.Store, if set, before sending, and
// returns the request id to read the replies by. Errors are Do's.
func (c *Client) SendAsync(ctx context.Context, call Call, targets []string) (string, error) {
	start := time.Now()
	id, err := c.sendAsync(ctx, call, &targets)
	c.auditAsync(ctx, start, call, id, targets, err)
	return id, err
}

// sendAsync is SendAsync; it leaves in *targetsp the nodes it sent to.
func (c *Client) sendAsync(ctx context.Context, call Call, targetsp *[]string) (string, error) {
	targets := *targetsp
	defer func() { *targetsp = targets }()
	if _, err := c.validate(call.Agent, call.Action, call.Data, call.Filter); err != nil {
		return "", err
	}
	if targets == nil {
		disc, err := c.Discover(ctx, call)
		if err != nil {
			return "", err
		}
		if targets, err = call.Limit.Pick(disc.Nodes, call.LimitMethod, call.LimitSeed); err != nil {
			return "", err
		}
	}
	if len(targets) == 0 {
		return "", fmt.Errorf("send async: %w", ErrNoNodes)
	}
	for _, t := range targets {
		if err := CheckName(t); err != nil {
			return "", fmt.Errorf("target: %w: %w", err, ErrInvalidRequest)
		}
	}
	id := NewRequestID()
	if c.cfg.Store != nil {
		ttl := time.Duration(ttlSeconds(call.TTL)) * time.Second
		if err := c.cfg.Store.SaveRequest(ctx, &AsyncRequest{
			ID: id, Agent: call.Agent, Action: call.Action, Caller: c.cfg.CallerID,
			Targets: slices.Clone(targets), Created: time.Now().UTC(), TTL: ttl,
		}); err != nil {
			return "", fmt.Errorf("send async: %w", err)
		}
	}
	replyTo := AsyncReplyDestination(c.cfg.Collective, c.cfg.AsyncReplyTo)
	if err := c.sendDirect(ctx, id, call.Agent, call.Action, call.Data, call.TTL, replyTo, targets, nil); err != nil {
		return id, fmt.Errorf("send async: %w", err)
	}
	return id, nil
}

// ListenReplies reads the queue AsyncReplyDestination(collective,
// senderID), verifies each reply with trusted and saves it in store,
// acknowledging it once saved (a reply that cannot be saved is handed
// back to the broker). Replies that fail verification are dropped and
// logged. It returns nil when ctx ends, or an error if the subscription
// cannot be made or ends. A nil logger discards.
func ListenReplies(ctx context.Context, conn Connector, collective, senderID string, trusted *KeyRing,
	store ReplyStore, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckName(senderID); err != nil {
		return fmt.Errorf("listen replies: %w", err)
	}
	dest := AsyncReplyDestination(collective, senderID)
	sub, err := conn.Subscribe(ctx, dest, AckClientIndividual)
	if err != nil {
		return fmt.Errorf("listen replies: %w", err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection may be gone already
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-sub.C():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("listen replies: subscription %s ended: %w", dest, ErrClosed)
			}
			rep, err := VerifyReply(m.Body, trusted)
			if err != nil {
				logger.Warn("async reply dropped", "err", err)
				m.Ack() //nolint:errcheck // dropped either way
				continue
			}
			if err := store.Save(ctx, rep, time.Now()); err != nil {
				logger.Error("async reply not saved", "requestid", rep.RequestID, "sender", rep.SenderID, "err", err)
				m.Nack() //nolint:errcheck // redelivered or lost with the connection
				continue
			}
			if err := m.Ack(); err != nil {
				logger.Warn("async reply not acknowledged", "requestid", rep.RequestID, "err", err)
			}
		}
	}
}
