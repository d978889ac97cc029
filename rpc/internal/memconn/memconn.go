// Package memconn is an in-memory stand-in for a STOMP broker, for unit
// tests of code written against rpc.Connector. It is a test double: it
// has no network, no acknowledgements and no persistence. Queues hold a
// message until one subscriber takes it (or its TTL passes, measured with
// Broker.Now); topics copy a message to every current subscriber and drop
// it when there is none, as go-stomp's server does.
package memconn

import (
	"context"
	"strings"
	"sync"
	"time"

	"fleetfeed/rpc"
)

// Broker holds the destinations shared by its connections.
type Broker struct {
	// Now is the clock queue expiry is measured with; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	subs   map[string][]*sub    // live subscriptions per destination
	stored map[string][]*stored // undelivered queue messages
	next   map[string]int       // round-robin position per queue
	sent   map[string]int       // messages ever sent per destination
}

type stored struct {
	msg     *rpc.Message
	expires time.Time // zero: never
}

// New returns an empty broker.
func New() *Broker {
	return &Broker{subs: map[string][]*sub{}, stored: map[string][]*stored{}, next: map[string]int{}, sent: map[string]int{}}
}

func (b *Broker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Connect returns a new connection to b.
func (b *Broker) Connect() *Conn { return &Conn{b: b} }

// Pending returns how many messages wait in queue dest for a subscriber.
func (b *Broker) Pending(dest string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.stored[dest])
}

// Sent returns how many messages have been sent to dest. Send is
// synchronous, so a test can count replies that were not sent without
// waiting for them.
func (b *Broker) Sent(dest string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent[dest]
}

// Subscribers returns how many subscriptions dest has.
func (b *Broker) Subscribers(dest string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[dest])
}

func isQueue(dest string) bool { return strings.HasPrefix(dest, "/queue") }

func (b *Broker) publish(dest string, body []byte, opts rpc.SendOptions) {
	header := map[string]string{}
	for k, v := range opts.Header {
		header[k] = v
	}
	msg := rpc.NewMessage(dest, header, append([]byte(nil), body...), nil, nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent[dest]++
	subs := b.subs[dest]
	if !isQueue(dest) {
		for _, s := range subs {
			s.push(msg)
		}
		return
	}
	if len(subs) == 0 {
		st := &stored{msg: msg}
		if opts.TTL > 0 {
			st.expires = b.now().Add(opts.TTL)
		}
		b.stored[dest] = append(b.stored[dest], st)
		return
	}
	i := b.next[dest] % len(subs)
	b.next[dest] = i + 1
	subs[i].push(msg)
}

// Conn is one connection: an rpc.Connector.
type Conn struct {
	b      *Broker
	mu     sync.Mutex
	closed bool
	subs   []*sub
}

var _ rpc.Connector = (*Conn)(nil)

// Send publishes body to dest. It returns rpc.ErrClosed after Close.
func (c *Conn) Send(ctx context.Context, dest string, body []byte, opts rpc.SendOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return rpc.ErrClosed
	}
	c.b.publish(dest, body, opts)
	return nil
}

// Subscribe starts delivery of dest's messages; stored queue messages
// that have not expired are delivered first. It returns rpc.ErrClosed
// after Close.
func (c *Conn) Subscribe(ctx context.Context, dest string, mode rpc.AckMode) (rpc.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, rpc.ErrClosed
	}
	s := newSub(c, dest)
	c.subs = append(c.subs, s)
	b := c.b
	b.mu.Lock()
	b.subs[dest] = append(b.subs[dest], s)
	if isQueue(dest) {
		now := b.now()
		for _, st := range b.stored[dest] {
			if st.expires.IsZero() || now.Before(st.expires) {
				s.push(st.msg)
			}
		}
		delete(b.stored, dest)
	}
	b.mu.Unlock()
	go s.pump()
	return s, nil
}

// Close ends every subscription of c; it is safe to call twice.
func (c *Conn) Close() error {
	c.mu.Lock()
	subs := c.subs
	c.subs, c.closed = nil, true
	c.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	return nil
}

// sub buffers without bound so that a publisher never blocks on a slow
// subscriber (and tests never deadlock on a full channel).
type sub struct {
	conn *Conn
	dest string
	c    chan *rpc.Message

	mu   sync.Mutex
	cond *sync.Cond
	buf  []*rpc.Message
	done bool
	stop chan struct{}
}

func newSub(c *Conn, dest string) *sub {
	s := &sub{conn: c, dest: dest, c: make(chan *rpc.Message), stop: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *sub) C() <-chan *rpc.Message { return s.c }

func (s *sub) push(m *rpc.Message) {
	s.mu.Lock()
	if !s.done {
		s.buf = append(s.buf, m)
		s.cond.Signal()
	}
	s.mu.Unlock()
}

func (s *sub) pump() {
	defer close(s.c)
	for {
		s.mu.Lock()
		for len(s.buf) == 0 && !s.done {
			s.cond.Wait()
		}
		if s.done {
			s.mu.Unlock()
			return
		}
		m := s.buf[0]
		s.buf = s.buf[1:]
		s.mu.Unlock()
		select {
		case s.c <- m:
		case <-s.stop:
			return
		}
	}
}

// Unsubscribe stops delivery and closes C; queue messages it had not
// delivered go back to the queue.
func (s *sub) Unsubscribe() error {
	b := s.conn.b
	b.mu.Lock()
	subs := b.subs[s.dest]
	for i, x := range subs {
		if x == s {
			b.subs[s.dest] = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		b.mu.Unlock()
		return nil
	}
	s.done = true
	left := s.buf
	s.buf = nil
	s.cond.Signal()
	s.mu.Unlock()
	if isQueue(s.dest) {
		for _, m := range left {
			b.stored[s.dest] = append(b.stored[s.dest], &stored{msg: m})
		}
	}
	b.mu.Unlock()
	close(s.stop)
	return nil
}
