package broker_test

import (
	"context"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
)

// BenchmarkRawSendReceive measures each broker's message rate through
// broker.Conn: one connection sends rawMessages 128-byte messages per
// iteration (so that `make bench`'s single iteration measures a real
// stream), another receives them, and msgs/s is the number received per
// second.
//
//   - topic: fan-out to one subscriber, nothing acknowledged;
//   - queue-auto: a queue, AckAuto (the connector acknowledges on hand-off);
//   - queue-ack: a queue, AckClientIndividual, the consumer acknowledges
//     each message.
func BenchmarkRawSendReceive(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchBroker(b, newEmbedded(b)) })
	b.Run("rabbitmq", func(b *testing.B) { benchBroker(b, newRabbit(b)) })
}

const rawMessages = 10_000

func benchBroker(b *testing.B, tg target) {
	for _, bc := range []struct {
		name string
		kind string
		mode rpc.AckMode
	}{
		{"topic", "topic", rpc.AckAuto},
		{"queue-auto", "queue", rpc.AckAuto},
		{"queue-ack", "queue", rpc.AckClientIndividual},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// A topic subscriber that falls behind drops messages; give
			// it room, and fail below if it dropped any anyway.
			opts := broker.Options{TopicBuffer: 1 << 20, HeartBeat: -1}
			s, r := dialOpts(b, tg, opts), dialOpts(b, tg, opts)
			dest := name(b, bc.kind)
			sub := subscribe(b, r, dest, bc.mode)
			body := make([]byte, 128)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			n := b.N * rawMessages
			b.ResetTimer()
			sendErr := make(chan error, 1)
			go func() {
				for range n {
					if err := s.Send(ctx, dest, body, rpc.SendOptions{}); err != nil {
						sendErr <- err
						return
					}
				}
				sendErr <- nil
			}()
			idle := time.NewTimer(wait)
			defer idle.Stop()
			for got := 0; got < n; {
				select {
				case m := <-sub.C():
					if err := m.Ack(); err != nil {
						b.Fatal(err)
					}
					got++
					idle.Reset(wait)
				case err := <-sendErr:
					if err != nil {
						b.Fatal(err)
					}
					sendErr = nil
				case <-idle.C:
					b.Fatalf("received %d of %d; receiver stats %+v", got, n, r.Stats())
				}
			}
			b.StopTimer()
			if d := r.Stats().Dropped; d > 0 {
				b.Fatalf("%d messages dropped", d)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
