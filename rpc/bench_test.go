package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/rpctest"
)

// benchFleet is the fleet the request benchmarks share: 1,000 simulated
// agents on the embedded broker, each with its own queue subscription
// (its own connection: see rpc/broker), broadcasts fanned out by the Sim.
const benchFleet = 1000

func benchCall(b *testing.B, c *rpc.Client, call rpc.Call) *rpc.Result {
	b.Helper()
	call.Agent, call.Action = "rpcutil", "ping"
	if call.Timeout == 0 {
		call.Timeout = rpctest.Wait
	}
	res, err := c.Do(context.Background(), call)
	if err != nil {
		b.Fatal(err)
	}
	if got, want := res.Stats.Responded, len(res.Stats.Targets); got != want {
		b.Fatalf("%d of %d answered", got, want)
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rounds is how many times each benchmark repeats its work in one
// iteration (make bench runs one): it reports the averages.
const rounds = 3

// warm sends one request to every agent, so that no benchmark pays for
// the fleet's first use (connections, caches).
func warm(b *testing.B, c *rpc.Client, f *rpctest.Fleet) {
	b.Helper()
	benchCall(b, c, rpc.Call{Targets: f.Identities()})
}

// BenchmarkRequest1000 is one request to a fleet of 1,000 agents (all of
// them, with a filter every node matches), found by the server's node
// table (inventory: an HTTP GET of the nodes, filtered by the client), by
// broadcast discovery (a ping every node answers, collected for the 2 s
// discovery window), or named (direct: no discovery at all). Each run does
// one discovery and one request; it reports the discovery and request
// times and the replies per second of the request.
func BenchmarkRequest1000(b *testing.B) {
	f := rpctest.NewFleet(b, rpctest.Options{Count: benchFleet})
	c := f.Client(b, f.Dial(b))
	srv := nodeServer(b, f)
	warm(b, c, f)
	all := &rpc.Filter{Agent: []string{"rpcutil"}}
	for _, tc := range []struct {
		name string
		call rpc.Call
	}{
		{"inventory", rpc.Call{Filter: all, Discoverer: &rpc.InventoryDiscovery{Source: &rpc.HTTPInventory{URL: srv.URL}}}},
		{"broadcast", rpc.Call{Filter: all}},
		{"direct", rpc.Call{Targets: f.Identities()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var disc, req, total time.Duration
			replies := 0
			for b.Loop() {
				disc, req, total, replies = 0, 0, 0, 0
				for range rounds {
					st := benchCall(b, c, tc.call).Stats
					disc += st.DiscoveryTime
					req += st.RequestTime
					total += st.TotalTime
					replies += st.Responded
				}
			}
			b.ReportMetric(ms(disc)/rounds, "discovery-ms")
			b.ReportMetric(ms(req)/rounds, "request-ms")
			b.ReportMetric(ms(total)/rounds, "total-ms")
			b.ReportMetric(float64(replies)/req.Seconds(), "replies/s")
			b.ReportMetric(0, "ns/op") // the figures above are the ones that mean something
		})
	}
}

// BenchmarkBatches measures what batching costs: the same request to the
// 1,000 agents unbatched and in batches (no sleep between them), each
// batch waiting for all its replies before the next is sent. It reports
// both times and the overhead per batch.
func BenchmarkBatches(b *testing.B) {
	f := rpctest.NewFleet(b, rpctest.Options{Count: benchFleet})
	c := f.Client(b, f.Dial(b))
	nodes := f.Identities()
	warm(b, c, f)
	for _, size := range []int{500, 100, 10} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			var whole, batched time.Duration
			batches := 0
			for b.Loop() {
				whole, batched = 0, 0
				for range rounds {
					whole += benchCall(b, c, rpc.Call{Targets: nodes}).Stats.RequestTime
					st := benchCall(b, c, rpc.Call{Targets: nodes, Batch: rpc.Size{N: size}}).Stats
					batched += st.RequestTime
					batches = st.Batches
				}
			}
			b.ReportMetric(ms(whole)/rounds, "unbatched-ms")
			b.ReportMetric(ms(batched)/rounds, "batched-ms")
			b.ReportMetric(ms(batched-whole)/rounds/float64(batches), "overhead-ms/batch")
			b.ReportMetric(0, "ns/op")
		})
	}
}
