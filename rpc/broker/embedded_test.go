package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
)

func TestEmbeddedAddrAndAuth(t *testing.T) {
	et := newEmbedded(t)
	host, port, err := net.SplitHostPort(et.e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the real port", et.e.Addr())
	}
	if got, want := et.URL(), "stomp://ff:test-secret@"+et.e.Addr(); got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, u := range []string{
		"stomp://ff:wrong@" + et.e.Addr(),
		"stomp://nobody:test-secret@" + et.e.Addr(),
		"stomp://" + et.e.Addr(),
	} {
		if c, err := broker.Dial(ctx, u, broker.Options{}); err == nil {
			c.Close()
			t.Errorf("Dial(%q) succeeded, want an authentication error", u)
		}
	}
	dial(t, et) // the right password works

	if _, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}); err == nil {
		t.Error("StartEmbedded without users succeeded")
	}
	if _, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: et.e.Addr(), Users: map[string]string{"a": "b"}}); err == nil {
		t.Error("StartEmbedded on a busy port succeeded")
	}
}

// go-stomp's server crashes the process on a second delivery to an
// ack:client subscription, and stalls ack:client-individual ones: the
// embedded broker refuses both, and carries on serving everyone else.
func TestEmbeddedRefusesClientAck(t *testing.T) {
	et := newEmbedded(t)
	c := dial(t, et)
	for _, mode := range []stomp.AckMode{stomp.AckClient, stomp.AckClientIndividual} {
		raw, err := stomp.Dial("tcp", et.e.Addr(), stomp.ConnOpt.Login("ff", "test-secret"),
			stomp.ConnOpt.AcceptVersion(stomp.V11), stomp.ConnOpt.Logger(quietLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := raw.Subscribe("/queue/crash", mode)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-sub.C:
			if m == nil || m.Err == nil || !strings.Contains(m.Err.Error(), "not supported") {
				t.Fatalf("ack:%s subscription got %+v, want an ERROR saying it is not supported", mode, m)
			}
		case <-time.After(wait):
			t.Fatalf("ack:%s subscription neither refused nor served", mode)
		}
		raw.MustDisconnect()
	}
	// Still serving.
	sub := subscribe(t, c, "/queue/crash", rpc.AckClientIndividual)
	for i := range 3 {
		send(t, c, "/queue/crash", fmt.Sprint(i), rpc.SendOptions{})
		m := recv(t, sub)
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}

// The embedded broker drops expired messages from a queue nobody reads,
// not only when they reach a consumer.
func TestEmbeddedSweepsExpired(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{
		Addr:          "127.0.0.1:0",
		Users:         map[string]string{"ff": "x"},
		SweepInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := broker.Dial(ctx, e.URL("ff"), broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	q := name(t, "queue")
	for range 5 {
		send(t, c, q, "x", rpc.SendOptions{TTL: 100 * time.Millisecond})
	}
	send(t, c, q, "keep", rpc.SendOptions{})
	eventually(t, "sweep", func() bool {
		st := e.Stats()
		return st.Expired == 5 && st.Queued == 1
	})
}

// TestEmbeddedSlowSubscriber measures go-stomp's weakness and the
// connector's protection against it. go-stomp's server routes every frame
// from one goroutine and blocks when a connection's 16-frame write queue
// is full, so a subscriber that stops reading its socket stalls every
// destination once the TCP buffers are full.
//
// Without protection (a plain go-stomp client that never reads) the test
// only logs how much of an unrelated destination got through. With
// broker.Conn it asserts that everything sent to the other destinations
// arrives, on the very connection that carries the stalled subscriptions.
func TestEmbeddedSlowSubscriber(t *testing.T) {
	const (
		floodN    = 400      // messages to the stalled destinations
		floodSize = 64 << 10 // 400 × 64 KiB = 25 MiB, far beyond socket buffers
		fastN     = 100      // messages to each flowing destination
	)
	flood := make([]byte, floodSize)

	t.Run("unprotected", func(t *testing.T) {
		et := newEmbedded(t)
		// A go-stomp client that subscribes and never reads; a small
		// receive buffer makes its socket fill quickly.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			})
		}}
		nc, err := d.Dial("tcp", et.e.Addr())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := stomp.Connect(nc, stomp.ConnOpt.Login("ff", "test-secret"),
			stomp.ConnOpt.HeartBeat(0, 0), stomp.ConnOpt.Logger(quietLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := raw.Subscribe("/topic/slow", stomp.AckAuto); err != nil {
			t.Fatal(err)
		}

		fast := dial(t, et)
		sub := subscribe(t, fast, "/topic/fast", rpc.AckAuto)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { floodAndFlow(ctx, t, et, "/topic/slow", flood, floodN, "/topic/fast", fastN) })
		got := count(sub, fastN, 5*time.Second)
		t.Logf("without protection: %d/%d messages to /topic/fast arrived within 5s, after a flood to a stalled /topic/slow subscriber", got, fastN)
		// The broker may now be wedged for good (see the package
		// documentation): close it under everyone.
		et.Stop(t)
		cancel()
		wg.Wait()
	})

	t.Run("protected", func(t *testing.T) {
		et := newEmbedded(t)
		// Room for the whole /topic/fast burst, not for the flood.
		c := dialOpts(t, et, broker.Options{TopicBuffer: fastN})
		// Stalled: nobody ever reads these two.
		subscribe(t, c, "/topic/slow", rpc.AckAuto)
		subscribe(t, c, "/queue/slow", rpc.AckClientIndividual)
		// Flowing, on the same Conn.
		fastT := subscribe(t, c, "/topic/fast", rpc.AckAuto)
		fastQ := subscribe(t, c, "/queue/fast", rpc.AckClientIndividual)

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { floodAndFlow(ctx, t, et, "/topic/slow", flood, floodN, "/topic/fast", fastN) })
		wg.Go(func() { floodAndFlow(ctx, t, et, "/queue/slow", flood, floodN, "/queue/fast", fastN) })
		var gotT, gotQ int
		var rg sync.WaitGroup
		rg.Go(func() { gotT = count(fastT, fastN, wait) })
		rg.Go(func() { gotQ = count(fastQ, fastN, wait) })
		rg.Wait()
		elapsed := time.Since(start)
		wg.Wait()
		if gotT != fastN || gotQ != fastN {
			t.Fatalf("with a stalled subscriber on the same connection, /topic/fast got %d/%d and /queue/fast %d/%d",
				gotT, fastN, gotQ, fastN)
		}
		eventually(t, "stalled topic subscriber drops", func() bool { return c.Stats().Dropped > 0 })
		eventually(t, "stalled queue subscriber leaves messages queued", func() bool { return et.e.Stats().Queued > 0 })
		t.Logf("with broker.Conn: %d+%d messages to /topic/fast and /queue/fast arrived in %v; "+
			"the stalled /topic/slow subscriber dropped %d of %d, and %d of %d /queue/slow messages stayed queued in the broker",
			gotT, gotQ, elapsed.Round(time.Millisecond), c.Stats().Dropped, floodN, et.e.Stats().Queued, floodN)
	})
}

// floodAndFlow sends n copies of flood to slow and then fastN small
// messages to fast, each from its own connection. Send errors are
// expected when the broker stalls; they end the sending.
func floodAndFlow(ctx context.Context, t *testing.T, tg target, slow string, flood []byte, n int, fast string, fastN int) {
	p1 := dialOpts(t, tg, broker.Options{SendTimeout: time.Second})
	p2 := dialOpts(t, tg, broker.Options{SendTimeout: time.Second})
	for range n {
		if err := p1.Send(ctx, slow, flood, rpc.SendOptions{}); err != nil {
			break
		}
	}
	for i := range fastN {
		if err := p2.Send(ctx, fast, []byte(fmt.Sprint(i)), rpc.SendOptions{}); err != nil {
			return
		}
	}
}

// count reads up to n messages from sub within d, acknowledging them.
func count(sub rpc.Subscription, n int, d time.Duration) int {
	deadline := time.After(d)
	for got := 0; ; got++ {
		if got == n {
			return got
		}
		select {
		case m, ok := <-sub.C():
			if !ok {
				return got
			}
			if err := m.Ack(); err != nil && !errors.Is(err, rpc.ErrClosed) {
				return got
			}
		case <-deadline:
			return got
		}
	}
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Errorf(string, ...any)   {}
func (quietLogger) Debug(string)            {}
func (quietLogger) Info(string)             {}
func (quietLogger) Warning(string)          {}
func (quietLogger) Error(string)            {}
