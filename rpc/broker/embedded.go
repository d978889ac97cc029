package broker

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server"
)

// DefaultEmbeddedAddr is where the embedded broker listens unless told
// otherwise: loopback only, STOMP's usual port.
const DefaultEmbeddedAddr = "127.0.0.1:61613"

// EmbeddedConfig configures StartEmbedded. Users is required; everything
// else has a default.
type EmbeddedConfig struct {
	// Addr is the TCP address to listen on; DefaultEmbeddedAddr if empty.
	// Port 0 picks a free port (see Embedded.Addr).
	Addr string
	// Users maps each login to its passcode. A CONNECT with any other
	// login/passcode pair is refused.
	Users map[string]string
	// HeartBeat is the broker's heart-beat interval, and the shortest it
	// accepts from clients. Default 10s.
	HeartBeat time.Duration
	// SweepInterval is how often expired messages are removed from queues
	// nobody reads. Default 30s; negative disables the sweep (expired
	// messages are then only dropped when they reach a consumer).
	SweepInterval time.Duration
	// Logger receives the broker's (go-stomp's) log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock used for message expiry; time.Now if nil.
	Now func() time.Time
}

func (c *EmbeddedConfig) setDefaults() error {
	if c.Addr == "" {
		c.Addr = DefaultEmbeddedAddr
	}
	if len(c.Users) == 0 {
		return errors.New("embedded broker: no users configured")
	}
	for login := range c.Users {
		if login == "" {
			return errors.New("embedded broker: empty login")
		}
	}
	if c.HeartBeat <= 0 {
		c.HeartBeat = 10 * time.Second
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = 30 * time.Second
	}
	return nil
}

// Embedded is go-stomp's STOMP server running inside the process, with
// login checking, a queue storage that expires messages (see
// HeaderExpires), and a filter that refuses subscriptions with an ack
// mode other than "auto", which go-stomp's server mishandles (see the
// package documentation).
//
// go-stomp's server (v3.1.3) has no way to stop its request loop: Close
// closes the listener and every client connection, and empties the queues,
// but leaves one idle goroutine per started broker.
type Embedded struct {
	cfg     EmbeddedConfig
	ln      *trackingListener
	storage *expiringStorage

	closeOnce sync.Once
}

// EmbeddedStats is a snapshot of the embedded broker's queues.
type EmbeddedStats struct {
	// Queued is the number of messages waiting in queues.
	Queued int
	// Expired counts messages dropped because their "expires" time passed.
	Expired uint64
	// Clients is the number of open client connections.
	Clients int
}

// StartEmbedded starts a STOMP broker listening on cfg.Addr. It returns
// once the listener is bound; the error says why it could not be.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	e := &Embedded{
		cfg:     cfg,
		ln:      newTrackingListener(l),
		storage: newExpiringStorage(cfg.Now, cfg.SweepInterval),
	}
	e.storage.Start()
	srv := &server.Server{
		Addr:          l.Addr().String(),
		Authenticator: users(cfg.Users),
		QueueStorage:  e.storage,
		HeartBeat:     cfg.HeartBeat,
		Log:           newStompLogger(cfg.Logger),
	}
	// Serve never returns: go-stomp's request loop has no exit. Its
	// accept loop ends when the listener is closed.
	go func() { _ = srv.Serve(e.ln) }()
	return e, nil
}

// Addr returns the address the broker listens on, with the real port when
// the configured one was 0.
func (e *Embedded) Addr() string {
	return e.ln.Addr().String()
}

// URL returns a stomp:// URL for Dial that connects to this broker as
// login, with that login's passcode.
func (e *Embedded) URL(login string) string {
	u := url.URL{Scheme: "stomp", Host: e.Addr()}
	if pass, ok := e.cfg.Users[login]; ok {
		u.User = url.UserPassword(login, pass)
	}
	return u.String()
}

// Stats returns a snapshot of the broker's queues and connections.
func (e *Embedded) Stats() EmbeddedStats {
	queued, expired := e.storage.stats()
	return EmbeddedStats{Queued: queued, Expired: expired, Clients: e.ln.count()}
}

// Close stops accepting connections, closes every client connection and
// drops every queued message. It is safe to call more than once.
func (e *Embedded) Close() error {
	var err error
	e.closeOnce.Do(func() {
		err = e.ln.Close()
		e.storage.Stop()
	})
	if err != nil {
		return fmt.Errorf("close embedded broker: %w", err)
	}
	return nil
}

// users is a server.Authenticator over a login → passcode map.
type users map[string]string

func (u users) Authenticate(login, passcode string) bool {
	want, ok := u[login]
	if !ok {
		// Compare anyway so a wrong login costs as much as a wrong passcode.
		want = "\x00unknown login\x00"
	}
	eq := subtle.ConstantTimeCompare([]byte(passcode), []byte(want)) == 1
	return ok && eq
}

// trackingListener remembers the connections it accepted so that Close can
// close them (go-stomp's server does not).
type trackingListener struct {
	net.Listener

	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	closed bool
}

func newTrackingListener(l net.Listener) *trackingListener {
	return &trackingListener{Listener: l, conns: make(map[*serverConn]struct{})}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	sc := &serverConn{Conn: c, l: l, in: pr}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[sc] = struct{}{}
	go sc.filter(pw)
	return sc, nil
}

// Close closes the listener and every accepted connection.
func (l *trackingListener) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = make(map[*serverConn]struct{})
	l.mu.Unlock()
	err := l.Listener.Close()
	for c := range conns {
		c.in.Close()
		c.Conn.Close()
	}
	return err
}

func (l *trackingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *trackingListener) forget(c *serverConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// serverConn is one client connection as go-stomp's server sees it: the
// frames the client sends pass through filter first.
type serverConn struct {
	net.Conn
	l  *trackingListener
	in *io.PipeReader // filtered frames from the client

	wmu sync.Mutex // serializes go-stomp's writes and refuse's
}

// errRefused ends a connection whose client asked for what the broker
// refuses.
var errRefused = errors.New("refused by the embedded broker")

// filter copies the client's frames to go-stomp's server, refusing a
// SUBSCRIBE whose ack mode is not "auto". go-stomp's server (v3.1.3)
// mishandles the others: with ack:client its second delivery panics
// ("subscription is already in a subscription list"), which would take
// the whole process down; with ack:client-individual no ACK ever matches
// and the subscription stops after one message. broker.Conn never asks
// for them (see the package documentation).
func (c *serverConn) filter(pw *io.PipeWriter) {
	r := frame.NewReader(c.Conn)
	w := frame.NewWriter(pw)
	for {
		f, err := r.Read()
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if f != nil && f.Command == frame.SUBSCRIBE {
			if ack := f.Header.Get(frame.Ack); ack != "" && ack != frame.AckAuto {
				c.refuse(fmt.Sprintf("ack:%s is not supported by this broker, only ack:auto", ack))
				pw.CloseWithError(errRefused)
				return
			}
		}
		// A nil frame is a heart-beat; the writer passes it on as one.
		if err := w.Write(f); err != nil {
			return
		}
	}
}

// refuse sends the client an ERROR frame and closes the connection.
func (c *serverConn) refuse(msg string) {
	c.wmu.Lock()
	_ = frame.NewWriter(c.Conn).Write(frame.New(frame.ERROR, frame.Message, msg))
	c.wmu.Unlock()
	c.Close()
}

func (c *serverConn) Read(p []byte) (int, error) { return c.in.Read(p) }

func (c *serverConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

func (c *serverConn) Close() error {
	c.l.forget(c)
	c.in.Close()
	return c.Conn.Close()
}
