package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"fleetfeed/rpc"
)

// Options configure Dial. The zero value gives the defaults.
type Options struct {
	// HeartBeat is the STOMP heart-beat interval asked for in both
	// directions. Default 10s; negative disables heart-beats.
	HeartBeat time.Duration
	// ReconnectMin and ReconnectMax bound the exponential back-off
	// between reconnection attempts. Defaults 100ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
	// DialTimeout bounds one connection attempt after a connection was
	// lost, and the wait for a broker's receipt. Default 10s.
	DialTimeout time.Duration
	// Prefetch is how many messages a queue subscription may have
	// received and not yet settled: RabbitMQ's prefetch-count; on
	// go-stomp's server, the point where the connector stops reading that
	// subscription's connection. Default 32.
	Prefetch int
	// TopicBuffer is how many messages a topic subscription holds for a
	// consumer that has not read them yet; beyond that new messages are
	// dropped and counted in Stats.Dropped. Default 1024.
	TopicBuffer int
	// SendTimeout bounds how long a Send waits for room in go-stomp's
	// write queue before the connection is considered stuck and replaced.
	// Default 10s.
	SendTimeout time.Duration
	// Logger receives connection events (lost, re-established, dropped
	// messages); nil discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.HeartBeat == 0 {
		o.HeartBeat = 10 * time.Second
	}
	if o.HeartBeat < 0 {
		o.HeartBeat = 0
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 100 * time.Millisecond
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 30 * time.Second
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 32
	}
	if o.TopicBuffer <= 0 {
		o.TopicBuffer = 1024
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 10 * time.Second
	}
	o.Logger = orDiscard(o.Logger)
}

// Stats counts what a Conn has done since Dial.
type Stats struct {
	// Connected says whether every connection of the Conn is up, with its
	// subscriptions resubscribed.
	Connected bool
	// Reconnects counts connections re-established (and resubscribed)
	// after they were lost.
	Reconnects uint64
	// Sent counts messages handed to the broker by Send.
	Sent uint64
	// Received counts messages received from the broker.
	Received uint64
	// Dropped counts topic messages dropped because the subscriber's
	// buffer (Options.TopicBuffer) was full.
	Dropped uint64
	// Requeued counts queue messages the connector handed back to the
	// embedded broker by sending them again (see the package documentation).
	Requeued uint64
}

// Conn is an rpc.Connector over STOMP, to the embedded broker or to an
// external one (RabbitMQ's STOMP plugin, ActiveMQ). It reconnects by
// itself; see the package documentation.
type Conn struct {
	ep   endpoint
	opts Options
	log  *slog.Logger

	// stompd is true when the broker is go-stomp's server, whose ACK
	// handling is broken: queue subscriptions then get a connection each,
	// with ack:auto on the wire and acknowledgements kept by the Conn.
	stompd bool
	pub    *link // SENDs
	shared *link // subscriptions that share a connection; pub unless stompd

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool

	requeues sync.WaitGroup // requeue sends in flight

	reconnects, sent, received, dropped, requeued atomic.Uint64
}

var _ rpc.Connector = (*Conn)(nil)

// endpoint is a parsed stomp:// URL.
type endpoint struct {
	addr, login, passcode, vhost string
	redacted                     string
}

// parseURL reads stomp://login:passcode@host:port/vhost. The port defaults
// to 61613 and the virtual host, sent as the CONNECT "host" header, to "/"
// (RabbitMQ takes it as the vhost name; go-stomp's server ignores it).
func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("parse broker url: %w", err)
	}
	if u.Scheme != "stomp" && u.Scheme != "tcp" {
		return endpoint{}, fmt.Errorf("broker url %q: scheme must be stomp", u.Redacted())
	}
	if u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("broker url %q: no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "61613"
	}
	ep := endpoint{addr: net.JoinHostPort(u.Hostname(), port), vhost: "/", redacted: u.Redacted()}
	if u.User != nil {
		ep.login = u.User.Username()
		ep.passcode, _ = u.User.Password()
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		ep.vhost = p
	}
	return ep, nil
}

// Dial connects to the STOMP broker at rawURL
// (stomp://login:passcode@host:61613[/vhost]). It fails if the first
// connection cannot be made before ctx is done; after that the Conn
// reconnects by itself until Close.
func Dial(ctx context.Context, rawURL string, opts Options) (*Conn, error) {
	ep, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts.setDefaults()
	c := &Conn{
		ep:   ep,
		opts: opts,
		log:  opts.Logger.With("broker", ep.redacted),
		subs: make(map[*subscription]struct{}),
	}
	c.pub = newLink(c, "main", opts.HeartBeat, nil)
	c.pub.onConnect = func(s *session) { c.resubscribe(c.pub, s) }
	s, err := c.pub.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep.redacted, err)
	}
	c.shared = c.pub
	if strings.HasPrefix(s.sc.Server(), "stompd/") {
		c.stompd = true
		c.shared = newLink(c, "topics", opts.HeartBeat, nil)
		c.shared.onConnect = func(s *session) { c.resubscribe(c.shared, s) }
		c.shared.unsubscribeWait = stompdUnsubscribeWait
		if _, err := c.shared.open(ctx); err != nil {
			c.pub.close()
			return nil, fmt.Errorf("dial %s: %w", ep.redacted, err)
		}
	}
	return c, nil
}

// stompdUnsubscribeWait is how long go-stomp's client waits for the
// RECEIPT of an UNSUBSCRIBE that go-stomp's server never sends: as short
// as it allows (zero means for ever). The UNSUBSCRIBE frame itself is
// queued before the wait starts.
const stompdUnsubscribeWait = time.Millisecond

// ownReadBuffer is the receive buffer of a queue subscription's own
// connection to go-stomp's server: what the connector stops reading when
// the consumer stalls stays in the broker's queue, for other consumers,
// apart from what fits in the socket buffers.
const ownReadBuffer = 256 << 10

// resubscribe attaches, after a reconnection, every subscription that
// lives on l, and waits for the broker to confirm them.
func (c *Conn) resubscribe(l *link, s *session) {
	c.mu.Lock()
	var subs []*subscription
	for sub := range c.subs {
		if sub.link == l {
			subs = append(subs, sub)
		}
	}
	c.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	for _, sub := range subs {
		if err := sub.attach(s); err != nil {
			c.log.Info("stomp resubscribe failed", "destination", sub.dest, "err", err)
		}
	}
	if err := s.barrier(); err != nil {
		c.log.Info("stomp resubscribe not confirmed", "err", err)
	}
}

// Send publishes body to dest. While the connection is down it waits for
// the reconnection until ctx is done. It returns rpc.ErrClosed after
// Close, ctx's error, or the broker's error.
//
// A nil error means the message was written to the connection, not that
// the broker stored it: a message written just before the connection
// drops can be lost (at-most-once, like MCollective).
//
// SendOptions.TTL sets both "expires" (absolute, milliseconds since the
// epoch: the embedded broker and ActiveMQ) and "expiration" (relative
// milliseconds: RabbitMQ). Messages to "/queue/…" are marked
// "persistent:true" so that RabbitMQ keeps them across a restart.
func (c *Conn) Send(ctx context.Context, dest string, body []byte, opts rpc.SendOptions) error {
	if err := checkDestination(dest); err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("send to %s: %w", dest, rpc.ErrClosed)
	}
	if err := c.publish(ctx, dest, body, sendHeaders(dest, opts, time.Now())); err != nil {
		return fmt.Errorf("send to %s: %w", dest, err)
	}
	c.sent.Add(1)
	return nil
}

// publish sends on the publishing link, retrying on a new connection when
// the current one turns out to be gone.
func (c *Conn) publish(ctx context.Context, dest string, body []byte, hdr func(*frame.Frame) error) error {
	for {
		s, err := c.pub.current(ctx)
		if err != nil {
			return err
		}
		err = s.sc.Send(dest, "", body, hdr)
		if err == nil {
			return nil
		}
		if s.isDead() || isConnGone(err) || errors.Is(err, stomp.ErrMsgSendTimeout) {
			// Stuck or gone: replace the connection and try again.
			c.pub.lost(s)
			continue
		}
		return err
	}
}

// sendHeaders returns a go-stomp send option that sets the message's headers.
func sendHeaders(dest string, opts rpc.SendOptions, now time.Time) func(*frame.Frame) error {
	return func(f *frame.Frame) error {
		for k, v := range opts.Header {
			switch k {
			case frame.Destination, frame.ContentLength, frame.Receipt, frame.Transaction:
				continue
			}
			f.Header.Set(k, v)
		}
		if opts.TTL > 0 {
			f.Header.Set(HeaderExpires, strconv.FormatInt(now.Add(opts.TTL).UnixMilli(), 10))
			f.Header.Set(HeaderExpiration, strconv.FormatInt(max(opts.TTL.Milliseconds(), 1), 10))
		}
		if isQueue(dest) {
			f.Header.Set("persistent", "true")
		}
		return nil
	}
}

func isQueue(dest string) bool { return strings.HasPrefix(dest, "/queue/") }

func checkDestination(dest string) error {
	if !strings.HasPrefix(dest, "/queue/") && !strings.HasPrefix(dest, "/topic/") {
		return fmt.Errorf("destination %q: must start with /queue/ or /topic/", dest)
	}
	if len(dest) == len("/queue/") {
		return fmt.Errorf("destination %q: empty name", dest)
	}
	return nil
}

// isConnGone reports whether a go-stomp error means the connection is gone.
func isConnGone(err error) bool {
	return errors.Is(err, stomp.ErrAlreadyClosed) || errors.Is(err, stomp.ErrClosedUnexpectedly)
}

// Subscribe starts delivery of dest's messages on the returned
// subscription's channel. While the connection is down it waits for the
// reconnection until ctx is done. When it returns, the broker has
// registered the subscription (it waits up to Options.DialTimeout for the
// broker to confirm): a message sent afterwards, from any connection, is
// delivered to it.
//
// On a queue, mode AckClientIndividual leaves each message for the
// consumer to Ack (or Nack); messages not acknowledged are redelivered
// when the connection is lost. With AckAuto the connector acknowledges a
// queue message when the consumer takes it from the channel. Topic
// messages are never acknowledged (topics keep nothing), whatever the mode.
//
// It returns rpc.ErrClosed after Close, ctx's error, or the broker's error.
func (c *Conn) Subscribe(ctx context.Context, dest string, mode rpc.AckMode) (rpc.Subscription, error) {
	if err := checkDestination(dest); err != nil {
		return nil, err
	}
	sub := newSubscription(c, dest, mode)
	if c.stompd && sub.queue {
		// See the package documentation, "go-stomp's server".
		sub.emulate = true
		sub.link = newLink(c, dest, 0, func(s *session) {
			if err := sub.attach(s); err == nil {
				_ = s.barrier()
			}
		})
		sub.link.unsubscribeWait = stompdUnsubscribeWait
		sub.link.readBuffer = ownReadBuffer
	} else {
		sub.link = c.shared
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("subscribe to %s: %w", dest, rpc.ErrClosed)
	}
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	go sub.run()

	if sub.emulate {
		sub.link.openAsync()
		if _, err := sub.link.current(ctx); err != nil {
			sub.shutdown(false)
			sub.release()
			return nil, fmt.Errorf("subscribe to %s: %w", dest, err)
		}
		return sub, nil
	}
	for {
		s, err := sub.link.current(ctx)
		if err != nil {
			sub.shutdown(false)
			return nil, fmt.Errorf("subscribe to %s: %w", dest, err)
		}
		err = sub.attach(s)
		if err == nil {
			err = s.barrier()
		}
		if err == nil {
			return sub, nil
		}
		if s.isDead() || isConnGone(err) {
			// The reconnection resubscribes it; wait for that.
			sub.link.lost(s)
			continue
		}
		sub.shutdown(false)
		return nil, fmt.Errorf("subscribe to %s: %w", dest, err)
	}
}

// forget removes sub from the set resubscribed after a reconnection.
func (c *Conn) forget(sub *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, sub)
}

// requeue sends d's message back to its queue: the embedded broker
// forgot it when it was delivered (ack:auto), and the consumer never
// acknowledged it. Must be called with c.requeues incremented.
func (c *Conn) requeue(d *delivery, dest string) {
	defer c.requeues.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hdr := make(map[string]string, d.raw.Header.Len()+1)
	for i := d.raw.Header.Len() - 1; i >= 0; i-- {
		k, v := d.raw.Header.GetAt(i)
		switch k {
		case frame.MessageId, frame.Subscription, frame.Ack, frame.Id, frame.Destination, frame.ContentLength:
			continue
		}
		hdr[k] = v
	}
	hdr["redelivered"] = "true"
	if err := c.publish(ctx, dest, d.raw.Body, sendHeaders(dest, rpc.SendOptions{Header: hdr}, time.Now())); err != nil {
		c.log.Warn("could not requeue unacknowledged message; it is lost", "destination", dest, "err", err)
		return
	}
	c.requeued.Add(1)
}

// Close closes every subscription and disconnects; messages not
// acknowledged go back to their queues for other consumers. It is safe to
// call more than once; it returns nil or the error of a STOMP DISCONNECT.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	subs := c.subs
	c.subs = make(map[*subscription]struct{})
	c.mu.Unlock()

	for sub := range subs {
		sub.shutdown(true)
	}
	var errs []error
	for sub := range subs {
		if sub.emulate {
			errs = append(errs, sub.release())
		}
	}
	if c.shared != c.pub {
		errs = append(errs, c.shared.close())
	}
	// Requeues travel on pub: let them finish first.
	c.requeues.Wait()
	errs = append(errs, c.pub.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close stomp connection: %w", err)
	}
	return nil
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	connected := c.pub.connected() && c.shared.connected()
	c.mu.Lock()
	for sub := range c.subs {
		if sub.emulate && !sub.link.connected() {
			connected = false
		}
	}
	c.mu.Unlock()
	return Stats{
		Connected:  connected,
		Reconnects: c.reconnects.Load(),
		Sent:       c.sent.Load(),
		Received:   c.received.Load(),
		Dropped:    c.dropped.Load(),
		Requeued:   c.requeued.Load(),
	}
}
