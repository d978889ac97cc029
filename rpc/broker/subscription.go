package broker

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"fleetfeed/rpc"
)

// subscription is one rpc.Subscription. Its run goroutine is the only
// reader of go-stomp's channel and the only writer of out; it never waits
// for the consumer while a message is waiting on the network, except on a
// connection of the subscription's own (see the package documentation,
// "Slow consumers").
type subscription struct {
	c     *Conn
	dest  string
	mode  rpc.AckMode
	queue bool
	// emulate: the broker is go-stomp's server; this queue subscription
	// has a link of its own with ack:auto on the wire, and the
	// acknowledgements are kept here (unacknowledged messages are sent
	// to the queue again).
	emulate bool
	link    *link

	out      chan *rpc.Message
	attachCh chan attachment
	done     chan struct{} // closed by Unsubscribe or Close
	finished chan struct{} // closed when run has closed out
	kick     chan struct{} // a delivery was settled

	mu           sync.Mutex
	gen          uint64 // generation of the session subscribed on
	ss           *stomp.Subscription
	sess         *session
	unsubscribed bool
	closing      bool                   // shut down by Conn.Close
	unsettled    map[*delivery]struct{} // queue messages received, not yet settled
}

var _ rpc.Subscription = (*subscription)(nil)

type attachment struct {
	ss   *stomp.Subscription
	sess *session
}

// Settlement states of a delivery (guarded by subscription.mu).
const (
	pending  = iota // received, not acknowledged
	settled         // acknowledged
	requeued        // handed back: NACK, or requeued, or the connection is gone
)

// delivery is a queue message from receipt until it is settled.
type delivery struct {
	raw   *stomp.Message
	sess  *session
	msg   *rpc.Message
	state int
}

func newSubscription(c *Conn, dest string, mode rpc.AckMode) *subscription {
	return &subscription{
		c:         c,
		dest:      dest,
		mode:      mode,
		queue:     isQueue(dest),
		out:       make(chan *rpc.Message),
		attachCh:  make(chan attachment),
		done:      make(chan struct{}),
		finished:  make(chan struct{}),
		kick:      make(chan struct{}, 1),
		unsettled: make(map[*delivery]struct{}),
	}
}

// C returns the channel messages are delivered on. It is closed after
// Unsubscribe or the connector's Close; it stays open across reconnections.
func (sub *subscription) C() <-chan *rpc.Message { return sub.out }

// Unsubscribe stops delivery and closes C. Queue messages not yet
// acknowledged, whether still buffered or already taken from C, go back
// to the broker (their Ack then returns rpc.ErrClosed). It returns nil if
// already unsubscribed, or the broker's error.
func (sub *subscription) Unsubscribe() error {
	sub.mu.Lock()
	if sub.unsubscribed {
		sub.mu.Unlock()
		return nil
	}
	sub.unsubscribed = true
	ss, sess := sub.ss, sub.sess
	sub.mu.Unlock()

	sub.c.forget(sub)
	close(sub.done)
	<-sub.finished
	if sub.emulate {
		if err := sub.release(); err != nil {
			return fmt.Errorf("unsubscribe from %s: %w", sub.dest, err)
		}
		return nil
	}
	if ss == nil || sess.isDead() {
		return nil
	}
	err := ss.Unsubscribe()
	if sub.c.stompd && errors.Is(err, &stomp.ErrUnsubscribeReceiptTimeout) {
		// Expected: see stompdUnsubscribeWait.
		err = nil
	}
	if err != nil && !sess.isDead() && !isConnGone(err) &&
		!errors.Is(err, stomp.ErrCompletedSubscription) {
		return fmt.Errorf("unsubscribe from %s: %w", sub.dest, err)
	}
	return nil
}

// release closes an emulated subscription's own connection, after run
// has stopped, without losing what go-stomp's server sent to it (with
// ack:auto the server forgets a message once written). UNSUBSCRIBE first;
// once the server has answered a frame sent after it, every message it
// sent us is on our side of the socket, where stop's drain keeps it for
// the queue; only then disconnect.
func (sub *subscription) release() error {
	sub.mu.Lock()
	ss, sess := sub.ss, sub.sess
	sub.mu.Unlock()
	if ss != nil && !sess.isDead() {
		_ = ss.Unsubscribe() // see stompdUnsubscribeWait
		_ = sess.barrier()
	}
	return sub.link.close()
}

// shutdown ends delivery without telling the broker: the connection is
// about to be closed (closing), or the subscription never got going.
func (sub *subscription) shutdown(closing bool) {
	sub.mu.Lock()
	if sub.unsubscribed {
		sub.mu.Unlock()
		return
	}
	sub.unsubscribed = true
	sub.closing = closing
	sub.mu.Unlock()
	if !closing {
		sub.c.forget(sub)
	}
	close(sub.done)
	<-sub.finished
}

// attach subscribes on s unless already subscribed on it; the run
// goroutine then reads the new go-stomp channel.
func (sub *subscription) attach(s *session) error {
	sub.mu.Lock()
	if sub.unsubscribed || sub.gen >= s.gen {
		sub.mu.Unlock()
		return nil
	}
	ack := stomp.AckAuto
	var opts []func(*frame.Frame) error
	if sub.queue && !sub.emulate {
		// client-individual on the wire: the broker keeps at most
		// Prefetch messages in flight to us, the rest stays in the queue.
		ack = stomp.AckClientIndividual
		opts = append(opts, stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(sub.c.opts.Prefetch)))
	}
	ss, err := s.sc.Subscribe(sub.dest, ack, opts...)
	if err != nil {
		sub.mu.Unlock()
		return err
	}
	sub.gen, sub.ss, sub.sess = s.gen, ss, s
	if sub.emulate {
		// For the drain below; Conn.Close waits for requeues only after
		// this link's reconnections (and so this call) are over.
		sub.c.requeues.Add(1)
	}
	sub.mu.Unlock()

	// Not under sub.mu: run takes it.
	select {
	case sub.attachCh <- attachment{ss: ss, sess: s}:
		if sub.emulate {
			sub.c.requeues.Done()
		}
	case <-sub.done:
		// run has stopped and will never read ss.C: drain it here.
		if sub.emulate {
			go func() {
				defer sub.c.requeues.Done()
				drain(ss.C, sub.requeueRaw)
			}()
		} else if sub.queue {
			go drain(ss.C, func(m *stomp.Message) { go settleAsync(s, m, false) })
		} else {
			go drain(ss.C, nil)
		}
	}
	return nil
}

func (sub *subscription) run() {
	var (
		q       []*delivery // received, not yet taken by the consumer
		src     <-chan *stomp.Message
		dead    <-chan struct{}
		cur     attachment
		handled bool // connectionLost has run for cur
	)
	for {
		var out chan<- *rpc.Message
		var head *rpc.Message
		if len(q) > 0 {
			out, head = sub.out, q[0].msg
		}
		in := src
		if sub.emulate && sub.inFlight() >= sub.c.opts.Prefetch {
			// Stop reading this subscription's own connection: TCP
			// pushes back to the broker, which keeps the rest queued.
			in = nil
		}
		select {
		case a := <-sub.attachCh:
			if cur.sess != nil && !handled {
				q = sub.connectionLost(q, cur)
			}
			cur, src, dead, handled = a, a.ss.C, a.sess.nc.dead, false

		case m, ok := <-in:
			if !ok {
				src = nil
				continue
			}
			if m.Err != nil {
				// go-stomp reports the connection's end; the next
				// attachment brings a new channel.
				continue
			}
			sub.c.received.Add(1)
			if !sub.queue {
				if len(q) >= sub.c.opts.TopicBuffer {
					if n := sub.c.dropped.Add(1); n&(n-1) == 0 {
						// Log the 1st, 2nd, 4th, 8th… drop, not every one.
						sub.c.log.Warn("slow consumer: dropping topic messages",
							"destination", sub.dest, "dropped_total", n)
					}
					continue
				}
				q = append(q, &delivery{msg: sub.message(m, nil)})
				continue
			}
			d := &delivery{raw: m, sess: cur.sess}
			d.msg = sub.message(m, d)
			sub.mu.Lock()
			sub.unsettled[d] = struct{}{}
			sub.mu.Unlock()
			q = append(q, d)

		case <-dead:
			q = sub.connectionLost(q, cur)
			src, dead, handled = nil, nil, true

		case <-sub.kick:
			// The consumer settled a message: maybe read again.

		case out <- head:
			d := q[0]
			q[0] = nil
			q = q[1:]
			if sub.queue && sub.mode == rpc.AckAuto {
				// The consumer has it: that is our "auto".
				sub.settleInternal(d)
			}

		case <-sub.done:
			close(sub.out)
			if handled {
				src = nil
			}
			sub.stop(src, cur)
			close(sub.finished)
			return
		}
	}
}

// inFlight is the number of queue messages received and not yet settled.
func (sub *subscription) inFlight() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.unsettled)
}

// message wraps m for the consumer; d is nil for topic messages.
func (sub *subscription) message(m *stomp.Message, d *delivery) *rpc.Message {
	hdr := make(map[string]string, m.Header.Len())
	for i := m.Header.Len() - 1; i >= 0; i-- {
		// STOMP says the first of repeated headers wins.
		k, v := m.Header.GetAt(i)
		hdr[k] = v
	}
	dest := m.Destination
	if dest == "" {
		dest = sub.dest
	}
	var ack, nack func() error
	if d != nil && sub.mode == rpc.AckClientIndividual {
		ack = func() error { return sub.settle(d, true) }
		nack = func() error { return sub.settle(d, false) }
	}
	return rpc.NewMessage(dest, hdr, m.Body, ack, nack)
}

// settle is the consumer's Ack (positive) or Nack of d.
func (sub *subscription) settle(d *delivery, positive bool) error {
	sub.mu.Lock()
	switch d.state {
	case settled:
		// A second ACK for one message is a protocol error that makes
		// RabbitMQ close the connection; ignore it.
		sub.mu.Unlock()
		return nil
	case requeued:
		sub.mu.Unlock()
		if positive {
			return fmt.Errorf("ack message from %s: %w", sub.dest, rpc.ErrClosed)
		}
		return nil
	}
	delete(sub.unsettled, d)
	select {
	case sub.kick <- struct{}{}:
	default:
	}
	if positive {
		d.state = settled
	} else {
		d.state = requeued
		if sub.emulate {
			// Under sub.mu, so that Close's wait for requeues sees it.
			sub.c.requeues.Add(1)
		}
	}
	sub.mu.Unlock()

	if sub.emulate {
		if !positive {
			go sub.c.requeue(d, sub.dest)
		}
		return nil
	}
	if err := d.sess.ack(d.raw, positive); err != nil {
		return fmt.Errorf("ack message from %s: %w", sub.dest, err)
	}
	return nil
}

// settleInternal acknowledges d for an AckAuto consumer.
func (sub *subscription) settleInternal(d *delivery) {
	sub.mu.Lock()
	if d.state != pending {
		sub.mu.Unlock()
		return
	}
	d.state = settled
	delete(sub.unsettled, d)
	sub.mu.Unlock()
	if !sub.emulate {
		go settleAsync(d.sess, d.raw, true)
	}
}

// connectionLost hands back every unsettled message that a's session
// delivered, after that session died (or was replaced), and returns q
// without them. The broker redelivers them itself, except go-stomp's
// server, which forgot them on delivery: those are sent again.
func (sub *subscription) connectionLost(q []*delivery, a attachment) []*delivery {
	if !sub.queue {
		return q
	}
	sub.mu.Lock()
	var lost []*delivery
	for d := range sub.unsettled {
		if d.sess == a.sess {
			d.state = requeued
			delete(sub.unsettled, d)
			lost = append(lost, d)
		}
	}
	if sub.emulate {
		sub.c.requeues.Add(len(lost) + 1)
	}
	sub.mu.Unlock()

	if sub.emulate {
		for _, d := range lost {
			go sub.c.requeue(d, sub.dest)
		}
		// Frames go-stomp had already read before the connection went.
		go func() {
			defer sub.c.requeues.Done()
			drain(a.ss.C, sub.requeueRaw)
		}()
	} else {
		go drain(a.ss.C, nil)
	}
	kept := q[:0]
	for _, d := range q {
		if d.state == pending {
			kept = append(kept, d)
		}
	}
	clear(q[len(kept):])
	return kept
}

// stop hands back what is unsettled when the subscription ends, and keeps
// reading src until go-stomp closes it (UNSUBSCRIBE receipt or the
// connection's end): go-stomp delivers a connection's messages from one
// goroutine, so a channel nobody reads would stall the connection.
func (sub *subscription) stop(src <-chan *stomp.Message, cur attachment) {
	sub.mu.Lock()
	closing := sub.closing
	var back []*delivery
	for d := range sub.unsettled {
		d.state = requeued
		back = append(back, d)
	}
	clear(sub.unsettled)
	if sub.emulate {
		sub.c.requeues.Add(1)
	}
	sub.mu.Unlock()

	switch {
	case sub.emulate:
		// Send it all back once the connection is closed (release), not
		// before: the server would deliver it to this very subscription.
		go func() {
			defer sub.c.requeues.Done()
			drain(src, func(m *stomp.Message) { back = append(back, &delivery{raw: m}) })
			sub.c.requeues.Add(len(back))
			for _, d := range back {
				go sub.c.requeue(d, sub.dest)
			}
		}()
	case sub.queue && !closing:
		// Unsubscribe on a live connection: NACK, so the broker
		// redelivers now rather than when the connection closes.
		for _, d := range back {
			if d.sess == cur.sess {
				go settleAsync(d.sess, d.raw, false)
			}
		}
		s := cur.sess
		go drain(src, func(m *stomp.Message) { go settleAsync(s, m, false) })
	default:
		// Close: the DISCONNECT that follows makes the broker redeliver.
		go drain(src, nil)
	}
}

// requeueRaw sends m, which arrived after the subscription or its
// connection ended, back to its queue. It runs inside a drain that holds
// a count in c.requeues.
func (sub *subscription) requeueRaw(m *stomp.Message) {
	sub.c.requeues.Add(1)
	go sub.c.requeue(&delivery{raw: m}, sub.dest)
}

// drain reads src until it is closed, passing each message to settle (if
// not nil). src may be nil.
func drain(src <-chan *stomp.Message, settle func(*stomp.Message)) {
	if src == nil {
		return
	}
	for m := range src {
		if settle != nil && m.Err == nil {
			settle(m)
		}
	}
}

// settleAsync acknowledges (or not) m on s, ignoring errors: when the
// connection is gone the broker redelivers m anyway. Callers run it on a
// goroutine of its own where a subscription's reader would otherwise
// wait: go-stomp sends ACK frames through the same goroutine that feeds
// subscription channels, so waiting for one there can deadlock.
func settleAsync(s *session, m *stomp.Message, positive bool) {
	_ = s.ack(m, positive)
}
