// Package rpctest runs a simulated fleet for tests and benchmarks of RPC
// clients: an embedded STOMP broker on a free loopback port (or a broker
// the test names), a Sim of agents that trust a test client key, and the
// key files a command-line client needs.
//
//	f := rpctest.NewFleet(t, rpctest.Options{Count: 40})
//	c := f.Client(t, f.Dial(t))
//	res, err := c.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Filter: …})
package rpctest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker"
)

// Names of the test keys and the collective.
const (
	Collective = "fleetfeed"
	ClientName = "alice" // the client key's name; agents trust it for user=alice
	CallerID   = "user=alice"
	SimKeyName = "sim" // the fleet's key, trusted for every sender
	login      = "ff"
	passcode   = "test-secret"
)

// Wait is the generous deadline for anything that should happen soon:
// tests never assert that something is fast, only that it happens.
const Wait = 30 * time.Second

// Options configure NewFleet.
type Options struct {
	// Count is the number of simulated agents (default 12).
	Count int
	// Facts gives agent i its facts and classes; nil gives agent.DemoFacts.
	Facts func(i int, identity string) (map[string]any, []string)
	// URL names a running broker (RabbitMQ); empty starts an embedded one.
	URL string
	// PerAgentBroadcast: every agent subscribes to the broadcast topics
	// itself, as real nodes do.
	PerAgentBroadcast bool
	// Runner runs the agents' commands; nil pretends (agent.SimRunner).
	Runner agent.Runner
	// Workers bounds each agent's concurrent requests (default 2).
	Workers int
}

// Fleet is a running simulated fleet.
type Fleet struct {
	// URL is the broker's stomp:// URL, with credentials.
	URL      string
	Embedded *broker.Embedded // nil when Options.URL was given
	Sim      *agent.Sim
	// ClientKey signs requests as ClientName; Trusted is the key ring a
	// client checks the fleet's replies with.
	ClientKey ed25519.PrivateKey
	Trusted   *rpc.KeyRing
	// AgentKeys is the ring the agents trust (ClientName); tests add
	// keys to it for agents they start themselves.
	AgentKeys *rpc.KeyRing
	// Dir holds client.key (ClientKey), alice.pub and sim.pub.
	Dir string
}

// NewFleet starts a fleet and stops it when tb ends. It returns once every
// agent answers.
func NewFleet(tb testing.TB, opts Options) *Fleet {
	tb.Helper()
	if opts.Count <= 0 {
		opts.Count = 12
	}
	f := &Fleet{URL: opts.URL, Dir: tb.TempDir()}
	if f.URL == "" {
		e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", Users: map[string]string{login: passcode}})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { e.Close() })
		f.Embedded, f.URL = e, e.URL(login)
	}
	clientPub, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	_, simKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	f.ClientKey = clientKey
	f.AgentKeys = rpc.NewKeyRing()
	if err := f.AgentKeys.Add(ClientName, clientPub); err != nil {
		tb.Fatal(err)
	}
	f.Trusted = rpc.NewKeyRing()
	if err := f.Trusted.Add(SimKeyName, simKey.Public().(ed25519.PublicKey), "*"); err != nil {
		tb.Fatal(err)
	}
	f.writeKeys(tb, clientKey, simKey)
	conns := []rpc.Connector{f.Dial(tb), f.Dial(tb)}
	sim, err := agent.NewSim(agent.SimConfig{
		Count:                opts.Count,
		Collective:           Collective,
		Facts:                opts.Facts,
		Key:                  simKey,
		KeyName:              SimKeyName,
		Keys:                 f.AgentKeys,
		Policy:               rpc.Policy{Default: rpc.Allow},
		RegistrationInterval: -1,
		PerAgentBroadcast:    opts.PerAgentBroadcast,
		Runner:               opts.Runner,
		Workers:              opts.Workers,
	}, conns, nil)
	if err != nil {
		tb.Fatal(err)
	}
	f.Sim = sim
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("sim: %v", err)
		}
		sim.Close()
	})
	f.WaitReady(tb, f.Identities()...)
	return f
}

func (f *Fleet) writeKeys(tb testing.TB, clientKey, simKey ed25519.PrivateKey) {
	tb.Helper()
	priv, err := rpc.MarshalPrivateKey(clientKey)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := rpc.MarshalPublicKey(clientKey.Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	simPub, err := rpc.MarshalPublicKey(simKey.Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	for name, data := range map[string][]byte{"client.key": priv, ClientName + ".pub": pub, SimKeyName + ".pub": simPub} {
		if err := os.WriteFile(filepath.Join(f.Dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// Dial connects to the fleet's broker; the connection closes when tb ends.
func (f *Fleet) Dial(tb testing.TB) rpc.Connector {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	c, err := broker.Dial(ctx, f.URL, broker.Options{TopicBuffer: 1 << 16})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Client returns a client of the fleet on conn, signing as ClientName,
// with the builtin DDLs; it closes when tb ends.
func (f *Fleet) Client(tb testing.TB, conn rpc.Connector) *rpc.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	c, err := rpc.NewClient(ctx, conn, rpc.ClientConfig{
		Collective: Collective,
		CallerID:   CallerID,
		Signer:     &rpc.Signer{Name: ClientName, Key: f.ClientKey},
		Trusted:    f.Trusted,
		DDLs:       agent.BuiltinDDLs(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// WaitReady returns once each named node answers a direct ping (queued
// until the node subscribes), so that it is also subscribed to its
// broadcast topics.
func (f *Fleet) WaitReady(tb testing.TB, nodes ...string) {
	tb.Helper()
	conn := f.Dial(tb)
	c := f.Client(tb, conn)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	res, err := c.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Targets: nodes, Timeout: Wait})
	if err != nil {
		tb.Fatal(err)
	}
	if len(res.Stats.NoResponse) > 0 {
		tb.Fatalf("fleet not ready: no answer from %v", res.Stats.NoResponse)
	}
	c.Close()
	conn.Close()
}

// Identities returns the agents' identities in order.
func (f *Fleet) Identities() []string {
	var ids []string
	for _, a := range f.Sim.Agents() {
		ids = append(ids, a.Identity())
	}
	return ids
}

// Inventories returns what each agent registers: an inventory source.
func (f *Fleet) Inventories() []rpc.Inventory {
	var invs []rpc.Inventory
	for _, a := range f.Sim.Agents() {
		invs = append(invs, a.Inventory())
	}
	return invs
}
