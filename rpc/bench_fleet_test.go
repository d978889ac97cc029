package rpc_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/rpctest"
)

// BenchmarkRoundTrip is a request and its reply to one agent, named
// directly, on the embedded broker: p50 and p99 of 500 round trips.
func BenchmarkRoundTrip(b *testing.B) {
	f := rpctest.NewFleet(b, rpctest.Options{Count: 1})
	c := f.Client(b, f.Dial(b))
	target := f.Identities()[:1]
	call := rpc.Call{Agent: "rpcutil", Action: "ping", Targets: target, Timeout: rpctest.Wait}
	const n = 500
	var times []time.Duration
	for b.Loop() {
		times = times[:0]
		for range n {
			start := time.Now()
			res, err := c.Do(context.Background(), call)
			if err != nil || res.Stats.OK != 1 {
				b.Fatalf("round trip: %v %+v", err, res)
			}
			times = append(times, time.Since(start))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(ms(times[n/2]), "p50-ms")
	b.ReportMetric(ms(times[n*99/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBroadcastPing is the time until every agent of a fleet of 1,000
// and of 10,000 (simulated in this process, on the embedded broker) has
// answered one broadcast ping, and the heap each agent takes.
func BenchmarkBroadcastPing(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			// On the embedded broker every agent's queue subscription has
			// a connection of its own (see rpc/broker): both ends are in
			// this process.
			var lim syscall.Rlimit
			if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && uint64(2*n+1000) > lim.Cur {
				b.Skipf("%d agents in one process need about %d sockets; this machine allows %d open files", n, 2*n+1000, lim.Cur)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f := rpctest.NewFleet(b, rpctest.Options{Count: n})
			runtime.GC()
			runtime.ReadMemStats(&after)
			c := f.Client(b, f.Dial(b))
			all := &rpc.Filter{Agent: []string{"rpcutil"}}
			var took time.Duration
			for b.Loop() {
				// Broadcast returns when its timeout ends: cancel it
				// once the last agent has answered.
				ctx, cancel := context.WithCancel(context.Background())
				got := 0
				start := time.Now()
				c.Broadcast(ctx, "rpcutil", "ping", nil, all, time.Minute, func(rpc.Received) {
					got++
					if got == n {
						took = time.Since(start)
						cancel()
					}
				})
				cancel()
				if got != n {
					b.Fatalf("%d of %d agents answered", got, n)
				}
			}
			b.ReportMetric(ms(took), "all-answered-ms")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n)/1024, "KB/agent")
			b.ReportMetric(0, "ns/op")
		})
	}
}
