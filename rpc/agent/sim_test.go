package agent

import (
	"context"
	"fmt"
	"testing"

	"fleetfeed/rpc"
	"fleetfeed/rpc/internal/memconn"
)

// simFixture is a simulated fleet on an in-memory broker, with a client
// (alice) that may do anything and a key ring that trusts the fleet's
// replies.
type simFixture struct {
	broker  *memconn.Broker
	client  *rpc.Signer
	conn    *memconn.Conn
	sim     *Sim
	replies rpc.Subscription
	fleet   *rpc.KeyRing
	cancel  context.CancelFunc
	done    chan error
}

func newSimFixture(tb testing.TB, count int, perAgent bool, change ...func(*SimConfig)) *simFixture {
	tb.Helper()
	clientPub, clientKey := newKey(tb)
	trusted := rpc.NewKeyRing()
	if err := trusted.Add("alice", clientPub); err != nil {
		tb.Fatal(err)
	}
	b := memconn.New()
	f := &simFixture{broker: b, client: &rpc.Signer{Name: "alice", Key: clientKey}, conn: b.Connect()}
	cfg := SimConfig{
		Count:                count,
		Collective:           testCollective,
		Keys:                 trusted,
		Policy:               rpc.Policy{Default: rpc.Allow},
		RegistrationInterval: -1,
		PerAgentBroadcast:    perAgent,
	}
	for _, c := range change {
		c(&cfg)
	}
	sim, err := NewSim(cfg, []rpc.Connector{b.Connect(), b.Connect()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	f.sim = sim
	f.fleet = rpc.NewKeyRing()
	if err := f.fleet.Add(sim.KeyName(), sim.PublicKey(), "*"); err != nil {
		tb.Fatal(err)
	}
	f.replies, err = f.conn.Subscribe(context.Background(), rpc.ReplyDestination(testCollective, "cli-alice"), rpc.AckAuto)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- sim.Run(ctx) }()
	tb.Cleanup(func() {
		f.stop(tb)
		sim.Close()
	})
	// Every agent is consuming once it has answered a direct ping, and
	// the shared broadcast subscriptions are made before any agent starts.
	for _, a := range sim.Agents() {
		f.send(tb, rpc.NodeDestination(testCollective, a.Identity()), f.ping(tb, &rpc.Filter{Identity: []string{a.Identity()}}))
	}
	f.collect(tb, count, true)
	return f
}

func (f *simFixture) stop(tb testing.TB) {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	if err := <-f.done; err != nil {
		tb.Errorf("Sim.Run: %v", err)
	}
}

func (f *simFixture) ping(tb testing.TB, filter *rpc.Filter) []byte {
	tb.Helper()
	return f.request(tb, "rpcutil", "ping", nil, filter)
}

func (f *simFixture) request(tb testing.TB, agent, action string, data map[string]any, filter *rpc.Filter) []byte {
	tb.Helper()
	req := rpc.NewRequest(testCollective, agent, action, data)
	req.SenderID, req.CallerID, req.Filter = "cli-alice", "user=alice", filter
	body, err := f.client.SignRequest(req)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func (f *simFixture) send(tb testing.TB, dest string, body []byte) {
	tb.Helper()
	if err := f.conn.Send(context.Background(), dest, body, rpc.SendOptions{}); err != nil {
		tb.Fatal(err)
	}
}

// collect reads n replies and returns the senders; it checks their
// signatures if verify is set.
func (f *simFixture) collect(tb testing.TB, n int, verify bool) map[string]bool {
	tb.Helper()
	senders := map[string]bool{}
	for range n {
		m := <-f.replies.C()
		if !verify {
			continue
		}
		rep, err := rpc.VerifyReply(m.Body, f.fleet)
		if err != nil {
			tb.Fatal(err)
		}
		if rep.StatusCode != rpc.StatusOK {
			tb.Fatalf("%s: %s", rep.SenderID, rep.StatusMsg)
		}
		senders[rep.SenderID] = true
	}
	return senders
}

func TestSimBroadcast(t *testing.T) {
	for _, perAgent := range []bool{false, true} {
		t.Run(fmt.Sprintf("per-agent=%v", perAgent), func(t *testing.T) {
			const count = 40
			f := newSimFixture(t, count, perAgent)
			replyDest := rpc.ReplyDestination(testCollective, "cli-alice")
			before := f.broker.Sent(replyDest)
			// One node in four is a database (DemoIdentity, DemoFacts).
			f.send(t, rpc.BroadcastDestination(testCollective, "rpcutil"), f.ping(t, &rpc.Filter{Class: []string{"roles::database"}}))
			senders := f.collect(t, count/4, true)
			for s := range senders {
				if s[:2] != "db" {
					t.Errorf("%s answered a database-only ping", s)
				}
			}
			f.stop(t) // every agent has finished with the broadcast
			if got, want := f.broker.Sent(replyDest)-before, count/4; got != want {
				t.Fatalf("%d replies, want %d", got, want)
			}
			st := f.sim.Stats()
			if got, want := st.Dropped[ReasonNotTargeted], uint64(count-count/4); got != want {
				t.Fatalf("not targeted = %d, want %d", got, want)
			}
		})
	}
}

func TestSimRegistration(t *testing.T) {
	clientPub, _ := newKey(t)
	trusted := rpc.NewKeyRing()
	if err := trusted.Add("alice", clientPub); err != nil {
		t.Fatal(err)
	}
	sim, err := NewSim(SimConfig{Count: 3, Keys: trusted}, []rpc.Connector{memconn.New().Connect()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ring := rpc.NewKeyRing()
	if err := ring.Add(sim.KeyName(), sim.PublicKey(), "*"); err != nil {
		t.Fatal(err)
	}
	a := sim.Agents()[2]
	reg := a.Registration()
	if got, want := reg.Identity, "db0002.sim.example.net"; got != want {
		t.Fatalf("identity = %q, want %q", got, want)
	}
	if reg.Location == nil || reg.Location.Datacenter == "" || reg.Location.Latitude == nil {
		t.Fatalf("location = %+v", reg.Location)
	}
	if got, want := len(reg.MACs), 1; got != want {
		t.Fatalf("macs = %v", reg.MACs)
	}
	body, err := a.signer.SignRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.VerifyRegistration(body, ring); err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
}

// BenchmarkSimBroadcast measures one broadcast ping answered by every
// agent of a simulated fleet on the in-memory broker: the agents' share
// of the cost (verify, filter, run, sign the reply), without a network
// and without the client's checking of the replies, which is the client's
// benchmark.
func BenchmarkSimBroadcast(b *testing.B) {
	for _, count := range []int{1000, 10000} {
		b.Run(fmt.Sprint(count), func(b *testing.B) {
			f := newSimFixture(b, count, false)
			for b.Loop() {
				f.send(b, rpc.BroadcastDestination(testCollective, "rpcutil"), f.ping(b, nil))
				f.collect(b, count, false)
			}
			b.ReportMetric(float64(count)*float64(b.N)/b.Elapsed().Seconds(), "replies/s")
		})
	}
}

// OnPuppetRun hears of each Puppet run a simulated agent starts, and of
// nothing else.
func TestSimOnPuppetRun(t *testing.T) {
	type run struct {
		identity string
		noop     bool
	}
	runs := make(chan run, 10)
	f := newSimFixture(t, 4, false, func(c *SimConfig) {
		c.OnPuppetRun = func(identity string, noop bool) { runs <- run{identity, noop} }
	})
	ids := []string{f.sim.Agents()[1].Identity(), f.sim.Agents()[2].Identity()}
	for i, data := range []map[string]any{{"noop": true}, {"force": true}} {
		f.send(t, rpc.NodeDestination(testCollective, ids[i]), f.request(t, "puppet", "runonce", data, &rpc.Filter{Identity: []string{ids[i]}}))
		f.collect(t, 1, true)
	}
	f.stop(t)
	close(runs)
	var got []run
	for r := range runs {
		got = append(got, r)
	}
	if want := []run{{ids[0], true}, {ids[1], false}}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("runs %+v, want %+v", got, want)
	}
}
