package rpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Call is one RPC as a caller asks for it: what to run, on which nodes,
// and how to send it. The zero value of every option is its default.
type Call struct {
	Agent  string
	Action string
	Data   map[string]any
	Filter *Filter
	// Via names who asks through the client's caller id ("rule=lb",
	// "user=bob via web"), for the audit log only: it is not sent.
	Via string

	// Targets, when not nil, are the nodes to ask: no discovery.
	Targets []string
	// Discoverer finds the nodes; nil means broadcast discovery. Whatever
	// the method, a filter made only of literal identities (-I web1 -I
	// web2) is taken as the list of nodes, without discovery, unless the
	// method is a NodeList (the list is then filtered by those names).
	Discoverer Discoverer
	// DiscoveryTimeout bounds broadcast discovery and is added to the
	// default Timeout; DefaultDiscoveryTimeout if zero.
	DiscoveryTimeout time.Duration

	// Limit keeps only some of the discovered nodes: LimitMethod says
	// which (random by default, or the first ones in discovery order).
	Limit       Size
	LimitMethod LimitMethod
	// LimitSeed seeds the random choice; 0 picks a seed.
	LimitSeed int64
	// Batch sends to that many nodes at a time, waiting for each batch's
	// replies (or its Timeout) and BatchSleep before the next. Zero
	// sends to all at once.
	Batch      Size
	BatchSleep time.Duration

	// TTL is how long each request stays valid after it is sent: a node
	// that is down and comes back within it still runs the request; one
	// that comes back later never does. DefaultTTL if zero.
	TTL time.Duration
	// Timeout is how long to wait for a batch's replies; zero means the
	// DDL's timeout plus the discovery timeout.
	Timeout time.Duration

	// Observers, called from the goroutine that runs Do.
	OnDiscovered func(method string, nodes []string)
	OnBatch      func(batch, batches int, nodes []string)
	OnReply      func(Received)
}

// Result is what a call did.
type Result struct {
	Agent  string
	Action string
	// Replies are the replies of the nodes asked, one per node, sorted by
	// sender.
	Replies []Received
	Stats   Stats
}

// Stats describe a call, as MCollective's RPC statistics do.
type Stats struct {
	RequestID string
	// Method is the discovery method: "direct" (identities given),
	// "broadcast", "inventory", "flatfile", "stdin" or "targets".
	Method string
	// Discovered are the nodes discovery found; Targets those asked
	// (after --limit), both in discovery order.
	Discovered []string
	Targets    []string
	// Responded counts the nodes that answered; OK and Failed split them
	// by status.
	Responded int
	OK        int
	Failed    int
	// NoResponse are the nodes asked that did not answer, sorted.
	NoResponse []string
	// Unexpected are nodes that answered without being asked, sorted.
	Unexpected []string
	// NotSent are targets never asked because the call was cancelled
	// between batches, in order.
	NotSent []string
	// Batches is the number of batches (1 without batching); BatchesRun
	// how many were sent.
	Batches    int
	BatchesRun int
	// Cancelled says the caller's context ended before every batch ran.
	Cancelled bool

	Start time.Time
	// DiscoveryTime is spent discovering; PublishTime sending requests;
	// RequestTime from the first request to the last reply or timeout
	// (batch sleeps included); TotalTime all of it.
	DiscoveryTime time.Duration
	PublishTime   time.Duration
	RequestTime   time.Duration
	TotalTime     time.Duration
}

// AllOK reports whether every node asked answered with status OK.
func (s *Stats) AllOK() bool {
	return len(s.NoResponse) == 0 && s.Failed == 0 && len(s.NotSent) == 0 && !s.Cancelled
}

// Discovery is what Discover found.
type Discovery struct {
	Method string
	// Nodes are the nodes found, in the method's order.
	Nodes   []string
	Elapsed time.Duration
}

// Discover finds the nodes call would go to (before its Limit): its
// Targets, its literal identities, or what its Discoverer finds. It
// returns ErrInvalidRequest for a bad filter, ErrDiscoveryFilter, or the
// discoverer's error.
func (c *Client) Discover(ctx context.Context, call Call) (*Discovery, error) {
	start := time.Now()
	if err := call.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidRequest)
	}
	if call.Targets != nil {
		return &Discovery{Method: "targets", Nodes: slices.Clone(call.Targets)}, nil
	}
	d := call.Discoverer
	if d == nil {
		d = &BroadcastDiscovery{Client: c, Timeout: call.DiscoveryTimeout}
	}
	if _, isList := d.(*NodeList); !isList {
		if ids, ok := call.Filter.Identities(); ok {
			var nodes []string
			for _, id := range ids {
				if !slices.Contains(nodes, id) {
					nodes = append(nodes, id)
				}
			}
			return &Discovery{Method: "direct", Nodes: nodes, Elapsed: time.Since(start)}, nil
		}
	}
	nodes, err := d.Discover(ctx, call.Agent, call.Filter)
	if err != nil {
		return nil, err
	}
	return &Discovery{Method: d.Method(), Nodes: nodes, Elapsed: time.Since(start)}, nil
}

// Do runs call: it validates it against the agent's DDL, discovers the
// nodes, applies the limit, and sends one signed request per node to the
// node's queue, batch by batch, collecting the replies. It returns an
// error, with nothing sent, for an invalid call (ErrInvalidRequest,
// ErrUnknownAction), a failed discovery, or no node found (ErrNoNodes);
// after that it returns a Result whatever the nodes answered. When ctx
// ends, the batch being sent is still sent whole and its replies
// collected (until its Timeout); later batches are not sent, and Result
// says so (Stats.Cancelled, Stats.NotSent) with a nil error. A failure to
// send returns the Result so far with the error.
func (c *Client) Do(ctx context.Context, call Call) (*Result, error) {
	start := time.Now()
	res, err := c.do(ctx, call)
	c.auditDo(ctx, start, call, res, err)
	return res, err
}

func (c *Client) do(ctx context.Context, call Call) (*Result, error) {
	start := time.Now()
	if _, err := c.validate(call.Agent, call.Action, call.Data, call.Filter); err != nil {
		return nil, err
	}
	disc, err := c.Discover(ctx, call)
	if err != nil {
		return nil, err
	}
	targets, err := call.Limit.Pick(disc.Nodes, call.LimitMethod, call.LimitSeed)
	if err != nil {
		return nil, err
	}
	if call.OnDiscovered != nil {
		call.OnDiscovered(disc.Method, disc.Nodes)
	}
	res := &Result{Agent: call.Agent, Action: call.Action}
	st := &res.Stats
	st.Start, st.Method, st.Discovered, st.Targets = start, disc.Method, disc.Nodes, targets
	st.DiscoveryTime = disc.Elapsed
	if len(targets) == 0 {
		st.TotalTime = time.Since(start)
		return res, fmt.Errorf("%s discovery: %w", disc.Method, ErrNoNodes)
	}
	discTimeout := call.DiscoveryTimeout
	if discTimeout <= 0 {
		discTimeout = DefaultDiscoveryTimeout
	}
	timeout := call.Timeout
	if timeout <= 0 {
		timeout = c.timeoutFor(call.Agent, discTimeout)
	}
	err = c.run(ctx, call, res, timeout)
	st.TotalTime = time.Since(start)
	return res, err
}

// run sends the batches and collects their replies into res.
func (c *Client) run(ctx context.Context, call Call, res *Result, timeout time.Duration) error {
	st := &res.Stats
	st.RequestID = NewRequestID()
	w, err := c.register(st.RequestID)
	if err != nil {
		return err
	}
	defer c.unregister(st.RequestID)
	batches := call.Batch.split(st.Targets)
	st.Batches = len(batches)
	byNode := map[string]Received{}
	asked := map[string]bool{}
	var mu sync.Mutex // sentAt is written by sendDirect while got reads it
	sentAt := map[string]time.Time{}
	got := func(r Received) {
		if _, dup := byNode[r.SenderID]; dup {
			return
		}
		mu.Lock()
		t, ok := sentAt[r.SenderID]
		mu.Unlock()
		if ok {
			r.Elapsed = r.At.Sub(t)
		}
		byNode[r.SenderID] = r
		if call.OnReply != nil {
			call.OnReply(r)
		}
	}
	requestStart := time.Now()
	defer func() { st.RequestTime = time.Since(requestStart) }()
	for i, batch := range batches {
		if i > 0 {
			if ctx.Err() == nil && call.BatchSleep > 0 {
				t := time.NewTimer(call.BatchSleep)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			if ctx.Err() != nil {
				for _, b := range batches[i:] {
					st.NotSent = append(st.NotSent, b...)
				}
				st.Cancelled = true
				break
			}
		}
		if call.OnBatch != nil {
			call.OnBatch(i+1, len(batches), batch)
		}
		for _, n := range batch {
			asked[n] = true
		}
		// The batch is sent whole even if ctx ends meanwhile.
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
		pubStart := time.Now()
		err := c.sendDirect(sendCtx, st.RequestID, call.Agent, call.Action, call.Data, call.TTL, "", batch,
			func(node string, at time.Time) {
				mu.Lock()
				sentAt[node] = at
				mu.Unlock()
			})
		cancel()
		st.PublishTime += time.Since(pubStart)
		st.BatchesRun++
		if err != nil {
			c.collectInto(res, byNode, asked)
			return fmt.Errorf("send: %w", err)
		}
		waiting := func() int {
			n := 0
			for _, node := range batch {
				if _, ok := byNode[node]; !ok {
					n++
				}
			}
			return n
		}
		collect(w, time.Now().Add(timeout), nil, waiting, got)
	}
	for _, r := range w.take() { // anything that came with the last one
		got(r)
	}
	c.collectInto(res, byNode, asked)
	if ctx.Err() != nil && st.BatchesRun < st.Batches {
		st.Cancelled = true
	}
	return nil
}

// collectInto fills res's replies and counts from what was received.
func (c *Client) collectInto(res *Result, byNode map[string]Received, asked map[string]bool) {
	st := &res.Stats
	res.Replies = []Received{}
	st.OK, st.Failed, st.NoResponse, st.Unexpected = 0, 0, nil, nil
	for node, r := range byNode {
		if !asked[node] {
			st.Unexpected = append(st.Unexpected, node)
			continue
		}
		res.Replies = append(res.Replies, r)
		if r.StatusCode == StatusOK {
			st.OK++
		} else {
			st.Failed++
		}
	}
	for node := range asked {
		if _, ok := byNode[node]; !ok {
			st.NoResponse = append(st.NoResponse, node)
		}
	}
	st.Responded = st.OK + st.Failed
	slices.SortFunc(res.Replies, func(a, b Received) int { return strings.Compare(a.SenderID, b.SenderID) })
	slices.Sort(st.NoResponse)
	slices.Sort(st.Unexpected)
}

// IsUsage reports whether err means the call itself was wrong (invalid
// inputs or filter, unknown action, a filter the discovery method cannot
// apply): the caller should fix the call, not retry it.
func IsUsage(err error) bool {
	return errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnknownAction) || errors.Is(err, ErrDiscoveryFilter)
}
