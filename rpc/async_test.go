package rpc_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
)

func openStore(t *testing.T) *rpc.SQLiteReplyStore {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &rpc.SQLiteReplyStore{DB: db}
}

func TestReplyStore(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	req := &rpc.AsyncRequest{ID: rpc.NewRequestID(), Agent: "puppet", Action: "status", Caller: "user=alice",
		Targets: []string{"a", "b", "c"}, Created: time.Unix(1_800_000_000, 0).UTC(), TTL: time.Minute}
	if err := store.SaveRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveRequest(ctx, req); err == nil || !feed.IsUniqueViolation(errors.Unwrap(err)) {
		t.Fatalf("saving a request twice: %v, want a unique violation", err)
	}
	at := time.Unix(1_800_000_001, 0)
	for _, s := range []string{"c", "a", "b", "a"} { // a answers twice: the second is ignored
		rep := &rpc.Reply{RequestID: req.ID, SenderID: s, StatusCode: rpc.StatusOK, StatusMsg: "OK", Data: map[string]any{"who": s}}
		if err := store.Save(ctx, rep, at); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := store.List(ctx, req.ID, rpc.Page{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p1.Total, 3; got != want {
		t.Fatalf("total = %d, want %d", got, want)
	}
	if p1.Request == nil || p1.Request.Agent != "puppet" || !slices.Equal(p1.Request.Targets, req.Targets) || p1.Request.TTL != time.Minute {
		t.Fatalf("request = %+v", p1.Request)
	}
	if got, want := len(p1.Replies), 2; got != want || p1.Next == 0 {
		t.Fatalf("first page: %d replies, next %d", got, p1.Next)
	}
	p2, err := store.List(ctx, req.ID, rpc.Page{After: p1.Next, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range append(p1.Replies, p2.Replies...) {
		got = append(got, r.Sender)
	}
	if want := []string{"c", "a", "b"}; !slices.Equal(got, want) || p2.Next != 0 {
		t.Fatalf("replies in order %v (next %d), want %v", got, p2.Next, want)
	}
	if got, want := p2.Replies[0].Data["who"], "b"; got != want || !p2.Replies[0].Received.Equal(at) {
		t.Fatalf("stored reply = %+v", p2.Replies[0])
	}
	empty, err := store.List(ctx, "nosuchrequest", rpc.Page{})
	if err != nil || empty.Request != nil || len(empty.Replies) != 0 {
		t.Fatalf("unknown request: %+v, %v", empty, err)
	}
}

// TestAsync sends without waiting; a listener, as the server runs it,
// stores the replies as they come, readable by request id.
func TestAsync(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 12})
	store := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan error, 1)
	conn := f.Dial(t)
	go func() {
		listening <- rpc.ListenReplies(ctx, conn, rpctest.Collective, "server1", f.Trusted, store, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-listening; err != nil {
			t.Errorf("ListenReplies: %v", err)
		}
	})
	c, err := rpc.NewClient(ctx, f.Dial(t), rpc.ClientConfig{
		Collective: rpctest.Collective, CallerID: rpctest.CallerID,
		Signer:  &rpc.Signer{Name: rpctest.ClientName, Key: f.ClientKey},
		Trusted: f.Trusted, DDLs: agent.BuiltinDDLs(), AsyncReplyTo: "server1", Store: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	targets := append(f.Identities()[:10], "ghost.example.net")
	reqID, err := c.SendAsync(ctx, rpc.Call{Agent: "puppet", Action: "status"}, targets)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "10 stored replies", func() bool {
		p, err := store.List(ctx, reqID, rpc.Page{})
		return err == nil && p.Total == 10
	})
	var seen []string
	var after int64
	for pages := 0; ; pages++ {
		p, err := store.List(ctx, reqID, rpc.Page{After: after, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Request.Targets, targets; !slices.Equal(got, want) {
			t.Fatalf("recorded targets %v, want %v", got, want)
		}
		for _, r := range p.Replies {
			seen = append(seen, r.Sender)
			if r.StatusCode != rpc.StatusOK || r.Data["status"] == nil {
				t.Fatalf("reply %+v", r)
			}
		}
		if after = p.Next; after == 0 {
			if got, want := pages, 2; got != want {
				t.Fatalf("%d pages, want %d", got+1, want+1)
			}
			break
		}
	}
	slices.Sort(seen)
	if want := sorted(targets[:10]); !slices.Equal(seen, want) {
		t.Fatalf("stored replies from %v, want %v", seen, want)
	}
	// Discovery, then SendAsync: targets nil.
	id2, err := c.SendAsync(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Filter: &rpc.Filter{Identity: []string{"/^lb/"}},
		DiscoveryTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 stored pings", func() bool {
		p, err := store.List(ctx, id2, rpc.Page{})
		return err == nil && p.Total == 3
	})
	if _, err := c.SendAsync(ctx, rpc.Call{Agent: "puppet", Action: "frob"}, targets); !errors.Is(err, rpc.ErrUnknownAction) {
		t.Fatalf("SendAsync of an unknown action: %v", err)
	}
}
