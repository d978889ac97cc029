package broker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"

	"fleetfeed/rpc"
)

// link is one STOMP connection that replaces itself when it fails: it
// redials with capped exponential back-off and calls onConnect (which
// resubscribes) before Send or Subscribe may use the new session.
type link struct {
	c         *Conn
	name      string
	heartBeat time.Duration // 0: none
	// unsubscribeWait is how long go-stomp's Unsubscribe waits for the
	// RECEIPT of its UNSUBSCRIBE. go-stomp's server never sends one.
	unsubscribeWait time.Duration
	// readBuffer, if positive, is the socket's receive buffer: it bounds
	// what a stalled consumer's connection takes from the broker.
	readBuffer int
	onConnect  func(*session)

	mu         sync.Mutex
	sess       *session      // nil while disconnected
	ready      chan struct{} // closed while sess is usable
	gen        uint64        // generation of the latest session
	closed     bool
	done       chan struct{} // closed by close
	supervised chan struct{} // closed when supervise returns
	started    bool
}

func newLink(c *Conn, name string, heartBeat time.Duration, onConnect func(*session)) *link {
	return &link{
		c:               c,
		name:            name,
		heartBeat:       heartBeat,
		unsubscribeWait: c.opts.DialTimeout,
		onConnect:       onConnect,
		ready:           make(chan struct{}),
		done:            make(chan struct{}),
		supervised:      make(chan struct{}),
	}
}

// open connects once, returning the error if that fails, and then keeps
// the link up until close.
func (l *link) open(ctx context.Context) (*session, error) {
	s, err := l.c.connect(ctx, 1, l)
	if err != nil {
		return nil, err
	}
	if l.onConnect != nil {
		l.onConnect(s)
	}
	l.mu.Lock()
	l.gen, l.sess, l.started = 1, s, true
	close(l.ready)
	l.mu.Unlock()
	go l.supervise()
	return s, nil
}

// openAsync starts the link without waiting for the first connection;
// current waits for it.
func (l *link) openAsync() {
	l.mu.Lock()
	l.started = true
	l.mu.Unlock()
	go l.supervise()
}

func (l *link) supervise() {
	defer close(l.supervised)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		l.mu.Lock()
		old := l.sess
		l.mu.Unlock()
		if old != nil {
			select {
			case <-old.nc.dead:
			case <-l.done:
				return
			}
			l.lost(old)
			l.c.log.Info("stomp connection lost; reconnecting", "link", l.name)
		}

		backoff := l.c.opts.ReconnectMin
		var s *session
		for attempt := 0; s == nil; attempt++ {
			delay := jitter(backoff)
			if attempt == 0 && old == nil {
				delay = 0
			}
			select {
			case <-l.done:
				return
			case <-time.After(delay):
			}
			l.mu.Lock()
			gen := l.gen + 1
			l.mu.Unlock()
			dctx, dcancel := context.WithTimeout(ctx, l.c.opts.DialTimeout)
			var err error
			s, err = l.c.connect(dctx, gen, l)
			dcancel()
			if err != nil {
				l.c.log.Debug("stomp connect failed", "link", l.name, "err", err, "retry_in", backoff)
				backoff = min(2*backoff, l.c.opts.ReconnectMax)
			}
		}
		l.mu.Lock()
		l.gen = s.gen
		l.mu.Unlock()
		if l.onConnect != nil {
			l.onConnect(s)
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			s.kill()
			return
		}
		l.sess = s
		close(l.ready)
		l.mu.Unlock()
		if old != nil {
			l.c.reconnects.Add(1)
			l.c.log.Debug("stomp connection re-established", "link", l.name)
		}
	}
}

// lost marks s as no longer usable, so that current waits for its
// replacement.
func (l *link) lost(s *session) {
	s.kill()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess == s {
		l.sess = nil
		l.ready = make(chan struct{})
	}
}

// current returns the live session, waiting for a reconnection if there
// is none. It returns rpc.ErrClosed once the link is closed, or ctx's error.
func (l *link) current(ctx context.Context) (*session, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, rpc.ErrClosed
		}
		s, ready := l.sess, l.ready
		l.mu.Unlock()
		if s != nil {
			if !s.isDead() {
				return s, nil
			}
			l.lost(s)
			continue
		}
		select {
		case <-ready:
		case <-l.done:
			return nil, rpc.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *link) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess != nil && !l.sess.isDead()
}

// close disconnects (a STOMP DISCONNECT, so the broker requeues what was
// not acknowledged) and stops reconnecting. It returns the DISCONNECT's
// error, if any.
func (l *link) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	s, started := l.sess, l.started
	close(l.done)
	l.mu.Unlock()
	var err error
	if s != nil && !s.isDead() {
		err = s.sc.Disconnect()
		if isConnGone(err) {
			err = nil
		}
	}
	if s != nil {
		s.kill()
	}
	if started {
		<-l.supervised
	}
	return err
}

// jitter spreads reconnection attempts of many clients by ±20%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// connect makes one connection attempt for l.
func (c *Conn) connect(ctx context.Context, gen uint64, l *link) (*session, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.ep.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok && l.readBuffer > 0 {
		_ = tc.SetReadBuffer(l.readBuffer)
	}
	wc := newWatchedConn(nc)
	// go-stomp only honours a deadline while it waits for CONNECTED;
	// closing the socket covers cancellation too.
	stop := context.AfterFunc(ctx, wc.kill)
	defer stop()
	sc, err := stomp.ConnectWithContext(ctx, wc,
		stomp.ConnOpt.Host(c.ep.vhost),
		stomp.ConnOpt.Login(c.ep.login, c.ep.passcode),
		stomp.ConnOpt.HeartBeat(l.heartBeat, l.heartBeat),
		stomp.ConnOpt.MsgSendTimeout(c.opts.SendTimeout),
		stomp.ConnOpt.RcvReceiptTimeout(c.opts.DialTimeout),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(l.unsubscribeWait),
		stomp.ConnOpt.DisconnectReceiptTimeout(5*time.Second),
		stomp.ConnOpt.Logger(newStompLogger(c.opts.Logger)),
	)
	if err != nil {
		wc.kill()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stomp connect: %w", ctx.Err())
		}
		return nil, fmt.Errorf("stomp connect: %w", err)
	}
	return &session{sc: sc, nc: wc, gen: gen}, nil
}

// session is one STOMP connection of a link.
type session struct {
	sc  *stomp.Conn
	nc  *watchedConn
	gen uint64
}

func (s *session) isDead() bool {
	select {
	case <-s.nc.dead:
		return true
	default:
		return false
	}
}

func (s *session) kill() { s.nc.kill() }

// barrierDest is a topic nobody subscribes to: a SEND with a receipt there
// tells us the broker has processed every frame sent before it on this
// connection (SUBSCRIBEs in particular).
const barrierDest = "/topic/fleetfeed.barrier"

func (s *session) barrier() error {
	if err := s.sc.Send(barrierDest, "", nil, stomp.SendOpt.Receipt); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	return nil
}

// ack sends an ACK (or NACK) for m, which s delivered.
func (s *session) ack(m *stomp.Message, positive bool) error {
	if s.isDead() {
		return rpc.ErrClosed
	}
	var err error
	if positive {
		err = s.sc.Ack(m)
	} else {
		err = s.sc.Nack(m)
	}
	switch {
	case err == nil:
		return nil
	case s.isDead() || isConnGone(err):
		return rpc.ErrClosed
	default:
		return err
	}
}

// watchedConn is the network connection under a session. It closes dead
// as soon as a read or write fails or the connection is closed, which is
// how a link learns that its session is gone (go-stomp has no callback,
// and its own shutdown can hang on a receipt channel nobody reads).
type watchedConn struct {
	net.Conn
	once sync.Once
	dead chan struct{}
}

func newWatchedConn(c net.Conn) *watchedConn {
	return &watchedConn{Conn: c, dead: make(chan struct{})}
}

func (w *watchedConn) kill() {
	w.once.Do(func() {
		close(w.dead)
		w.Conn.Close()
	})
}

func (w *watchedConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if err != nil {
		w.kill()
	}
	return n, err
}

func (w *watchedConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if err != nil {
		w.kill()
	}
	return n, err
}

func (w *watchedConn) Close() error {
	w.kill()
	return nil
}
