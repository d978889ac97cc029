package agent

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"fleetfeed/rpc"
)

// startAgent runs h's agent until the test ends and returns a channel
// with Run's result.
func startAgent(t *testing.T, h *harness) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return done
}

func TestRunDirectAndBroadcast(t *testing.T) {
	h := newHarness(t)
	replies := h.replies()
	ctx := context.Background()
	// A direct request sent before the agent is up waits in its queue.
	direct := h.request(nil)
	if err := h.conn.Send(ctx, rpc.NodeDestination(testCollective, testIdentity), h.sign(direct),
		rpc.SendOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	startAgent(t, h)
	rep := h.nextReply(replies)
	if got, want := rep.RequestID, direct.RequestID; got != want {
		t.Fatalf("reply to %q, want %q", got, want)
	}
	// The agent consumes its queue only once every subscription is made,
	// so the broadcast topic is live now.
	if got, want := h.broker.Subscribers(rpc.BroadcastDestination(testCollective, "recorder")), 1; got != want {
		t.Fatalf("broadcast subscribers = %d, want %d", got, want)
	}
	bcast := h.request(func(r *rpc.Request) { r.Filter = &rpc.Filter{Class: []string{"roles::frontend_web"}} })
	if err := h.conn.Send(ctx, rpc.BroadcastDestination(testCollective, "recorder"), h.sign(bcast), rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	rep = h.nextReply(replies)
	if got, want := rep.RequestID, bcast.RequestID; got != want {
		t.Fatalf("reply to %q, want %q", got, want)
	}
	if got, want := h.rec.count(), 2; got != want {
		t.Fatalf("calls = %d, want %d", got, want)
	}
}

// A direct request that waited in the queue past its TTL is refused when
// the node comes up.
func TestRunRefusesExpiredQueuedRequest(t *testing.T) {
	h := newHarness(t)
	replies := h.replies()
	ctx := context.Background()
	old := h.request(func(r *rpc.Request) { r.MsgTime = testNow.Add(-2 * time.Minute).Unix() })
	fresh := h.request(nil)
	for _, req := range []*rpc.Request{old, fresh} {
		if err := h.conn.Send(ctx, rpc.NodeDestination(testCollective, testIdentity), h.sign(req), rpc.SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(ctx) }()
	if got, want := h.nextReply(replies).RequestID, fresh.RequestID; got != want {
		t.Fatalf("reply to %q, want the fresh request %q", got, want)
	}
	// Workers run concurrently: the old request may still be in its
	// checks. Stopping the agent waits for them, so the counts are final.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := h.rec.count(), 1; got != want {
		t.Fatalf("calls = %d, want %d", got, want)
	}
	if got, want := h.agent.Stats().Dropped[ReasonExpired], uint64(1); got != want {
		t.Fatalf("dropped[expired] = %d, want %d", got, want)
	}
}

func TestRunRegisters(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RegistrationInterval = time.Hour })
	regs, err := h.conn.Subscribe(context.Background(), rpc.RegistrationDestination(testCollective), rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, h)
	m := <-regs.C()
	reg, err := rpc.VerifyRegistration(m.Body, h.agents)
	if err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	if got, want := reg.Identity, testIdentity; got != want {
		t.Errorf("identity = %q, want %q", got, want)
	}
	if got, want := reg.Interval, 3600; got != want {
		t.Errorf("interval = %d, want %d", got, want)
	}
	if got, want := reg.Location.Datacenter, "ams1"; got != want {
		t.Errorf("datacenter = %q, want %q", got, want)
	}
	if reg.Location.Latitude == nil || *reg.Location.Latitude != 52.37 {
		t.Errorf("latitude = %v, want 52.37", reg.Location.Latitude)
	}
	if got, want := reg.MACs, []string{"02:00:00:00:00:01"}; !slices.Equal(got, want) {
		t.Errorf("macs = %v, want %v", got, want)
	}
	if got, want := reg.Agents, []string{"recorder", "rpcutil"}; !slices.Equal(got, want) {
		t.Errorf("agents = %v, want %v", got, want)
	}
	if got, want := reg.Classes, []string{"roles::frontend_web"}; !slices.Equal(got, want) {
		t.Errorf("classes = %v, want %v", got, want)
	}
	if got, want := reg.Time, testNow.Unix(); got != want {
		t.Errorf("time = %d, want %d", got, want)
	}
	if reg.PublicKey == "" {
		t.Error("no public key")
	}
}

func TestRunEndsWhenSubscriptionEnds(t *testing.T) {
	h := newHarness(t)
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(context.Background()) }()
	// Wait until Run is serving: a direct ping is answered.
	replies := h.replies()
	if err := h.conn.Send(context.Background(), rpc.NodeDestination(testCollective, testIdentity), h.sign(h.request(nil)), rpc.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	h.nextReply(replies)
	h.conn.Close()
	if err := <-done; !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("Run = %v, want ErrClosed", err)
	}
}
