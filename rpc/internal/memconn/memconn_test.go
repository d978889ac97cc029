package memconn

import (
	"context"
	"testing"
	"time"

	"fleetfeed/rpc"
)

func TestQueueWaitsForSubscriber(t *testing.T) {
	ctx := context.Background()
	b := New()
	c := b.Connect()
	if err := c.Send(ctx, "/queue/q", []byte("one"), rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Pending("/queue/q"), 1; got != want {
		t.Fatalf("pending = %d, want %d", got, want)
	}
	s, err := c.Subscribe(ctx, "/queue/q", rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string((<-s.C()).Body), "one"; got != want {
		t.Fatalf("body = %q, want %q", got, want)
	}
}

func TestQueueExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	b := New()
	b.Now = func() time.Time { return now }
	c := b.Connect()
	if err := c.Send(ctx, "/queue/q", []byte("old"), rpc.SendOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "/queue/q", []byte("new"), rpc.SendOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	s, err := c.Subscribe(ctx, "/queue/q", rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string((<-s.C()).Body), "new"; got != want {
		t.Fatalf("body = %q, want %q", got, want)
	}
}

func TestTopicFanOutAndDrop(t *testing.T) {
	ctx := context.Background()
	b := New()
	c := b.Connect()
	if err := c.Send(ctx, "/topic/t", []byte("nobody"), rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	s1, _ := c.Subscribe(ctx, "/topic/t", rpc.AckAuto)
	s2, _ := b.Connect().Subscribe(ctx, "/topic/t", rpc.AckAuto)
	if err := c.Send(ctx, "/topic/t", []byte("all"), rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []rpc.Subscription{s1, s2} {
		if got, want := string((<-s.C()).Body), "all"; got != want {
			t.Fatalf("body = %q, want %q", got, want)
		}
	}
	if got, want := b.Sent("/topic/t"), 2; got != want {
		t.Fatalf("sent = %d, want %d", got, want)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	c := New().Connect()
	s, err := c.Subscribe(ctx, "/topic/t", rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-s.C(); ok {
		t.Fatal("C still open after Close")
	}
	if err := c.Send(ctx, "/topic/t", nil, rpc.SendOptions{}); err != rpc.ErrClosed {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
