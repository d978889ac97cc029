package rpc

import (
	"context"
	"errors"
	"time"
)

// Message is one STOMP message as a Connector delivers it.
type Message struct {
	Destination string
	Header      map[string]string
	Body        []byte

	ack  func() error
	nack func() error
}

// NewMessage makes a Message whose Ack and Nack call ack and nack (either
// may be nil: the message needs no acknowledgement). Connector
// implementations use it.
func NewMessage(dest string, header map[string]string, body []byte, ack, nack func() error) *Message {
	return &Message{Destination: dest, Header: header, Body: body, ack: ack, nack: nack}
}

// Ack acknowledges a message received with AckClientIndividual. It returns
// ErrClosed if the connection that delivered it is gone (the broker then
// redelivers the message).
func (m *Message) Ack() error {
	if m.ack == nil {
		return nil
	}
	return m.ack()
}

// Nack tells the broker the message was not processed.
func (m *Message) Nack() error {
	if m.nack == nil {
		return nil
	}
	return m.nack()
}

// AckMode says how a subscription acknowledges messages.
type AckMode int

const (
	// AckAuto: the broker forgets a message once it is sent.
	AckAuto AckMode = iota
	// AckClientIndividual: each message must be acknowledged with Ack;
	// unacknowledged messages are redelivered when the connection is lost.
	AckClientIndividual
)

// SendOptions are per-message settings.
type SendOptions struct {
	// TTL, when positive, sets the message's "expires" header so a broker
	// drops it once it has waited that long in a queue.
	TTL time.Duration
	// Header holds extra headers.
	Header map[string]string
}

// Subscription delivers messages until it is unsubscribed or its
// connector closes; then C is closed.
type Subscription interface {
	C() <-chan *Message
	Unsubscribe() error
}

// Connector is fleetfeed's one view of a STOMP broker, embedded or
// external. Implementations reconnect on their own and resubscribe every
// live subscription after a reconnect.
type Connector interface {
	// Send publishes body to dest ("/queue/…" or "/topic/…"). It returns
	// ErrClosed after Close, or the broker's error.
	Send(ctx context.Context, dest string, body []byte, opts SendOptions) error
	// Subscribe starts delivery of dest's messages.
	Subscribe(ctx context.Context, dest string, mode AckMode) (Subscription, error)
	// Close disconnects; it is safe to call twice.
	Close() error
}

// ErrClosed is returned by a Connector (or a Message's Ack) that is closed.
var ErrClosed = errors.New("connector closed")
