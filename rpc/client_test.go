package rpc_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker/rabbittest"
	"fleetfeed/rpc/rpctest"
)

func TestMain(m *testing.M) { os.Exit(rabbittest.Main(m)) }

// fleetSize is the number of simulated agents of the integration tests.
// Agent i is named by agent.DemoIdentity and has agent.DemoFacts: role
// web, web, db, lb by i%4; datacenter ams1, fra2, nyc3, sfo1, sin1 by
// i%5; environment staging when i%10 == 9; processors.count 2, 4, 8 and
// memory.system.total_bytes 4, 8, 16 GiB by i%3.
const fleetSize = 40

func id(i int) string { return agent.DemoIdentity(i) }

// filterCase is a filter and, independently of the matcher, which demo
// nodes it selects.
type filterCase struct {
	name   string
	filter *rpc.Filter
	want   func(i int) bool
}

func facts(t *testing.T, ss ...string) []rpc.FactFilter {
	t.Helper()
	var out []rpc.FactFilter
	for _, s := range ss {
		ff, err := rpc.ParseFactFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ff)
	}
	return out
}

func filterCases(t *testing.T) []filterCase {
	return []filterCase{
		{"identity regex", &rpc.Filter{Identity: []string{"/^db/"}}, func(i int) bool { return i%4 == 2 }},
		{"identities or", &rpc.Filter{Identity: []string{"/^db/", "/^lb/"}}, func(i int) bool { return i%4 >= 2 }},
		{"fact ==", &rpc.Filter{Fact: facts(t, "environment=staging")}, func(i int) bool { return i%10 == 9 }},
		{"fact !=", &rpc.Filter{Fact: facts(t, "environment!=staging")}, func(i int) bool { return i%10 != 9 }},
		{"fact >", &rpc.Filter{Fact: facts(t, "processors.count>2")}, func(i int) bool { return i%3 != 0 }},
		{"fact <", &rpc.Filter{Fact: facts(t, "processors.count<4")}, func(i int) bool { return i%3 == 0 }},
		{"fact >=", &rpc.Filter{Fact: facts(t, "processors.count>=4")}, func(i int) bool { return i%3 != 0 }},
		{"fact <=", &rpc.Filter{Fact: facts(t, "processors.count<=4")}, func(i int) bool { return i%3 != 2 }},
		// 17179869184 > 8589934592 as numbers, not as strings.
		{"fact > numeric", &rpc.Filter{Fact: facts(t, "memory.system.total_bytes>8589934592")}, func(i int) bool { return i%3 == 2 }},
		{"fact =~", &rpc.Filter{Fact: facts(t, "datacenter=~^(ams|fra)")}, func(i int) bool { return i%5 < 2 }},
		{"fact =/re/", &rpc.Filter{Fact: facts(t, "datacenter=/SIN/")}, func(i int) bool { return i%5 == 4 }},
		{"fact nested", &rpc.Filter{Fact: facts(t, "os.release.major=12", "networking.hostname=/^lb/")}, func(i int) bool { return i%4 == 3 }},
		{"class", &rpc.Filter{Class: []string{"roles::database"}}, func(i int) bool { return i%4 == 2 }},
		{"class regex", &rpc.Filter{Class: []string{"/load_bal/"}}, func(i int) bool { return i%4 == 3 }},
		{"agent", &rpc.Filter{Agent: []string{"puppet"}}, func(int) bool { return true }},
		{"class and fact", &rpc.Filter{Class: []string{"/frontend/"}, Fact: facts(t, "datacenter=ams1")},
			func(i int) bool { return i%4 < 2 && i%5 == 0 }},
		{"compound", &rpc.Filter{Compound: []string{"roles::database or (environment=staging and not /frontend/)"}},
			func(i int) bool { return i%4 == 2 || (i%10 == 9 && i%4 >= 2) }},
		{"compound functions", &rpc.Filter{Compound: []string{"identity(/^web/) and agent(service) and processors.count=8"}},
			func(i int) bool { return i%4 < 2 && i%3 == 2 }},
	}
}

func expected(want func(int) bool) []string {
	var out []string
	for i := range fleetSize {
		if want(i) {
			out = append(out, id(i))
		}
	}
	slices.Sort(out)
	return out
}

func ping(t *testing.T, c *rpc.Client, call rpc.Call) *rpc.Result {
	t.Helper()
	call.Agent, call.Action = "rpcutil", "ping"
	if call.Timeout == 0 {
		call.Timeout = rpctest.Wait
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*rpctest.Wait)
	defer cancel()
	res, err := c.Do(ctx, call)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return res
}

func senders(res *rpc.Result) []string {
	var out []string
	for _, r := range res.Replies {
		out = append(out, r.SenderID)
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// nodeServer serves the fleet's registrations as the fleetfeed server's
// GET /api/v1/nodes does: from a nodes.Store in a real database.
func nodeServer(t testing.TB, f *rpctest.Fleet) *httptest.Server {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "nodes.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &nodes.Store{DB: db}
	ctx := context.Background()
	for _, a := range f.Sim.Agents() {
		reg := a.Registration()
		if _, err := store.Upsert(ctx, reg.Identity, nodes.Profile{Classes: reg.Classes, Facts: reg.Facts, Agents: reg.Agents}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		list, err := store.List(r.Context(), nodes.ListOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFilters runs every filter operator through broadcast discovery
// (the agents evaluate the filter) and inventory discovery (the client
// does, on the server's node table), and checks who answered.
func TestFilters(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: fleetSize})
	c := f.Client(t, f.Dial(t))
	inv := &rpc.InventoryDiscovery{Source: &rpc.HTTPInventory{URL: nodeServer(t, f).URL}}
	cases := filterCases(t)
	for _, method := range []string{"broadcast", "inventory"} {
		// Every call at once: each broadcast waits the discovery timeout
		// (t.Parallel would run only GOMAXPROCS of them at a time).
		results := make([]*rpc.Result, len(cases))
		errs := make([]error, len(cases))
		var wg sync.WaitGroup
		for i, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call := rpc.Call{Agent: "rpcutil", Action: "ping", Filter: tc.filter, Timeout: rpctest.Wait}
				if method == "inventory" {
					call.Discoverer = inv
				}
				results[i], errs[i] = c.Do(context.Background(), call)
			}()
		}
		wg.Wait()
		t.Run(method, func(t *testing.T) {
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					res, err := results[i], errs[i]
					if err != nil {
						t.Fatalf("Do: %v", err)
					}
					want := expected(tc.want)
					if got := sorted(res.Stats.Targets); !slices.Equal(got, want) {
						t.Fatalf("discovered %v\nwant %v", got, want)
					}
					if got := senders(res); !slices.Equal(got, want) {
						t.Fatalf("answered %v\nwant %v", got, want)
					}
					if got, want := res.Stats.Method, method; got != want {
						t.Fatalf("method = %q, want %q", got, want)
					}
				})
			}
		})
	}
	t.Run("no match", func(t *testing.T) {
		for _, d := range []rpc.Discoverer{inv, nil} {
			_, err := c.Do(context.Background(), rpc.Call{Agent: "rpcutil", Action: "ping", Discoverer: d,
				Filter: &rpc.Filter{Agent: []string{"nosuchagent"}}, DiscoveryTimeout: 500 * time.Millisecond})
			if !errors.Is(err, rpc.ErrNoNodes) {
				t.Fatalf("Do = %v, want ErrNoNodes", err)
			}
		}
	})
}

// TestDiscoveryLists covers flatfile and stdin discovery: a list of
// names, filtered by identity only.
func TestDiscoveryLists(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 8})
	c := f.Client(t, f.Dial(t))
	flat, err := rpc.ParseNodeList([]byte("# web nodes\n" + id(0) + "\n\n" + id(1) + "  # the second\n" + id(2) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := ping(t, c, rpc.Call{Discoverer: &rpc.NodeList{Name: "flatfile", Nodes: flat}})
	if got, want := senders(res), []string{id(2), id(0), id(1)}; !slices.Equal(got, want) {
		t.Fatalf("flatfile answered %v, want %v", got, want)
	}
	// The -j output of a call, read back.
	stdin, err := rpc.ParseNodeList([]byte(`{"agent":"rpcutil","replies":[{"sender":"` + id(3) + `"},{"sender":"` + id(5) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res = ping(t, c, rpc.Call{Discoverer: &rpc.NodeList{Name: "stdin", Nodes: stdin}, Filter: &rpc.Filter{Identity: []string{"/^lb/"}}})
	if got, want := senders(res), []string{id(3)}; !slices.Equal(got, want) || res.Stats.Method != "stdin" {
		t.Fatalf("stdin answered %v by %s, want %v", got, res.Stats.Method, want)
	}
	_, err = c.Do(context.Background(), rpc.Call{Agent: "rpcutil", Action: "ping",
		Discoverer: &rpc.NodeList{Name: "flatfile", Nodes: flat}, Filter: &rpc.Filter{Class: []string{"x"}}})
	if !errors.Is(err, rpc.ErrDiscoveryFilter) || !rpc.IsUsage(err) {
		t.Fatalf("class filter on a flat file: %v, want ErrDiscoveryFilter", err)
	}
}

// TestDirect: literal identities skip discovery and go only to those
// nodes; the ones that do not exist are reported.
func TestDirect(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 12})
	c := f.Client(t, f.Dial(t))
	before := f.Sim.Stats().Received
	res := ping(t, c, rpc.Call{Filter: &rpc.Filter{Identity: []string{id(0), "ghost1.example.net", id(2), "ghost0.example.net"}},
		Timeout: time.Second})
	st := res.Stats
	if got, want := st.Method, "direct"; got != want {
		t.Fatalf("method = %q, want %q", got, want)
	}
	if got, want := senders(res), []string{id(2), id(0)}; !slices.Equal(got, want) {
		t.Fatalf("answered %v, want %v", got, want)
	}
	if got, want := st.NoResponse, []string{"ghost0.example.net", "ghost1.example.net"}; !slices.Equal(got, want) {
		t.Fatalf("no response from %v, want %v", got, want)
	}
	if st.AllOK() {
		t.Fatal("AllOK with nodes missing")
	}
	// Only the two named nodes saw a request: nothing was broadcast.
	if got, want := f.Sim.Stats().Received-before, uint64(2); got != want {
		t.Fatalf("agents received %d requests, want %d", got, want)
	}
	// A failure status is counted as such.
	res, err := c.Do(context.Background(), rpc.Call{Agent: "puppet", Action: "enable", Targets: []string{id(0), id(1)}, Timeout: rpctest.Wait})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Stats.Failed, 2; got != want {
		t.Fatalf("failed = %d, want %d (enabling an enabled agent is refused)", got, want)
	}
	if got, want := res.Replies[0].StatusCode, rpc.StatusAborted; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
}

func TestInvalidCalls(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 1})
	c := f.Client(t, f.Dial(t))
	for _, tc := range []struct {
		name string
		call rpc.Call
		want error
	}{
		{"unknown action", rpc.Call{Agent: "puppet", Action: "explode"}, rpc.ErrUnknownAction},
		{"missing input", rpc.Call{Agent: "rpcutil", Action: "get_fact"}, rpc.ErrInvalidRequest},
		{"bad input", rpc.Call{Agent: "puppet", Action: "runonce", Data: map[string]any{"tags": "a b;c"}}, rpc.ErrInvalidRequest},
		{"bad filter", rpc.Call{Agent: "rpcutil", Action: "ping", Filter: &rpc.Filter{Compound: []string{"a and"}}}, rpc.ErrInvalidRequest},
		{"bad limit method", rpc.Call{Agent: "rpcutil", Action: "ping", Targets: []string{"a", "b"},
			Limit: rpc.Size{N: 1}, LimitMethod: "best"}, rpc.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Do(context.Background(), tc.call); !errors.Is(err, tc.want) {
				t.Fatalf("Do = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestBatches sends in batches and cancels between them: the batch being
// sent completes, the rest is reported as not sent.
func TestBatches(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: fleetSize})
	c := f.Client(t, f.Dial(t))
	all := f.Identities()
	t.Run("all", func(t *testing.T) {
		var sizes []int
		res := ping(t, c, rpc.Call{Targets: all, Batch: rpc.Size{Percent: 25}, BatchSleep: 10 * time.Millisecond,
			OnBatch: func(_, _ int, nodes []string) { sizes = append(sizes, len(nodes)) }})
		if got, want := res.Stats.Responded, fleetSize; got != want || !res.Stats.AllOK() {
			t.Fatalf("responded %d, want %d: %+v", got, want, res.Stats)
		}
		if got, want := sizes, []int{10, 10, 10, 10}; !slices.Equal(got, want) {
			t.Fatalf("batch sizes %v, want %v", got, want)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := c.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Targets: all, Batch: rpc.Size{N: 10},
			BatchSleep: time.Millisecond, Timeout: rpctest.Wait,
			OnBatch: func(n, _ int, _ []string) {
				if n == 3 {
					cancel() // Ctrl-C while the third batch is being sent
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		st := res.Stats
		if !st.Cancelled || st.BatchesRun != 3 || st.Batches != 4 {
			t.Fatalf("cancelled %v after %d of %d batches, want after 3 of 4", st.Cancelled, st.BatchesRun, st.Batches)
		}
		if got, want := senders(res), sorted(all[:30]); !slices.Equal(got, want) {
			t.Fatalf("answered %v, want the first three batches %v", got, want)
		}
		if got, want := st.NotSent, all[30:]; !slices.Equal(got, want) {
			t.Fatalf("not sent %v, want %v", got, want)
		}
		if len(st.NoResponse) != 0 || st.AllOK() {
			t.Fatalf("no response %v, AllOK %v", st.NoResponse, st.AllOK())
		}
	})
}

func TestLimit(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: fleetSize})
	c := f.Client(t, f.Dial(t))
	all := f.Identities()
	res := ping(t, c, rpc.Call{Targets: all, Limit: rpc.Size{N: 5}, LimitMethod: rpc.LimitFirst})
	if got, want := res.Stats.Targets, all[:5]; !slices.Equal(got, want) {
		t.Fatalf("first 5 = %v, want %v", got, want)
	}
	if got, want := len(res.Stats.Discovered), fleetSize; got != want {
		t.Fatalf("discovered %d, want %d", got, want)
	}
	a := ping(t, c, rpc.Call{Targets: all, Limit: rpc.Size{Percent: 25}, LimitSeed: 42})
	b := ping(t, c, rpc.Call{Targets: all, Limit: rpc.Size{Percent: 25}, LimitSeed: 42})
	if got, want := len(a.Stats.Targets), 10; got != want {
		t.Fatalf("25%% of %d = %d nodes, want %d", fleetSize, got, want)
	}
	if !slices.Equal(a.Stats.Targets, b.Stats.Targets) || !slices.Equal(senders(a), sorted(a.Stats.Targets)) {
		t.Fatalf("seeded limits differ: %v and %v", a.Stats.Targets, b.Stats.Targets)
	}
	// Broadcast discovery, then the limit: only the chosen nodes are asked.
	before := f.Sim.Stats().Passed
	res = ping(t, c, rpc.Call{Filter: &rpc.Filter{Class: []string{"/frontend/"}}, Limit: rpc.Size{N: 3}})
	if got, want := len(senders(res)), 3; got != want {
		t.Fatalf("answered %d, want %d", got, want)
	}
	if got, want := f.Sim.Stats().Passed-before, uint64(20+3); got != want {
		t.Fatalf("%d requests ran, want %d (20 discovery pings, 3 requests)", got, want)
	}
}

// startAgent runs one more agent, signing with a key of its own that the
// fleet's clients trust, on its own connection.
func startAgent(t *testing.T, f *rpctest.Fleet, identity string, change func(*agent.Config)) *agent.Agent {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Trusted.Add(identity, pub); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Identity: identity, Collective: rpctest.Collective, Key: key, Keys: f.AgentKeys,
		Policy: rpc.Policy{Default: rpc.Allow}, Facts: map[string]any{}, RegistrationInterval: -1, Workers: 1,
		Plugins: agent.PluginsConfig{Enabled: []string{}},
	}
	if change != nil {
		change(&cfg)
	}
	a, err := agent.New(cfg, f.Dial(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", identity, err)
		}
	})
	return a
}

// eventually polls cond until it holds or the generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rpctest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testTTL: a direct request waits in the queue of a node that is down;
// the node runs it if it comes up within the TTL, never after.
func testTTL(t *testing.T, f *rpctest.Fleet) {
	c := f.Client(t, f.Dial(t))
	t.Run("inside", func(t *testing.T) {
		node := "late-inside-" + rpc.NewRequestID()[:6]
		res := ping(t, c, rpc.Call{Targets: []string{node}, TTL: time.Minute, Timeout: 100 * time.Millisecond})
		if got, want := res.Stats.NoResponse, []string{node}; !slices.Equal(got, want) {
			t.Fatalf("no response from %v, want %v", got, want)
		}
		// The request was sent before the node started; it still runs.
		a := startAgent(t, f, node, nil)
		eventually(t, "the queued request to run", func() bool { return a.Stats().Passed == 1 })
	})
	t.Run("outside", func(t *testing.T) {
		node := "late-outside-" + rpc.NewRequestID()[:6]
		sent := time.Now()
		res := ping(t, c, rpc.Call{Targets: []string{node}, TTL: time.Second, Timeout: 100 * time.Millisecond})
		if got, want := res.Stats.NoResponse, []string{node}; !slices.Equal(got, want) {
			t.Fatalf("no response from %v, want %v", got, want)
		}
		// msgtime is in whole seconds: the request is expired 2 s after it
		// was sent, whatever the broker's or the agent's clock says.
		time.Sleep(time.Until(sent.Add(2100 * time.Millisecond)))
		a := startAgent(t, f, node, nil)
		// A fresh request, queued behind the expired one (if the broker
		// kept it), is answered; the agent has one worker, so by then the
		// old one was either never delivered or dropped.
		res = ping(t, c, rpc.Call{Targets: []string{node}})
		if got, want := senders(res), []string{node}; !slices.Equal(got, want) {
			t.Fatalf("answered %v, want %v", got, want)
		}
		if got, want := a.Stats().Passed, uint64(1); got != want {
			t.Fatalf("the agent ran %d requests, want %d: the expired one ran", got, want)
		}
	})
}

func TestTTL(t *testing.T) {
	testTTL(t, rpctest.NewFleet(t, rpctest.Options{Count: 1}))
}

// TestRabbitMQ runs a subset against RabbitMQ's STOMP plugin.
func TestRabbitMQ(t *testing.T) {
	srv := rabbittest.Shared(t)
	f := rpctest.NewFleet(t, rpctest.Options{Count: 12, URL: srv.URL(), PerAgentBroadcast: true})
	c := f.Client(t, f.Dial(t))
	t.Run("broadcast", func(t *testing.T) {
		t.Parallel()
		res := ping(t, c, rpc.Call{Filter: &rpc.Filter{Compound: []string{"roles::database or datacenter=sin1"}}})
		if got, want := senders(res), sorted([]string{id(2), id(4), id(6), id(9), id(10)}); !slices.Equal(got, want) {
			t.Fatalf("answered %v, want %v", got, want)
		}
	})
	t.Run("direct", func(t *testing.T) {
		t.Parallel()
		res := ping(t, c, rpc.Call{Filter: &rpc.Filter{Identity: []string{id(1), "ghost.example.net"}}, Timeout: time.Second})
		if res.Stats.Method != "direct" || !slices.Equal(senders(res), []string{id(1)}) ||
			!slices.Equal(res.Stats.NoResponse, []string{"ghost.example.net"}) {
			t.Fatalf("direct: %+v", res.Stats)
		}
	})
	t.Run("batches", func(t *testing.T) {
		t.Parallel()
		res := ping(t, c, rpc.Call{Targets: f.Identities(), Batch: rpc.Size{N: 5}, BatchSleep: time.Millisecond})
		if res.Stats.Responded != 12 || res.Stats.Batches != 3 {
			t.Fatalf("batches: %+v", res.Stats)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		testTTL(t, f)
	})
}

func TestParseNodeList(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"text", "a\n# comment\n b \n\na # again\n", "a,b"},
		{"json replies", `{"replies":[{"sender":"a"},{"sender":"b"}],"stats":{"no_responses":["c"]}}`, "a,b"},
		{"json nodes", `{"nodes":["a","b"]}`, "a,b"},
		{"json array", `["a",{"name":"b"},{"certname":"c"},{"identity":"d"}]`, "a,b,c,d"},
		{"jsonl", "{\"kind\":\"discovery\",\"discovered\":[\"x\"]}\n{\"kind\":\"reply\",\"sender\":\"a\"}\n{\"kind\":\"stats\"}\n", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rpc.ParseNodeList([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, ","); g != tc.want {
				t.Fatalf("nodes = %s, want %s", g, tc.want)
			}
		})
	}
	for _, bad := range []string{`{"x":1}`, "a b\n", `{"nodes":["a/b"]}`, `{"replies":[`} {
		if _, err := rpc.ParseNodeList([]byte(bad)); err == nil {
			t.Errorf("ParseNodeList(%q) succeeded", bad)
		}
	}
}
