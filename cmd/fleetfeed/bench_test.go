package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
	"fleetfeed/rpc/broker/rabbittest"
)

// benchStompIngest sends n events to the events queue and measures, from
// the first send, how fast the server's consumer turns them into committed
// posts. Compare with BenchmarkRawSendReceive in rpc/broker, the broker's
// own message rate, from the same `make bench` run.
func benchStompIngest(b *testing.B, url string) {
	const n = 5000
	db := feed.NewDB(filepath.Join(b.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := &feed.Pipeline{DB: db}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumer, err := broker.Dial(ctx, url, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer consumer.Close()
	sender, err := broker.Dial(ctx, url, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	collective := fmt.Sprintf("bench%d", time.Now().UnixNano())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		consumeEvents(ctx, consumer, collective, p)
	}()
	// Stop consuming before the connections close.
	defer func() {
		cancel()
		<-consumed
	}()

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		base := i * n
		for j := 0; j < n; j++ {
			body := []byte(fmt.Sprintf(`{"id":"b-%d","node":"web%02d","post":{"text":"Benchmark event %d","tags":["test","info"],"severity":"info"}}`, base+j, j%20, base+j))
			if err := sender.Send(ctx, broker.EventsQueue(collective), body, rpc.SendOptions{Header: map[string]string{broker.HeaderSource: "events"}}); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Minute)
		for p.Stats().Events < int64(base+n) {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d events ingested", p.Stats().Events, base+n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkStompIngestEmbedded(b *testing.B) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", Users: map[string]string{"bench": "pw"}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	benchStompIngest(b, "stomp://bench:pw@"+e.Addr())
}

func BenchmarkStompIngestRabbitMQ(b *testing.B) {
	benchStompIngest(b, rabbittest.Shared(b).URL())
}
