package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Client errors. Callers match them with errors.Is.
var (
	// ErrUnknownAction: the DDL of the agent has no such action.
	ErrUnknownAction = errors.New("unknown action")
	// ErrInvalidRequest: the request's inputs, filter or options are wrong
	// (the wrapping error says which); nothing was sent.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNoNodes: discovery found no node to send the request to.
	ErrNoNodes = errors.New("no nodes discovered")
	// ErrDiscoveryFilter: the discovery method cannot apply a part of the
	// filter (a flat file knows identities only).
	ErrDiscoveryFilter = errors.New("discovery method cannot apply the filter")
)

// Defaults of the client.
const (
	DefaultCollective       = "fleetfeed"
	DefaultDiscoveryTimeout = 2 * time.Second
	// sendTimeout bounds sending one batch once it has started, even
	// after the caller's context is cancelled (a batch is sent whole).
	sendTimeout = 30 * time.Second
)

// ClientConfig configures NewClient.
type ClientConfig struct {
	// Collective is the collective requests go to (DefaultCollective if
	// empty).
	Collective string
	// SenderID names the client on the wire: its replies come to
	// ReplyDestination(Collective, SenderID). Empty gives "client-" and
	// random hex digits. Two clients must not share a sender id.
	SenderID string
	// CallerID is who asks ("user=alice"); agents' policies match it and
	// Signer's key must be allowed to speak for it.
	CallerID string
	// Signer signs requests.
	Signer *Signer
	// Trusted holds the keys replies must be signed with; a reply signed
	// by any other key, or by a key not allowed to speak for its sender,
	// is dropped (and counted in ClientStats.Dropped).
	Trusted *KeyRing
	// DDLs describe the agents: requests are validated against them
	// before they are sent, and they give timeouts, display rules and
	// aggregates. A request to an agent without a DDL is sent as it is.
	DDLs []*DDL
	// AsyncReplyTo is the sender id of the listener that stores the
	// replies of requests sent with SendAsync (see ListenReplies); empty
	// means SenderID.
	AsyncReplyTo string
	// Store, if set, records the requests sent with SendAsync.
	Store ReplyStore
	// Logger receives the reasons replies were dropped; nil discards.
	Logger *slog.Logger
	// Audit, if set, records every call made with Do or SendAsync, once
	// it is done (see Auditor).
	Audit Auditor
}

// Client sends requests and collects replies: discovery, direct
// addressing, limits, batches, TTL and statistics, as MCollective's RPC
// client does. One Client holds one subscription to its reply topic and
// sorts the replies by request id, so a long-lived program (the server)
// makes one and uses it from many goroutines.
type Client struct {
	conn    Connector
	cfg     ClientConfig
	log     *slog.Logger
	ddls    map[string]*DDL
	sub     Subscription
	done    chan struct{} // closed when the dispatcher stops
	dropped atomic.Uint64
	stray   atomic.Uint64

	mu      sync.Mutex
	waiters map[string]*waiter
	closed  bool
}

// ClientStats counts replies the client could not use.
type ClientStats struct {
	// Dropped counts replies refused for their form or signature.
	Dropped uint64
	// Stray counts verified replies to requests nobody waits for any
	// more (late replies, after the request's timeout).
	Stray uint64
}

// NewClient checks cfg, subscribes to the client's reply topic and starts
// sorting replies. conn stays the caller's: Close does not close it.
func NewClient(ctx context.Context, conn Connector, cfg ClientConfig) (*Client, error) {
	if cfg.Collective == "" {
		cfg.Collective = DefaultCollective
	}
	if cfg.SenderID == "" {
		cfg.SenderID = "client-" + NewRequestID()[:12]
	}
	if cfg.AsyncReplyTo == "" {
		cfg.AsyncReplyTo = cfg.SenderID
	}
	for _, n := range []struct{ name, v string }{
		{"collective", cfg.Collective}, {"sender id", cfg.SenderID}, {"async reply sender id", cfg.AsyncReplyTo},
	} {
		if err := CheckName(n.v); err != nil {
			return nil, fmt.Errorf("new client: %s: %w", n.name, err)
		}
	}
	if cfg.CallerID == "" {
		return nil, errors.New("new client: no caller id")
	}
	if cfg.Signer == nil {
		return nil, errors.New("new client: no signer")
	}
	if cfg.Trusted == nil {
		return nil, errors.New("new client: no trusted keys for replies")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		conn: conn, cfg: cfg, log: log, ddls: map[string]*DDL{},
		waiters: map[string]*waiter{}, done: make(chan struct{}),
	}
	for _, d := range cfg.DDLs {
		c.ddls[d.Metadata.Name] = d
	}
	sub, err := conn.Subscribe(ctx, ReplyDestination(cfg.Collective, cfg.SenderID), AckAuto)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	c.sub = sub
	go c.dispatch()
	return c, nil
}

// Close stops reading replies; requests in progress end at their
// timeouts with the replies they have. It does not close the connector.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := c.sub.Unsubscribe()
	<-c.done
	if err != nil {
		return fmt.Errorf("close client: %w", err)
	}
	return nil
}

// SenderID is the client's name on the wire.
func (c *Client) SenderID() string { return c.cfg.SenderID }

// Collective is the collective the client talks to.
func (c *Client) Collective() string { return c.cfg.Collective }

// CallerID is who the client's requests say is asking.
func (c *Client) CallerID() string { return c.cfg.CallerID }

// DDL returns the DDL of the named agent, or nil.
func (c *Client) DDL(agent string) *DDL { return c.ddls[agent] }

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{Dropped: c.dropped.Load(), Stray: c.stray.Load()}
}

// Received is a verified reply and when it came.
type Received struct {
	*Reply
	// At is when the client read it.
	At time.Time
	// Elapsed is the time from sending the request to this node (or the
	// broadcast) to reading the reply.
	Elapsed time.Duration
}

// waiter collects the replies to one request id. The dispatcher never
// blocks on it: replies queue without bound until the request is done.
type waiter struct {
	mu     sync.Mutex
	q      []Received
	notify chan struct{} // capacity 1: "something was queued"
}

func newWaiter() *waiter { return &waiter{notify: make(chan struct{}, 1)} }

func (w *waiter) push(r Received) {
	w.mu.Lock()
	w.q = append(w.q, r)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *waiter) take() []Received {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.q
	w.q = nil
	return q
}

// register starts collecting the replies to id.
func (c *Client) register(id string) (*waiter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	w := newWaiter()
	c.waiters[id] = w
	return w, nil
}

func (c *Client) unregister(id string) {
	c.mu.Lock()
	delete(c.waiters, id)
	c.mu.Unlock()
}

// dispatch verifies each reply and hands it to the waiter of its request.
func (c *Client) dispatch() {
	defer close(c.done)
	for m := range c.sub.C() {
		at := time.Now()
		rep, err := VerifyReply(m.Body, c.cfg.Trusted)
		if err != nil {
			c.dropped.Add(1)
			c.log.Warn("reply dropped", "err", err)
			continue
		}
		c.mu.Lock()
		w := c.waiters[rep.RequestID]
		c.mu.Unlock()
		if w == nil {
			c.stray.Add(1)
			c.log.Debug("reply to no waiting request", "requestid", rep.RequestID, "sender", rep.SenderID)
			continue
		}
		w.push(Received{Reply: rep, At: at})
	}
}

// newRequest makes a signed-to-be request of c.
func (c *Client) newRequest(id, agent, action string, data map[string]any, filter *Filter, ttl time.Duration) *Request {
	req := NewRequest(c.cfg.Collective, agent, action, data)
	if id != "" {
		req.RequestID = id
	}
	req.SenderID = c.cfg.SenderID
	req.CallerID = c.cfg.CallerID
	req.Filter = filter
	req.TTL = ttlSeconds(ttl)
	return req
}

func ttlSeconds(ttl time.Duration) int {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return max(1, int((ttl+time.Second-1)/time.Second))
}

// sendDirect signs one request per node, each naming only that node, and
// sends it to the node's queue with the request's TTL. It returns when
// each node was sent to (sent[i] is when node i was), or at the first
// error.
func (c *Client) sendDirect(ctx context.Context, id, agent, action string, data map[string]any, ttl time.Duration,
	replyTo string, nodes []string, sent func(node string, at time.Time)) error {
	for _, node := range nodes {
		req := c.newRequest(id, agent, action, data, &Filter{Identity: []string{node}}, ttl)
		req.ReplyTo = replyTo
		body, err := c.cfg.Signer.SignRequest(req)
		if err != nil {
			return fmt.Errorf("request to %s: %w", node, err)
		}
		at := time.Now()
		if sent != nil {
			sent(node, at) // before Send: a reply may beat Send's return
		}
		if err := c.conn.Send(ctx, NodeDestination(c.cfg.Collective, node), body,
			SendOptions{TTL: time.Duration(req.TTL) * time.Second}); err != nil {
			return fmt.Errorf("request to %s: %w", node, err)
		}
	}
	return nil
}

// validate checks a call against the agent's DDL and returns the action's
// DDL (nil when the agent has none).
func (c *Client) validate(agent, action string, data map[string]any, filter *Filter) (*ActionDDL, error) {
	if err := CheckName(agent); err != nil {
		return nil, fmt.Errorf("agent: %w: %w", err, ErrInvalidRequest)
	}
	if err := CheckName(action); err != nil {
		return nil, fmt.Errorf("action: %w: %w", err, ErrInvalidRequest)
	}
	if err := filter.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidRequest)
	}
	ddl := c.ddls[agent]
	if ddl == nil {
		return nil, nil
	}
	act := ddl.Action(action)
	if act == nil {
		return nil, fmt.Errorf("agent %s has no action %s (it has %v): %w", agent, action, ddl.ActionNames(), ErrUnknownAction)
	}
	if _, err := act.ValidateInputs(data); err != nil {
		return nil, fmt.Errorf("%s#%s: %w: %w", agent, action, err, ErrInvalidRequest)
	}
	return act, nil
}

// timeoutFor is how long to wait for replies to agent's action when the
// caller does not say: the DDL's timeout plus the discovery timeout, as
// MCollective waits.
func (c *Client) timeoutFor(agent string, discovery time.Duration) time.Duration {
	t := 10 * time.Second
	if d := c.ddls[agent]; d != nil {
		t = d.TimeoutDuration()
	}
	return t + discovery
}

// collect reads w until remaining reports 0, deadline passes or stop is
// closed (a nil stop never is), calling got for each reply.
func collect(w *waiter, deadline time.Time, stop <-chan struct{}, remaining func() int, got func(Received)) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	drain := func() {
		for _, r := range w.take() {
			got(r)
		}
	}
	for remaining() > 0 {
		select {
		case <-w.notify:
			drain()
		case <-timer.C:
			drain()
			return
		case <-stop:
			drain()
			return
		}
	}
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
