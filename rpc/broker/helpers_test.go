package broker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
	"fleetfeed/rpc/broker/rabbittest"
)

func TestMain(m *testing.M) { os.Exit(rabbittest.Main(m)) }

// wait is the generous deadline for anything that should happen "soon".
// Tests never assert that something is fast, only that it happens.
const wait = 30 * time.Second

// target is a broker the contract suite runs against.
type target interface {
	// URL returns a stomp:// URL with credentials.
	URL() string
	// Stop stops the broker; Start starts it again on the same address.
	Stop(tb testing.TB)
	Start(tb testing.TB)
}

// embeddedTarget is a broker.Embedded on a loopback port.
type embeddedTarget struct {
	cfg broker.EmbeddedConfig
	e   *broker.Embedded
}

func newEmbedded(tb testing.TB) *embeddedTarget {
	tb.Helper()
	et := &embeddedTarget{cfg: broker.EmbeddedConfig{
		Addr:   "127.0.0.1:0",
		Users:  map[string]string{"ff": "test-secret"},
		Logger: testLogger(tb),
	}}
	et.Start(tb)
	et.cfg.Addr = et.e.Addr() // restarts reuse the port
	tb.Cleanup(func() { et.e.Close() })
	return et
}

func (et *embeddedTarget) URL() string { return et.e.URL("ff") }

func (et *embeddedTarget) Stop(tb testing.TB) {
	if err := et.e.Close(); err != nil {
		tb.Fatal(err)
	}
}

func (et *embeddedTarget) Start(tb testing.TB) {
	tb.Helper()
	e, err := broker.StartEmbedded(et.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	et.e = e
}

// rabbitTarget is the test binary's RabbitMQ node.
type rabbitTarget struct{ srv *rabbittest.Server }

func newRabbit(tb testing.TB) *rabbitTarget {
	return &rabbitTarget{srv: rabbittest.Shared(tb)}
}

func (rt *rabbitTarget) URL() string { return rt.srv.URL() }

func (rt *rabbitTarget) Stop(tb testing.TB) {
	if err := rt.srv.Stop(); err != nil {
		tb.Fatal(err)
	}
}

func (rt *rabbitTarget) Start(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := rt.srv.Restart(ctx); err != nil {
		tb.Fatal(err)
	}
}

// testLogger writes to the test's output, shown with -v or on failure,
// until the test ends: go-stomp's server goroutines outlive the broker
// they belong to, and log when their connections close.
func testLogger(tb testing.TB) *slog.Logger {
	w := &testWriter{w: tb.Output()}
	tb.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

// dial connects to tg with quick reconnection, closing the Conn at the
// end of the test.
func dial(t *testing.T, tg target) *broker.Conn {
	t.Helper()
	return dialOpts(t, tg, broker.Options{})
}

func dialOpts(tb testing.TB, tg target, opts broker.Options) *broker.Conn {
	tb.Helper()
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin = 50 * time.Millisecond
	}
	if opts.ReconnectMax == 0 {
		opts.ReconnectMax = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := broker.Dial(ctx, tg.URL(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func subscribe(tb testing.TB, c rpc.Connector, dest string, mode rpc.AckMode) rpc.Subscription {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sub, err := c.Subscribe(ctx, dest, mode)
	if err != nil {
		tb.Fatal(err)
	}
	return sub
}

func send(t *testing.T, c rpc.Connector, dest, body string, opts rpc.SendOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Send(ctx, dest, []byte(body), opts); err != nil {
		t.Fatal(err)
	}
}

// recv returns the next message of sub, failing the test if none comes.
func recv(t *testing.T, sub rpc.Subscription) *rpc.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed while waiting for a message")
		}
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

// waitClosed reads sub until its channel is closed, failing on any message.
func waitClosed(t *testing.T, sub rpc.Subscription) {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if ok {
			t.Fatalf("message %q after the subscription ended", m.Body)
		}
	case <-time.After(wait):
		t.Fatal("subscription channel not closed")
	}
}

// eventually polls cond until it holds, failing after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// name returns a destination name unique to this test run, so tests
// sharing a RabbitMQ node never see each other's leftovers.
func name(tb testing.TB, kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := strings.NewReplacer("/", ".", " ", "_").Replace(tb.Name())
	return "/" + kind + "/fftest." + n + "." + hex.EncodeToString(b[:])
}
