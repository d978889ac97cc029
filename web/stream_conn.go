package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// replayPage is how many posts a resume reads from the store at a time.
const replayPage = 200

// queueFactor times StreamConfig.Buffer is how many notices a client's
// queue holds before the client is too slow.
const queueFactor = 8

// errTooSlow ends a connection whose client fell behind.
var errTooSlow = errors.New("too slow")

// streamConn is one websocket client. It has two goroutines: readLoop
// reads the client's commands, and run is the only writer: it takes
// notices from the hub, commands from readLoop and ticks of the ping
// timer, one at a time, so replays, live events and answers go out in
// one order.
type streamConn struct {
	s    *Server
	cfg  StreamConfig
	ws   *websocket.Conn
	bc   *batchConn
	sub  *feed.Subscription
	ctx  context.Context
	stop context.CancelFunc

	since   int64 // since_id given on connect
	streams []*stream
	// pending is the client's queue: notices taken from the hub and not
	// yet sent, during a replay or a burst; spare is its other half.
	pending, spare []feed.Notice

	cmds     chan command
	done     chan struct{} // closed when run returns
	readDone chan struct{} // closed when readLoop returns
}

func newStreamConn(s *Server, cfg StreamConfig, ws *websocket.Conn, bc *batchConn, since int64) *streamConn {
	ctx, stop := context.WithCancel(context.Background())
	return &streamConn{
		s: s, cfg: cfg, ws: ws, bc: bc, ctx: ctx, stop: stop, since: since,
		// Subscribe before anything is read from the store: a resume
		// relies on every post committed from now on reaching sub.
		sub:      s.Pipeline.Hub.Subscribe(cfg.Buffer),
		cmds:     make(chan command, 4),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
}

// run serves the connection until it ends, subscribing first to the
// streams named on connect.
func (c *streamConn) run(initial []string) {
	defer func() {
		if v := recover(); v != nil {
			c.s.Logger.Error("stream panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	defer func() {
		c.sub.Close()
		c.stop()
		close(c.done)
		c.ws.Close()
		<-c.readDone
		c.s.streams.remove(c)
	}()
	go c.readLoop()

	err := c.batch(func() error {
		for _, name := range initial {
			if err := c.subscribe(command{Type: "subscribe", Stream: name}); err != nil {
				return err
			}
		}
		return nil
	})
	ping := time.NewTicker(c.cfg.PingInterval)
	defer ping.Stop()
	for err == nil {
		select {
		case n, ok := <-c.sub.C():
			if !ok {
				err = errTooSlow // only the hub closes it while we run
				break
			}
			c.pending = append(c.pending, n)
			// A notice rarely comes alone (an ingest batch publishes
			// several): let the publisher go on first, to send them all
			// in one write.
			runtime.Gosched()
			err = c.batch(c.drain)
		case cmd := <-c.cmds:
			err = c.batch(func() error { return c.handle(cmd) })
		case <-ping.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.WriteTimeout))
		case <-c.readDone:
			return
		}
	}
	if errors.Is(err, errTooSlow) {
		c.s.Logger.Info("stream client too slow: disconnected", "remote", c.ws.RemoteAddr().String())
		c.farewell()
	}
}

// batch runs f with the connection's writes held back, then sends them in
// as few system calls as the buffer allows.
func (c *streamConn) batch(f func() error) error {
	c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	c.bc.hold()
	err := f()
	if ferr := c.bc.flush(); err == nil {
		err = ferr
	}
	return err
}

// drain sends the notices queued for the client, taking those waiting in
// the hub as it goes, until none is left: a burst goes out in few writes,
// and the hub's buffer empties faster than the network is written to.
func (c *streamConn) drain() error {
	for {
		if err := c.stash(); err != nil {
			return err
		}
		if len(c.pending) == 0 {
			break
		}
		queue := c.pending
		c.pending = c.spare[:0]
		for i, n := range queue {
			if err := c.deliver(n); err != nil {
				return err
			}
			if i%64 == 63 {
				if err := c.stash(); err != nil {
					return err
				}
			}
		}
		clear(queue) // let the posts go
		c.spare = queue[:0]
	}
	// A burst grew the queues: give the memory back.
	if cap(c.pending) > 64 {
		c.pending = nil
	}
	if cap(c.spare) > 64 {
		c.spare = nil
	}
	return nil
}

// deliver sends n on every subscribed stream it belongs to.
func (c *streamConn) deliver(n feed.Notice) error {
	if n.Post == nil {
		return nil
	}
	for _, st := range c.streams {
		if !st.match(n.Post) || st.skip(n) {
			continue
		}
		frame, err := c.s.events.get(n.Kind, st.name, n.Post)
		if err != nil {
			return err
		}
		// The frame goes straight into the connection's buffer; only
		// this goroutine writes data frames, and a control frame from
		// the reader goroutine is appended whole, under the same lock.
		if err := c.bc.append(frame); err != nil {
			return err
		}
		if err := c.bc.flushIfFull(); err != nil {
			return err
		}
	}
	return nil
}

// send writes one event made for this connection only.
func (c *streamConn) send(ev streamEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	return c.bc.flushIfFull()
}

// sendError tells the client a command failed: the client-safe message of
// an application error, a generic one (and a log line) for any other.
func (c *streamConn) sendError(streamName string, err error) error {
	if feed.ErrorCode(err) == feed.EINTERNAL {
		c.s.Logger.Error("stream command failed", "stream", streamName, "err", err)
	}
	return c.send(streamEvent{Event: "error", Stream: streamName, Payload: feed.ErrorMessage(err)})
}

// handle carries out one command. Mistakes are told to the client; only a
// failed write (or a client too slow) returns an error, which ends the
// connection.
func (c *streamConn) handle(cmd command) error {
	switch {
	case cmd.bad != "":
		return c.sendError("", feed.Errorf(feed.EINVALID, "%s", cmd.bad))
	case cmd.Type == "subscribe":
		return c.subscribe(cmd)
	case cmd.Type == "unsubscribe":
		return c.unsubscribe(cmd)
	}
	return c.sendError(cmd.Stream, feed.Errorf(feed.EINVALID, "unknown command type %q; use subscribe or unsubscribe", cmd.Type))
}

func (c *streamConn) find(name string) int {
	for i, st := range c.streams {
		if st.name == name {
			return i
		}
	}
	return -1
}

// subscribe adds a stream, first replaying what the client missed when
// it says where it was.
func (c *streamConn) subscribe(cmd command) error {
	st, err := c.s.resolveStream(c.ctx, cmd.Stream)
	if err != nil {
		return c.sendError(cmd.Stream, err)
	}
	if c.find(st.name) >= 0 {
		return c.send(streamEvent{Event: "subscribed", Stream: st.name, Payload: replayed{}})
	}
	if len(c.streams) >= c.cfg.MaxStreams {
		return c.sendError(st.name, feed.Errorf(feed.EINVALID, "a connection may follow at most %d streams", c.cfg.MaxStreams))
	}
	since := c.since
	if cmd.SinceID != "" {
		if since, err = feed.ParseID(string(cmd.SinceID)); err != nil {
			return c.sendError(st.name, err)
		}
	}
	if since == 0 {
		c.streams = append(c.streams, st)
		return c.send(streamEvent{Event: "subscribed", Stream: st.name, Payload: replayed{}})
	}
	n, refused, err := c.replay(st, since)
	if err != nil {
		return err
	}
	if refused == nil {
		c.streams = append(c.streams, st)
	}
	// Deliver what arrived during the replay, in order: to the other
	// streams, and to this one past what the replay sent.
	if err := c.drain(); err != nil {
		return err
	}
	st.counts = nil
	if refused != nil {
		return c.sendError(st.name, refused)
	}
	return c.send(streamEvent{Event: "subscribed", Stream: st.name, Payload: replayed{Replayed: n}})
}

// replayed is the payload of "subscribed".
type replayed struct {
	Replayed int `json:"replayed"`
}

// replay sends the stream's posts after since, oldest first, reading the
// store a page at a time until it has caught up, and sets the stream's
// resume state. Notices arriving meanwhile are stashed. refused says why
// the replay could not be done (the client is too far behind, the store
// failed), and err that the connection failed.
func (c *streamConn) replay(st *stream, since int64) (sent int, refused, err error) {
	st.since, st.after = since, since
	st.counts = map[int64]int{}
	for {
		posts, rerr := st.read(c.ctx, timeline.Page{MinID: st.after, Limit: replayPage})
		if rerr != nil {
			return sent, rerr, nil
		}
		if sent+len(posts) > c.cfg.MaxReplay {
			return sent, feed.Errorf(feed.EINVALID, "more than %d posts were missed; reload the timeline", c.cfg.MaxReplay), nil
		}
		for _, p := range posts {
			if err := c.send(streamEvent{Event: feed.NoticeUpdate, Stream: st.name, ID: feed.FormatID(p.ID), Payload: p}); err != nil {
				return sent, nil, err
			}
			st.after = p.ID
			if p.Count > 1 {
				st.counts[p.ID] = p.Count
			}
			sent++
		}
		if err := c.stash(); err != nil {
			return sent, nil, err
		}
		if len(posts) < replayPage {
			return sent, nil, nil
		}
	}
}

// stash moves the notices waiting in the hub subscription to the
// client's queue, so that neither a long replay nor a slow write makes the
// hub drop the connection. A queue of queueFactor times Buffer notices is
// full: the client is too slow.
func (c *streamConn) stash() error {
	for {
		select {
		case n, ok := <-c.sub.C():
			if !ok {
				return errTooSlow
			}
			if len(c.pending) >= queueFactor*c.cfg.Buffer {
				return errTooSlow
			}
			c.pending = append(c.pending, n)
		default:
			return nil
		}
	}
}

func (c *streamConn) unsubscribe(cmd command) error {
	st, err := c.s.resolveStream(c.ctx, cmd.Stream)
	if err != nil {
		return c.sendError(cmd.Stream, err)
	}
	if i := c.find(st.name); i >= 0 {
		c.streams = append(c.streams[:i], c.streams[i+1:]...)
	}
	return c.send(streamEvent{Event: "unsubscribed", Stream: st.name})
}

// farewell tells a client that fell behind why it is disconnected, if
// that can be written quickly; its writes may be what is stuck.
func (c *streamConn) farewell() {
	deadline := time.Now().Add(finalTimeout)
	c.bc.discard()
	c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"error","payload":"too slow"}`)); err != nil {
		return
	}
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow"), deadline)
}

// readLoop reads commands until the connection ends. Any message, and
// every pong, shows the client is there.
func (c *streamConn) readLoop() {
	defer close(c.readDone)
	alive := func() { c.ws.SetReadDeadline(time.Now().Add(2 * c.cfg.PingInterval)) }
	c.ws.SetReadLimit(streamMaxCommand)
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		alive()
		var cmd command
		if err := json.Unmarshal(data, &cmd); err != nil {
			cmd = command{bad: "a command is a JSON object like {\"type\":\"subscribe\",\"stream\":\"public\"}"}
		}
		select {
		case c.cmds <- cmd:
		case <-c.done:
			return
		}
	}
}

// batchHijacker lets the websocket upgrade hijack the connection through
// the middleware's response writers, and wraps the connection in a
// batchConn.
type batchHijacker struct {
	http.ResponseWriter
	conn *batchConn
}

func (h *batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: conn}
	return h.conn, brw, nil
}

// batchConn coalesces the frames written while it is held into one write
// to the network: a burst of events costs one system call, not one each.
// Outside hold and flush — the handshake, control frames written by the
// reader goroutine — writes go straight through.
type batchConn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // non-nil while held
	// deadline is the write deadline set while held, applied when the
	// buffer is written: the websocket sets one for every frame, and
	// setting the socket's costs a timer update each time.
	deadline, applied time.Time
}

// batchFlushAt is how much a held batchConn buffers before it writes.
const batchFlushAt = 32 << 10

var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, batchFlushAt+streamWriteBuffer); return &b }}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// SetWriteDeadline sets the deadline of the next write to the network.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		// Frames buffered together share the latest of their deadlines.
		if t.After(c.deadline) {
			c.deadline = t
		}
		return nil
	}
	c.applied = t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines; the write one as SetWriteDeadline does.
func (c *batchConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// write writes b to the network with the deadline last set; c.mu is held.
func (c *batchConn) write(b []byte) error {
	if !c.deadline.IsZero() && !c.deadline.Equal(c.applied) {
		if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
			return err
		}
		c.applied = c.deadline
	}
	_, err := c.Conn.Write(b)
	return err
}

// append adds a whole frame to the buffer, or writes it when the
// connection is not held.
func (c *batchConn) append(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.write(frame)
	}
	*c.buf = append(*c.buf, frame...)
	return nil
}

// hold starts buffering writes.
func (c *batchConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = batchBuffers.Get().(*[]byte)
	}
}

// flushIfFull writes what is buffered once it is a good chunk, and keeps
// holding.
func (c *batchConn) flushIfFull() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil || len(*c.buf) < batchFlushAt {
		return nil
	}
	err := c.write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// flush writes what is buffered and stops holding.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	var err error
	if len(*c.buf) > 0 {
		err = c.write(*c.buf)
	}
	c.release()
	return err
}

// discard drops what is buffered and stops holding.
func (c *batchConn) discard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		c.release()
	}
}

func (c *batchConn) release() {
	b := c.buf
	c.buf = nil
	c.deadline = time.Time{}
	if cap(*b) <= 4*batchFlushAt {
		*b = (*b)[:0]
		batchBuffers.Put(b)
	}
}
