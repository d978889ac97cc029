package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fleetfeed/rpc"
)

// Event message headers.
const (
	// HeaderSource names the translator for an event message's body
	// ("puppet", "nagios", "suricata", …).
	HeaderSource = "source"
	// HeaderError carries, on a message in the failed-events queue, why
	// the event was rejected.
	HeaderError = "fleetfeed-error"
)

// ErrPoison marks an event that can never be processed (a body its
// translator cannot parse, an unknown source): ConsumeEvents moves it to
// the failed-events queue instead of retrying it. Wrap it, or use Poison.
var ErrPoison = errors.New("poison event")

// Poison marks err as permanent for ConsumeEvents. errors.Is(Poison(err),
// ErrPoison) is true and Poison(err) still unwraps to err.
func Poison(err error) error {
	if err == nil {
		return nil
	}
	return poisonError{err}
}

type poisonError struct{ err error }

func (p poisonError) Error() string        { return p.err.Error() }
func (p poisonError) Unwrap() error        { return p.err }
func (p poisonError) Is(target error) bool { return target == ErrPoison }

// EventsQueue returns the queue servers post the events of collective to.
func EventsQueue(collective string) string { return "/queue/" + collective + ".events" }

// FailedEventsQueue is where ConsumeEvents puts the events of collective
// it cannot process; see EventsQueue.
func FailedEventsQueue(collective string) string { return EventsQueue(collective) + ".failed" }

// maxErrorHeader bounds the reason copied into HeaderError.
const maxErrorHeader = 1024

// Back-off before handing a transiently failed event back to the broker,
// which redelivers it at once.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

// ConsumeEvents receives the events queue of collective and passes each
// message's source header and body to handle, one message at a time.
//
//   - handle returns nil: the message is acknowledged, only then, so an
//     event whose posts were not committed is redelivered. Redelivery can
//     repeat an event; the ingest pipeline dedupes by event id.
//   - handle's error wraps ErrPoison: the message is copied to
//     FailedEventsQueue(collective) with the reason in HeaderError and
//     its source header, then acknowledged.
//   - any other error is transient (the database is busy, say): after a
//     back-off that grows while failures repeat, the message is handed
//     back (NACK) for redelivery.
//
// ConsumeEvents returns ctx's error when ctx is done, rpc.ErrClosed if
// conn is closed, or the error of subscribing.
func ConsumeEvents(ctx context.Context, conn rpc.Connector, collective string,
	handle func(ctx context.Context, source string, body []byte) error) error {
	if collective == "" {
		return errors.New("consume events: empty collective")
	}
	sub, err := conn.Subscribe(ctx, EventsQueue(collective), rpc.AckClientIndividual)
	if err != nil {
		return fmt.Errorf("consume events: %w", err)
	}
	defer sub.Unsubscribe()

	backoff := retryMin
	for {
		var m *rpc.Message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("consume events: %w", rpc.ErrClosed)
			}
			m = msg
		}
		source := m.Header[HeaderSource]
		herr := handle(ctx, source, m.Body)
		switch {
		case herr == nil:
			backoff = retryMin
			// An error means the connection is gone; the broker
			// redelivers the message.
			_ = m.Ack()

		case errors.Is(herr, ErrPoison):
			backoff = retryMin
			if err := moveToFailed(ctx, conn, collective, m, herr); err != nil {
				_ = m.Nack()
				continue
			}
			_ = m.Ack()

		default:
			t := time.NewTimer(jitter(backoff))
			select {
			case <-ctx.Done():
				t.Stop()
				_ = m.Nack()
				return ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, retryMax)
			_ = m.Nack()
		}
	}
}

// moveToFailed sends a copy of m, with the reason, to the failed queue.
// The copy and the ACK that follows travel on the same connection, so the
// broker sees the copy before it forgets the original.
func moveToFailed(ctx context.Context, conn rpc.Connector, collective string, m *rpc.Message, reason error) error {
	msg := reason.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader]
	}
	hdr := map[string]string{HeaderError: msg}
	if src, ok := m.Header[HeaderSource]; ok {
		hdr[HeaderSource] = src
	}
	if ct, ok := m.Header["content-type"]; ok {
		hdr["content-type"] = ct
	}
	if err := conn.Send(ctx, FailedEventsQueue(collective), m.Body, rpc.SendOptions{Header: hdr}); err != nil {
		return fmt.Errorf("move poison event: %w", err)
	}
	return nil
}
