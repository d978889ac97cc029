package broker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
)

var _ rpc.Connector = (*broker.Conn)(nil)

func TestEmbeddedContract(t *testing.T) { runContract(t, newEmbedded(t)) }

func TestRabbitMQContract(t *testing.T) { runContract(t, newRabbit(t)) }

// runContract is what every broker fleetfeed supports must do through a
// broker.Conn. Reconnect restarts the broker, so it runs last.
func runContract(t *testing.T, tg target) {
	t.Run("QueuePointToPoint", func(t *testing.T) { testQueuePointToPoint(t, tg) })
	t.Run("QueueAutoAck", func(t *testing.T) { testQueueAutoAck(t, tg) })
	t.Run("TopicFanOut", func(t *testing.T) { testTopicFanOut(t, tg) })
	t.Run("AckRedelivery", func(t *testing.T) { testAckRedelivery(t, tg) })
	t.Run("TTLExpiry", func(t *testing.T) { testTTLExpiry(t, tg) })
	t.Run("Unsubscribe", func(t *testing.T) { testUnsubscribe(t, tg) })
	t.Run("Close", func(t *testing.T) { testClose(t, tg) })
	t.Run("LargeMessage", func(t *testing.T) { testLargeMessage(t, tg) })
	t.Run("Reconnect", func(t *testing.T) { testReconnect(t, tg) })
}

// Each queue message reaches exactly one of the competing consumers.
func testQueuePointToPoint(t *testing.T, tg target) {
	q := name(t, "queue")
	a, b, s := dial(t, tg), dial(t, tg), dial(t, tg)
	subs := []rpc.Subscription{
		subscribe(t, a, q, rpc.AckClientIndividual),
		subscribe(t, b, q, rpc.AckClientIndividual),
	}
	const n = 40
	for i := range n {
		send(t, s, q, fmt.Sprint("m", i), rpc.SendOptions{})
	}

	var mu sync.Mutex
	seen := make(map[string]int)
	total := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			for {
				select {
				case m := <-sub.C():
					if err := m.Ack(); err != nil {
						t.Error(err)
					}
					mu.Lock()
					seen[string(m.Body)]++
					total++
					if total == n {
						close(done)
					}
					mu.Unlock()
				case <-done:
					return
				}
			}
		})
	}
	select {
	case <-done:
	case <-time.After(wait):
		close(done)
	}
	wg.Wait()
	if total != n {
		t.Fatalf("received %d messages, want %d", total, n)
	}
	for i := range n {
		if got := seen[fmt.Sprint("m", i)]; got != 1 {
			t.Errorf("message m%d received %d times", i, got)
		}
	}
}

// With AckAuto nothing needs acknowledging and messages arrive in order.
func testQueueAutoAck(t *testing.T, tg target) {
	q := name(t, "queue")
	c, s := dial(t, tg), dial(t, tg)
	sub := subscribe(t, c, q, rpc.AckAuto)
	for i := range 10 {
		send(t, s, q, fmt.Sprint(i), rpc.SendOptions{Header: map[string]string{"x-seq": fmt.Sprint(i)}})
	}
	for i := range 10 {
		m := recv(t, sub)
		if got, want := string(m.Body), fmt.Sprint(i); got != want {
			t.Fatalf("message %d: body %q, want %q", i, got, want)
		}
		if got, want := m.Header["x-seq"], fmt.Sprint(i); got != want {
			t.Fatalf("message %d: x-seq %q, want %q", i, got, want)
		}
		if got, want := m.Destination, q; got != want {
			t.Fatalf("destination %q, want %q", got, want)
		}
		if err := m.Ack(); err != nil {
			t.Fatalf("Ack on an AckAuto message: %v", err)
		}
	}
}

// Every subscriber of a topic gets every message, in order.
func testTopicFanOut(t *testing.T, tg target) {
	tp := name(t, "topic")
	a, b, s := dial(t, tg), dial(t, tg), dial(t, tg)
	subs := []rpc.Subscription{
		subscribe(t, a, tp, rpc.AckAuto),
		subscribe(t, a, tp, rpc.AckAuto), // two on one connection
		subscribe(t, b, tp, rpc.AckClientIndividual),
	}
	const n = 20
	for i := range n {
		send(t, s, tp, fmt.Sprint(i), rpc.SendOptions{})
	}
	for k, sub := range subs {
		for i := range n {
			if got, want := string(recv(t, sub).Body), fmt.Sprint(i); got != want {
				t.Fatalf("subscriber %d, message %d: %q, want %q", k, i, got, want)
			}
		}
	}
}

// A message not acknowledged is redelivered: after a NACK, and to another
// consumer once the first one's connection closes.
func testAckRedelivery(t *testing.T, tg target) {
	q := name(t, "queue")
	a, s := dial(t, tg), dial(t, tg)
	subA := subscribe(t, a, q, rpc.AckClientIndividual)
	send(t, s, q, "job", rpc.SendOptions{})

	m := recv(t, subA)
	if err := m.Nack(); err != nil {
		t.Fatal(err)
	}
	m = recv(t, subA)
	if got := string(m.Body); got != "job" {
		t.Fatalf("after NACK got %q, want the same message again", got)
	}

	// Crash before acknowledging.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("Ack after Close = %v, want ErrClosed", err)
	}
	b := dial(t, tg)
	subB := subscribe(t, b, q, rpc.AckClientIndividual)
	m = recv(t, subB)
	if got := string(m.Body); got != "job" {
		t.Fatalf("redelivered %q, want job", got)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		t.Fatalf("second Ack = %v, want nil (ignored)", err)
	}
}

// A queued message whose TTL has passed is never delivered.
func testTTLExpiry(t *testing.T, tg target) {
	q := name(t, "queue")
	s := dial(t, tg)
	send(t, s, q, "stale", rpc.SendOptions{TTL: 200 * time.Millisecond})
	send(t, s, q, "fresh-with-ttl", rpc.SendOptions{TTL: time.Hour})
	time.Sleep(time.Second) // let "stale" expire in the queue
	send(t, s, q, "fresh", rpc.SendOptions{})

	c := dial(t, tg)
	sub := subscribe(t, c, q, rpc.AckClientIndividual)
	// Queues are FIFO: had "stale" survived, it would come first.
	for _, want := range []string{"fresh-with-ttl", "fresh"} {
		m := recv(t, sub)
		if got := string(m.Body); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}

// After Unsubscribe the channel is closed and the broker sends nothing
// more to it.
func testUnsubscribe(t *testing.T, tg target) {
	q, tp := name(t, "queue"), name(t, "topic")
	a, s := dial(t, tg), dial(t, tg)
	subQ := subscribe(t, a, q, rpc.AckClientIndividual)
	subT := subscribe(t, a, tp, rpc.AckAuto)
	send(t, s, q, "1", rpc.SendOptions{})
	send(t, s, tp, "1", rpc.SendOptions{})
	if err := recv(t, subQ).Ack(); err != nil {
		t.Fatal(err)
	}
	recv(t, subT)

	for _, sub := range []rpc.Subscription{subQ, subT} {
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, sub)
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("second Unsubscribe = %v, want nil", err)
		}
	}
	// The queue's next message waits for the next consumer instead of
	// going to the unsubscribed one.
	send(t, s, q, "2", rpc.SendOptions{})
	b := dial(t, tg)
	sub := subscribe(t, b, q, rpc.AckClientIndividual)
	if got := string(recv(t, sub).Body); got != "2" {
		t.Fatalf("got %q, want 2", got)
	}
}

// Close is idempotent, closes subscriptions, and makes Send and
// Subscribe fail with ErrClosed.
func testClose(t *testing.T, tg target) {
	c := dial(t, tg)
	sub := subscribe(t, c, name(t, "queue"), rpc.AckAuto)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	waitClosed(t, sub)
	ctx := context.Background()
	if err := c.Send(ctx, name(t, "queue"), []byte("x"), rpc.SendOptions{}); !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Subscribe(ctx, name(t, "topic"), rpc.AckAuto); !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// A 1 MiB body survives the round trip byte for byte.
func testLargeMessage(t *testing.T, tg target) {
	q := name(t, "queue")
	c, s := dial(t, tg), dial(t, tg)
	sub := subscribe(t, c, q, rpc.AckClientIndividual)
	body := make([]byte, 1<<20)
	_, _ = rand.Read(body)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Send(ctx, q, body, rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	m := recv(t, sub)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("got %d bytes, not the %d sent", len(m.Body), len(body))
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
}

// When the broker restarts, a Send waits for the reconnection, and every
// subscription is resubscribed without its channel closing.
func testReconnect(t *testing.T, tg target) {
	q, tp := name(t, "queue"), name(t, "topic")
	c, s := dial(t, tg), dial(t, tg)
	subQ := subscribe(t, c, q, rpc.AckClientIndividual)
	subT := subscribe(t, c, tp, rpc.AckAuto)
	send(t, s, q, "before", rpc.SendOptions{})
	if err := recv(t, subQ).Ack(); err != nil {
		t.Fatal(err)
	}

	tg.Stop(t)
	// Until a connection has seen the broker go, a Send on it can still
	// "succeed" into a dead socket (Send is at-most-once).
	eventually(t, "both see the broker go", func() bool { return s.Down() && c.Down() })

	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sent <- s.Send(ctx, q, []byte("during"), rpc.SendOptions{})
	}()
	tg.Start(t)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("Send during the outage: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Send during the outage never returned")
	}
	m := recv(t, subQ)
	if got := string(m.Body); got != "during" {
		t.Fatalf("queue after restart: %q, want during", got)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}

	// Stats.Connected means every connection is back and resubscribed,
	// so the topic subscription is live again by now.
	eventually(t, "subscriber reconnected", func() bool { return c.Stats().Connected })
	send(t, s, tp, "after", rpc.SendOptions{})
	if got := string(recv(t, subT).Body); got != "after" {
		t.Fatalf("topic after restart: %q, want after", got)
	}
	eventually(t, "sender reconnected", func() bool { return s.Stats().Connected })
	if st := s.Stats(); st.Reconnects < 1 || st.Sent != 3 {
		t.Fatalf("sender stats %+v, want ≥1 reconnect, 3 sent", st)
	}
}
