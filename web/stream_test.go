package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"fleetfeed/feed"
	"fleetfeed/translators"
	"fleetfeed/web"
)

// patience bounds every wait in these tests; nothing is timed, so it is
// only there to fail a hung test with a message instead of a panic.
const patience = 20 * time.Second

// event is a message from the streaming API.
type event struct {
	Event   string          `json:"event"`
	Stream  string          `json:"stream"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

func (e event) post(t *testing.T) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatalf("payload of %s is not a post: %v: %s", e.Event, err, e.Payload)
	}
	return p
}

func (e event) text() string {
	var s string
	json.Unmarshal(e.Payload, &s)
	return s
}

func wsURL(ts *httptest.Server, query string) string {
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/v1/streaming"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial connects to the streaming API.
func dial(t *testing.T, ts *httptest.Server, query string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, query), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// next reads the next event.
func next(t *testing.T, c *websocket.Conn) event {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("event is not JSON: %v: %s", err, b)
	}
	return e
}

// expect reads the next event and checks its kind and stream.
func expect(t *testing.T, c *websocket.Conn, kind, stream string) event {
	t.Helper()
	e := next(t, c)
	if e.Event != kind || e.Stream != stream {
		t.Fatalf("got %s on %q (%s), want %s on %q", e.Event, e.Stream, e.Payload, kind, stream)
	}
	return e
}

// subscribe subscribes and waits until the server says it is live.
func subscribe(t *testing.T, c *websocket.Conn, stream, canonical string) {
	t.Helper()
	send(t, c, `{"type":"subscribe","stream":"`+stream+`"}`)
	expect(t, c, "subscribed", canonical)
}

// draft is a post to ingest.
type draft struct {
	node, text string
	tags       []string
}

var eventSeq struct {
	sync.Mutex
	n int
}

// startServer is newServer with the server configured before it starts.
func startServer(t *testing.T, configure func(*web.Server)) (*httptest.Server, *web.Server) {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	s.IngestToken = token
	s.MaxBody = 64 << 10
	if configure != nil {
		configure(s)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, s
}

// ingest stores posts through the pipeline, one batch, and returns their
// ids (or those of the posts they folded into).
func ingest(t testing.TB, s *web.Server, drafts ...draft) []string {
	t.Helper()
	ids, err := store(s, drafts...)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return ids
}

// store is ingest for goroutines that may not call t.Fatal.
func store(s *web.Server, drafts ...draft) ([]string, error) {
	evs := make([]translators.Event, len(drafts))
	eventSeq.Lock()
	for i, d := range drafts {
		eventSeq.n++
		evs[i] = translators.Event{
			ID: fmt.Sprintf("test:%d", eventSeq.n), Source: translators.SourceEvents, Node: d.node,
			Post: &translators.Draft{Text: d.text, Tags: d.tags, Severity: translators.SeverityInfo},
		}
	}
	eventSeq.Unlock()
	res, err := s.Pipeline.Ingest(context.Background(), evs)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range append(res.Posts, res.Folded...) {
		ids = append(ids, feed.FormatID(id))
	}
	return ids, nil
}

func TestStreamSubscribeAndUnsubscribe(t *testing.T) {
	ts, s := newServer(t)
	ingest(t, s, draft{"web01.example.com", "Hello", nil}) // makes the node
	c := dial(t, ts, "")
	subscribe(t, c, "public", "public")
	subscribe(t, c, "tag:Security", "tag:security")
	subscribe(t, c, "node:WEB01.example.com", "node:web01") // an alias, in capitals

	ids := ingest(t, s, draft{"web01.example.com", "Someone tried many passwords", []string{"security"}})
	// One post on three streams: once per stream, in subscription order.
	for _, stream := range []string{"public", "tag:security", "node:web01"} {
		e := expect(t, c, "update", stream)
		p := e.post(t)
		if e.ID != ids[0] || p["id"] != ids[0] {
			t.Fatalf("update id %s, payload id %v, want %s", e.ID, p["id"], ids[0])
		}
		if got, want := p["text"], "Someone tried many passwords #security"; got != want {
			t.Fatalf("text = %v, want %v", got, want)
		}
	}

	send(t, c, `{"type":"unsubscribe","stream":"public"}`)
	expect(t, c, "unsubscribed", "public")
	send(t, c, `{"type":"unsubscribe","stream":"node:web01"}`)
	expect(t, c, "unsubscribed", "node:web01")
	ingest(t, s, draft{"db01", "Backups finished", nil}) // on no stream still followed
	ids = ingest(t, s, draft{"db01", "Port scan", []string{"security"}})
	// Had the untagged post been sent, it would come first.
	if e := expect(t, c, "update", "tag:security"); e.ID != ids[0] {
		t.Fatalf("update %s, want %s", e.ID, ids[0])
	}

	// A repeat folds: the count grows in place.
	again := ingest(t, s, draft{"db01", "Port scan", []string{"security"}})
	e := expect(t, c, "update_count", "tag:security")
	if p := e.post(t); e.ID != ids[0] || again[0] != ids[0] || p["count"] != float64(2) || p["fold_note"] != "2 times in the last hour" {
		t.Fatalf("update_count %s %v, want post %s with count 2 and a fold note", e.ID, p, ids[0])
	}

	// Mistakes are answered, and the connection stays usable.
	for _, tt := range []struct{ msg, has string }{
		{`{"type":"subscribe","stream":"list:1"}`, "no list 1"},
		{`{"type":"subscribe","stream":"home"}`, "sign in"},
		{`{"type":"subscribe","stream":"everything"}`, "not a stream"},
		{`{"type":"subscribe","stream":"tag:!!"}`, "not a hashtag"},
		{`{"type":"subscribe","stream":"node:nobody"}`, "no server"},
		{`{"type":"subscribe","stream":"public","since_id":"banana"}`, "not a post id"},
		{`{"type":"dance"}`, "unknown command"},
		{`not json`, "JSON"},
	} {
		send(t, c, tt.msg)
		if e := next(t, c); e.Event != "error" || !strings.Contains(e.text(), tt.has) {
			t.Errorf("%s: got %s %s, want an error saying %q", tt.msg, e.Event, e.Payload, tt.has)
		}
	}
	subscribe(t, c, "public", "public")
}

func TestStreamResumesWithSinceID(t *testing.T) {
	ts, s := newServer(t)
	var all []string // every tagged post, oldest first
	for i := range 3 {
		var batch []draft
		for j := range 150 {
			tags := []string{"security"}
			if j%3 == 0 {
				tags = nil // not on the stream
			}
			batch = append(batch, draft{fmt.Sprintf("web%02d", j%5), fmt.Sprintf("Alert %d-%d", i, j), tags})
		}
		for k, id := range ingest(t, s, batch...) {
			if batch[k].tags != nil {
				all = append(all, id)
			}
		}
	}
	since := all[9] // the client saw the first ten

	// Posts keep arriving while the client catches up.
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 40 {
			ids, err := store(s, draft{"web01", fmt.Sprintf("Live %d", i), []string{"security"}},
				draft{"web02", fmt.Sprintf("Other %d", i), nil})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			all = append(all, ids[0])
			mu.Unlock()
		}
	}()
	c := dial(t, ts, "")
	send(t, c, `{"type":"subscribe","stream":"tag:security","since_id":"`+since+`"}`)

	var got []string
	replayed := -1
	for {
		// Once the ingest is done, all is final; read it after done.
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		mu.Lock()
		want := len(all) - 10
		mu.Unlock()
		if finished && len(got) == want && replayed >= 0 {
			break
		}
		e := next(t, c)
		switch e.Event {
		case "update":
			if e.Stream != "tag:security" {
				t.Fatalf("update on %q", e.Stream)
			}
			got = append(got, e.ID)
		case "subscribed":
			var r struct{ Replayed int }
			json.Unmarshal(e.Payload, &r)
			replayed = r.Replayed
		default:
			t.Fatalf("unexpected %s %s", e.Event, e.Payload)
		}
	}
	mu.Lock()
	want := all[10:]
	mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("got %d posts, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("post %d is %s, want %s: gap, repeat or disorder", i, got[i], want[i])
		}
	}
	t.Logf("replayed %d of %d posts; the rest came live", replayed, len(want))
	if replayed < 290 {
		t.Fatalf("replayed %d posts, want at least the 290 stored before the subscribe", replayed)
	}

	// since_id on connect works the same, and applies to the streams
	// named on connect.
	c2 := dial(t, ts, "stream=tag:security&since_id="+want[len(want)-3])
	for _, id := range want[len(want)-2:] {
		if e := expect(t, c2, "update", "tag:security"); e.ID != id {
			t.Fatalf("replayed %s, want %s", e.ID, id)
		}
	}
	expect(t, c2, "subscribed", "tag:security")
	live := ingest(t, s, draft{"web03", "One more", []string{"security"}})
	if e := expect(t, c2, "update", "tag:security"); e.ID != live[0] {
		t.Fatalf("live %s, want %s", e.ID, live[0])
	}

}

func TestStreamRefusesAReplayTooLong(t *testing.T) {
	ts, s := startServer(t, func(s *web.Server) { s.Stream.MaxReplay = 5 })
	var drafts []draft
	for i := range 12 {
		drafts = append(drafts, draft{"web01", fmt.Sprintf("Alert %d", i), nil})
	}
	ids := ingest(t, s, drafts...)
	c := dial(t, ts, "")
	send(t, c, `{"type":"subscribe","stream":"public","since_id":"`+ids[0]+`"}`)
	e := next(t, c)
	if e.Event != "error" || !strings.Contains(e.text(), "reload") {
		t.Fatalf("got %s %s, want an error saying to reload", e.Event, e.Payload)
	}
	// The client may follow the stream from now on instead.
	subscribe(t, c, "public", "public")
}

// smallReadBuffer dials with a small socket receive buffer, set before
// the connection is made so that TCP advertises a small window: a client
// that stops reading then fills the path quickly.
func smallReadBuffer() *websocket.Dialer {
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return &websocket.Dialer{HandshakeTimeout: patience, NetDialContext: d.DialContext}
}

func TestStreamDropsAStalledClientAndKeepsTheOthers(t *testing.T) {
	ts, s := startServer(t, func(s *web.Server) { s.Stream = web.StreamConfig{Buffer: 8, WriteTimeout: patience} })
	healthy := dial(t, ts, "")
	subscribe(t, healthy, "public", "public")
	stalled, _, err := smallReadBuffer().Dial(wsURL(ts, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	subscribe(t, stalled, "public", "public")
	if got, want := s.Pipeline.Hub.Len(), 2; got != want {
		t.Fatalf("hub subscribers = %d, want %d", got, want)
	}

	// The stalled client reads nothing more. Big posts fill its socket;
	// the healthy client reads each before the next is published, so only
	// the stalled one can fall behind.
	big := json.RawMessage(`{"payload":"` + strings.Repeat("A", 64<<10) + `"}`)
	var id int64 = 1 << 40
	publish := func() {
		id++
		s.Pipeline.Hub.Publish(feed.Notice{Kind: feed.NoticeUpdate, Post: &feed.Post{
			ID: id, Node: "web01", Text: "Big", Severity: translators.SeverityInfo, Count: 1, Details: big,
		}})
		if e := expect(t, healthy, "update", "public"); e.ID != feed.FormatID(id) {
			t.Fatalf("healthy client got %s, want %d", e.ID, id)
		}
	}
	for s.Pipeline.Hub.Len() == 2 {
		if id > 1<<40+10000 {
			t.Fatal("the stalled client was never dropped")
		}
		publish()
	}
	sent := id - 1<<40
	// Dropped from the hub; the healthy client goes on.
	for range 5 {
		publish()
	}

	// When the stalled client reads again, what was on its way arrives,
	// then the reason it was dropped, then the end of the connection.
	stalled.SetReadDeadline(time.Now().Add(patience))
	var last event
	n := 0
	for {
		_, b, err := stalled.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
				t.Fatalf("stalled client's connection ended with %v, want close 1013", err)
			}
			break
		}
		json.Unmarshal(b, &last)
		n++
	}
	if last.Event != "error" || last.text() != "too slow" {
		t.Fatalf("last message %s %s, want the too slow error", last.Event, last.Payload)
	}
	if int64(n) > sent+1 {
		t.Fatalf("stalled client got %d messages after %d were published before the drop", n, sent)
	}
	t.Logf("stalled client dropped after %d posts of 64 KB; it received %d before the end", sent, n-1)
	deadline := time.Now().Add(patience)
	for s.StreamClients() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d stream clients, want 1", s.StreamClients())
		}
		time.Sleep(10 * time.Millisecond)
	}
	publish()
}

func TestStreamChecksOrigin(t *testing.T) {
	ts, _ := newServer(t)
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{ts.URL, true},
		{"http://evil.example", false},
		{"null", false},
	} {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, ""), h)
		if tt.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", tt.origin, err)
				continue
			}
			c.Close()
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("origin %q accepted", tt.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v, want 403", tt.origin, resp)
		}
	}
	resp, err := http.Get(ts.URL + "/api/v1/streaming?since_id=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
		t.Errorf("bad since_id: %d, want %d", got, want)
	}
}
