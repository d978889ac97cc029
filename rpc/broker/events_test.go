package broker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
)

func TestEmbeddedEvents(t *testing.T) { runEvents(t, newEmbedded(t)) }

func TestRabbitMQEvents(t *testing.T) { runEvents(t, newRabbit(t)) }

func runEvents(t *testing.T, tg target) {
	t.Run("Delivered", func(t *testing.T) { testEventsDelivered(t, tg) })
	t.Run("Poison", func(t *testing.T) { testEventsPoison(t, tg) })
	t.Run("Transient", func(t *testing.T) { testEventsTransient(t, tg) })
	t.Run("AckAfterCommit", func(t *testing.T) { testEventsAckAfterCommit(t, tg) })
}

func collective(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "fftest" + hex.EncodeToString(b[:])
}

func sendEvent(t *testing.T, c rpc.Connector, coll, source, body string) {
	t.Helper()
	send(t, c, broker.EventsQueue(coll), body, rpc.SendOptions{Header: map[string]string{broker.HeaderSource: source}})
}

type event struct{ source, body string }

// consume runs ConsumeEvents on its own connection until the test ends
// (or stop is called), returning the error it ended with on done.
func consume(t *testing.T, tg target, coll string, handle func(context.Context, string, []byte) error) (c *broker.Conn, stop func(), done <-chan error) {
	t.Helper()
	c = dial(t, tg)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- broker.ConsumeEvents(ctx, c, coll, handle) }()
	t.Cleanup(cancel)
	return c, cancel, ch
}

// assertQueueEmpty checks that everything before a marker in the events
// queue was acknowledged: a new consumer's first message is the marker.
func assertQueueEmpty(t *testing.T, tg target, dest string) {
	t.Helper()
	c := dial(t, tg)
	send(t, c, dest, "marker", rpc.SendOptions{})
	sub := subscribe(t, c, dest, rpc.AckClientIndividual)
	m := recv(t, sub)
	if got := string(m.Body); got != "marker" {
		t.Fatalf("%s still holds %q: it was not acknowledged", dest, got)
	}
	_ = m.Ack()
}

func testEventsDelivered(t *testing.T, tg target) {
	coll := collective(t)
	got := make(chan event, 10)
	_, stop, done := consume(t, tg, coll, func(_ context.Context, source string, body []byte) error {
		got <- event{source, string(body)}
		return nil
	})
	p := dial(t, tg)
	want := []event{{"puppet", "report 1"}, {"nagios", "check 2"}, {"suricata", "alert 3"}}
	for _, e := range want {
		sendEvent(t, p, coll, e.source, e.body)
	}
	for _, w := range want {
		select {
		case e := <-got:
			if e != w {
				t.Fatalf("handled %+v, want %+v", e, w)
			}
		case <-time.After(wait):
			t.Fatalf("event %+v not handled", w)
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ConsumeEvents after cancel = %v, want context.Canceled", err)
	}
	assertQueueEmpty(t, tg, broker.EventsQueue(coll))
}

func testEventsPoison(t *testing.T, tg target) {
	coll := collective(t)
	handled := make(chan string, 10)
	_, stop, done := consume(t, tg, coll, func(_ context.Context, source string, body []byte) error {
		handled <- string(body)
		if strings.HasPrefix(string(body), "garbage") {
			return fmt.Errorf("translate %s: %w", source, broker.Poison(errors.New("yaml: line 3: mapping values are not allowed here")))
		}
		return nil
	})
	p := dial(t, tg)
	failed := subscribe(t, p, broker.FailedEventsQueue(coll), rpc.AckClientIndividual)
	sendEvent(t, p, coll, "puppet", "garbage\x00in")
	sendEvent(t, p, coll, "puppet", "fine")

	m := recv(t, failed)
	if got, want := string(m.Body), "garbage\x00in"; got != want {
		t.Fatalf("failed queue body %q, want %q", got, want)
	}
	if got, want := m.Header[broker.HeaderError], "translate puppet: yaml: line 3: mapping values are not allowed here"; got != want {
		t.Fatalf("%s = %q, want %q", broker.HeaderError, got, want)
	}
	if got, want := m.Header[broker.HeaderSource], "puppet"; got != want {
		t.Fatalf("source = %q, want %q", got, want)
	}
	_ = m.Ack()
	for _, want := range []string{"garbage\x00in", "fine"} {
		select {
		case got := <-handled:
			if got != want {
				t.Fatalf("handled %q, want %q (a poison event must not be retried)", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("%q not handled", want)
		}
	}
	stop()
	<-done
	assertQueueEmpty(t, tg, broker.EventsQueue(coll))
}

func testEventsTransient(t *testing.T, tg target) {
	coll := collective(t)
	var mu sync.Mutex
	attempts := 0
	ok := make(chan struct{})
	_, stop, done := consume(t, tg, coll, func(context.Context, string, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts < 3 {
			return errors.New("database is locked")
		}
		close(ok)
		return nil
	})
	p := dial(t, tg)
	sendEvent(t, p, coll, "nagios", "host down")
	select {
	case <-ok:
	case <-time.After(wait):
		t.Fatal("a transiently failing event was not retried until it succeeded")
	}
	stop()
	<-done
	if attempts != 3 {
		t.Fatalf("handled %d times, want 3", attempts)
	}
	assertQueueEmpty(t, tg, broker.EventsQueue(coll))
}

// An event is acknowledged only after handle returns: if the consumer
// dies while handling it, another consumer gets it.
func testEventsAckAfterCommit(t *testing.T, tg target) {
	coll := collective(t)
	started, release := make(chan struct{}), make(chan struct{})
	c1, _, done1 := consume(t, tg, coll, func(context.Context, string, []byte) error {
		close(started)
		<-release // the "database commit" that never finishes in time
		return nil
	})
	p := dial(t, tg)
	sendEvent(t, p, coll, "ossec", "rootkit")
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("event not handled")
	}
	c1.Close() // the consumer crashes mid-handle

	got := make(chan event, 1)
	consume(t, tg, coll, func(_ context.Context, source string, body []byte) error {
		got <- event{source, string(body)}
		return nil
	})
	select {
	case e := <-got:
		if want := (event{"ossec", "rootkit"}); e != want {
			t.Fatalf("redelivered %+v, want %+v", e, want)
		}
	case <-time.After(wait):
		t.Fatal("event handled by a crashed consumer was not redelivered")
	}
	close(release)
	if err := <-done1; !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("ConsumeEvents on a closed connection = %v, want ErrClosed", err)
	}
}
