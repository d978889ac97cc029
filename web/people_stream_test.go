package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"

	"fleetfeed/timeline/people"
)

// dialAs connects to the streaming API with the client's session cookie.
func dialAs(t *testing.T, c *client, query string) *websocket.Conn {
	t.Helper()
	u, _ := url.Parse(c.base)
	h := http.Header{}
	for _, ck := range c.http.Jar.Cookies(u) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	wsu := "ws" + c.base[len("http"):] + "/api/v1/streaming"
	if query != "" {
		wsu += "?" + query
	}
	conn, resp, err := websocket.DefaultDialer.Dial(wsu, h)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestStreamHomeAndList(t *testing.T) {
	ts, s := peopleServer(t, nil)
	ivy := addUser(t, s, "ivy", people.RoleViewer)
	addUser(t, s, "jack", people.RoleViewer)
	ctx := context.Background()
	first := ingest(t, s, draft{"web01", "Hello from web01", nil}, draft{"mail01", "Hello from mail01", nil})
	if err := s.Follows.FollowNode(ctx, ivy.ID, "web01"); err != nil {
		t.Fatal(err)
	}
	list, err := s.Follows.CreateList(ctx, ivy.ID, "Security", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Follows.AddListQuery(ctx, ivy.ID, list.ID, "#security AND severity:info"); err != nil {
		t.Fatal(err)
	}
	listStream := "list:" + strconv.FormatInt(list.ID, 10)

	// Anonymous: no home, no private list.
	anon := dial(t, ts, "")
	send(t, anon, `{"type":"subscribe","stream":"home"}`)
	if e := expect(t, anon, "error", "home"); e.text() != "sign in to follow your home timeline" {
		t.Fatalf("anonymous home: %s", e.Payload)
	}
	send(t, anon, `{"type":"subscribe","stream":"`+listStream+`"}`)
	expect(t, anon, "error", listStream)

	// Another user cannot see a private list.
	jack := dialAs(t, login(t, ts.URL, "jack"), "")
	send(t, jack, `{"type":"subscribe","stream":"`+listStream+`"}`)
	expect(t, jack, "error", listStream)

	// Ivy's home and list streams carry only their posts.
	c := dialAs(t, login(t, ts.URL, "ivy"), "")
	subscribe(t, c, "home", "home")
	subscribe(t, c, listStream, listStream)
	ingest(t, s, draft{"mail01", "Not followed", nil})
	web := ingest(t, s, draft{"web01", "Followed", nil})[0]
	if e := expect(t, c, "update", "home"); e.ID != web {
		t.Fatalf("home update %s, want %s", e.ID, web)
	}
	ingest(t, s, draft{"mail01", "Not in the list", []string{"ok"}})
	sec := ingest(t, s, draft{"mail01", "Someone knocks", []string{"security"}})[0]
	if e := expect(t, c, "update", listStream); e.ID != sec {
		t.Fatalf("list update %s, want %s", e.ID, sec)
	}

	// A resume of home replays what was missed, then goes live.
	r := dialAs(t, login(t, ts.URL, "ivy"), "")
	send(t, r, `{"type":"subscribe","stream":"home","since_id":"`+first[0]+`"}`)
	if e := expect(t, r, "update", "home"); e.ID != web {
		t.Fatalf("replayed %s, want %s", e.ID, web)
	}
	expect(t, r, "subscribed", "home")

	// Following more shows at once in the live stream.
	if err := s.Follows.FollowTag(ctx, ivy.ID, "backup"); err != nil {
		t.Fatal(err)
	}
	backup := ingest(t, s, draft{"db01", "Backup done", []string{"backup"}})[0]
	if e := expect(t, r, "update", "home"); e.ID != backup {
		t.Fatalf("home update %s, want %s", e.ID, backup)
	}
}
