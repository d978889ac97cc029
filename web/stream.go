package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/translators"
)

// The streaming API: GET /api/v1/streaming upgrades to a websocket.
//
// A client subscribes to streams and unsubscribes from them with JSON text
// messages:
//
//	{"type":"subscribe","stream":"public"}
//	{"type":"subscribe","stream":"tag:security","since_id":"123"}
//	{"type":"unsubscribe","stream":"node:web01"}
//
// Streams are "public", "node:{name}" (a handle or any alias),
// "tag:{tag}", "list:{id}" (a list the user may see) and "home" (what the
// signed-in user follows).
// The query parameters stream (repeatable) and since_id subscribe on
// connect; since_id on connect also applies to every later subscribe that
// carries none of its own, so a client that reconnects says once where it
// was.
//
// The server sends events, one JSON object per message. Stream is the
// stream's canonical name ("node:WEB01.example.com" becomes "node:web01"):
//
//	{"event":"update","stream":"public","id":"123","payload":{post}}
//	{"event":"update_count","stream":"public","id":"123","payload":{post}}
//	{"event":"subscribed","stream":"public","payload":{"replayed":3}}
//	{"event":"unsubscribed","stream":"public"}
//	{"event":"error","stream":"tag:","payload":"\"\" is not a hashtag"}
//	{"event":"error","payload":"too slow"}
//
// update is a new post; update_count a folded post whose count grew (its
// payload is the whole post, with the new count and fold note). A post that
// belongs to several subscribed streams comes once per stream.
//
// Resume: a subscribe with since_id first replays, oldest first, every post
// of the stream after since_id, then "subscribed", then live posts, with no
// gap and no repeat. The connection's hub subscription exists before the
// replay reads the store, so a post committed during the replay is either
// read by it or queued behind it; queued updates the replay already sent
// are dropped by id.
//
// A client that cannot keep up gets {"event":"error","payload":"too slow"}
// when that can still be written, and is disconnected: when its queue
// (8 × Stream.Buffer notices taken from the hub and not yet written) is
// full, when the hub dropped its subscription (Stream.Buffer notices
// waited there while the connection was stuck in a write), or when a write
// takes longer than Stream.WriteTimeout. The hub never waits for a client,
// so a slow one holds up neither ingest nor the other clients.

// StreamConfig tunes the streaming API; a zero field takes its default.
type StreamConfig struct {
	// PingInterval is how often the server pings a client; a client
	// that has not answered for two intervals is disconnected (30 s).
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client (10 s).
	WriteTimeout time.Duration
	// Buffer is how many notices the hub holds for one client while the
	// connection is busy (512: half a second at 1,000 posts a second);
	// the client's own queue holds 8 times as many. A client whose queue
	// or hub buffer is full is too slow.
	Buffer int
	// MaxReplay is the most missed posts a resume replays; a client
	// further behind is told to reload (10,000).
	MaxReplay int
	// MaxStreams is the most streams one connection subscribes to (32).
	MaxStreams int
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Buffer <= 0 {
		c.Buffer = 512
	}
	if c.MaxReplay <= 0 {
		c.MaxReplay = 10000
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 32
	}
	return c
}

// Sizes of a connection's buffers, small because a server holds
// thousands of connections: commands are tiny, and write buffers come
// from a pool only while a message is being written.
const (
	streamReadBuffer  = 512
	streamWriteBuffer = 4096
	streamMaxCommand  = 4096
	// finalTimeout bounds the last words to a client being dropped.
	finalTimeout = time.Second
)

var streamWritePool sync.Pool

// command is a client message.
type command struct {
	Type    string `json:"type"`
	Stream  string `json:"stream"`
	SinceID flexID `json:"since_id"`
	// bad is why the message could not be read, if it could not.
	bad string
}

// flexID is an id sent as a string, as the API writes ids, or as a
// number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexID(n.String())
	return nil
}

// streamEvent is a server message.
type streamEvent struct {
	Event   string `json:"event"`
	Stream  string `json:"stream,omitempty"`
	ID      string `json:"id,omitempty"`
	Payload any    `json:"payload,omitempty"`
}

// stream is one subscription of a connection.
type stream struct {
	name  string
	match func(*feed.Post) bool
	read  timelineRead

	// Resume state: updates up to after were replayed, and counts holds
	// the counts the replay sent for folded posts, until the notices
	// queued during the replay have been delivered.
	since, after int64
	counts       map[int64]int
}

// skip reports whether n was already sent by the stream's replay.
func (st *stream) skip(n feed.Notice) bool {
	id := n.Post.ID
	switch {
	case st.after == 0 || id > st.after:
		return false
	case n.Kind == feed.NoticeUpdate:
		return true
	case n.Kind == feed.NoticeCount && st.counts != nil && id > st.since:
		sent, ok := st.counts[id]
		if !ok {
			sent = 1
		}
		return n.Post.Count <= sent
	}
	return false
}

// resolveStream parses a stream name into a subscription. The errors are
// EINVALID for a name that is not a stream, ENOTFOUND for an unknown node
// or a list the user may not see, and EUNAUTHORIZED for home without a
// session.
func (s *Server) resolveStream(ctx context.Context, name string) (*stream, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(name), ":")
	switch kind {
	case "public":
		if hasArg {
			break
		}
		return &stream{name: "public", match: func(*feed.Post) bool { return true }, read: s.Timeline.Public}, nil
	case "node":
		n, err := s.Nodes.Get(ctx, arg)
		if err != nil {
			return nil, err
		}
		id := n.ID
		return &stream{
			name:  "node:" + n.Name,
			match: func(p *feed.Post) bool { return p.NodeID == id },
			read: func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
				return s.Timeline.Node(ctx, id, p)
			},
		}, nil
	case "tag":
		t := translators.Tag(arg)
		if t == "" {
			return nil, feed.Errorf(feed.EINVALID, "%q is not a hashtag", arg)
		}
		return &stream{
			name:  "tag:" + t,
			match: func(p *feed.Post) bool { return slices.Contains(p.Tags, t) },
			read: func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
				return s.Timeline.Tag(ctx, t, p)
			},
		}, nil
	case "list", "home": // the connection's user's: see live_people.go
		return s.resolvePeopleStream(ctx, kind, arg, hasArg)
	}
	return nil, feed.Errorf(feed.EINVALID, "%q is not a stream; streams are public, node:{name} and tag:{tag}", name)
}

// handleStreaming upgrades to a websocket and serves the stream protocol
// until the client leaves, falls behind, or the server closes.
func (s *Server) handleStreaming(w http.ResponseWriter, r *http.Request) {
	if s.Pipeline.Hub == nil {
		s.Error(w, r, feed.Errorf(feed.EUNSUPPORTED, "this server has no live updates"))
		return
	}
	q := r.URL.Query()
	var since int64
	if v := q.Get("since_id"); v != "" {
		id, err := feed.ParseID(v)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		since = id
	}
	cfg := s.Stream.withDefaults()
	up := websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout,
		ReadBufferSize:   streamReadBuffer,
		WriteBufferSize:  streamWriteBuffer,
		WriteBufferPool:  &streamWritePool,
		CheckOrigin:      s.checkOrigin,
	}
	hj := &batchHijacker{ResponseWriter: w}
	ws, err := up.Upgrade(hj, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	c := newStreamConn(s, cfg, ws, hj.conn, since)
	c.ctx = withStreamVisitor(c.ctx, r) // for the home and list streams
	s.streams.add(c)
	// The connection outlives the request: returning lets the HTTP
	// server free what it keeps for a request (its buffers, the deep
	// stack of its goroutine) while the connection lives on in two small
	// goroutines.
	go c.run(q["stream"])
}

// checkOrigin lets browsers connect from pages of this server only: the
// Origin's host must be the request's Host or BaseURL's. Clients that are
// not browsers send no Origin.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if s.BaseURL != "" {
		if b, err := url.Parse(s.BaseURL); err == nil && strings.EqualFold(u.Host, b.Host) {
			return true
		}
	}
	return false
}

// eventCache encodes each live event once for all connections: a post
// published to the hub reaches every connection as the same *feed.Post,
// so (post, kind, stream) names one message. It keeps the message as a
// whole websocket frame, which every connection copies as it is.
type eventCache struct {
	m    sync.Map // eventKey → []byte, a frame
	mu   sync.Mutex
	ring [1024]eventKey // the keys in m, oldest replaced first
	next int
}

type eventKey struct {
	post         *feed.Post
	kind, stream string
}

func (c *eventCache) get(kind, stream string, p *feed.Post) ([]byte, error) {
	k := eventKey{post: p, kind: kind, stream: stream}
	if f, ok := c.m.Load(k); ok {
		return f.([]byte), nil
	}
	b, err := json.Marshal(streamEvent{Event: kind, Stream: stream, ID: feed.FormatID(p.ID), Payload: p})
	if err != nil {
		return nil, err
	}
	v, loaded := c.m.LoadOrStore(k, textFrame(b))
	if !loaded {
		c.mu.Lock()
		if old := c.ring[c.next]; old.post != nil {
			c.m.Delete(old)
		}
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
		c.mu.Unlock()
	}
	return v.([]byte), nil
}

// textFrame is payload as a websocket text frame from a server: final,
// unmasked and uncompressed (the upgrader negotiates no compression).
func textFrame(payload []byte) []byte {
	n := len(payload)
	f := make([]byte, 0, n+10)
	switch {
	case n < 126:
		f = append(f, 0x81, byte(n))
	case n < 1<<16:
		f = append(f, 0x81, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x81, 127)
		for i := 56; i >= 0; i -= 8 {
			f = append(f, byte(uint64(n)>>i))
		}
	}
	return append(f, payload...)
}

// streamSet is the open connections, for Close.
type streamSet struct {
	mu    sync.Mutex
	conns map[*streamConn]struct{}
}

func (set *streamSet) add(c *streamConn) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.conns == nil {
		set.conns = map[*streamConn]struct{}{}
	}
	set.conns[c] = struct{}{}
}

func (set *streamSet) remove(c *streamConn) {
	set.mu.Lock()
	defer set.mu.Unlock()
	delete(set.conns, c)
}

// closeAll tells every client the server is going away and disconnects it.
func (set *streamSet) closeAll() {
	set.mu.Lock()
	conns := make([]*streamConn, 0, len(set.conns))
	for c := range set.conns {
		conns = append(conns, c)
	}
	set.mu.Unlock()
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	for _, c := range conns {
		c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(finalTimeout))
		c.ws.Close()
	}
}

// StreamClients is the number of open streaming connections.
func (s *Server) StreamClients() int {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return len(s.streams.conns)
}
