// Package broker is fleetfeed's STOMP layer: an embedded broker
// (go-stomp's server, for a single machine), an rpc.Connector that talks
// to it or to an external broker (RabbitMQ's STOMP plugin, ActiveMQ), and
// the consumer of the events queue.
//
// # Wire format
//
// Destinations are "/queue/<name>" (each message to one consumer, kept
// until consumed) and "/topic/<name>" (each message to every current
// subscriber, dropped if there is none). Names are matched exactly; on
// RabbitMQ a topic name is a routing key on amq.topic, so dots separate
// its words. Bodies are opaque bytes, sent with content-length.
//
// Headers the connector sets on SEND:
//
//	expires:<ms since epoch>   SendOptions.TTL, for the embedded broker and ActiveMQ
//	expiration:<ms>            SendOptions.TTL again, relative, for RabbitMQ
//	persistent:true            on every /queue/ message (RabbitMQ keeps it across restarts)
//	redelivered:true           on a message the connector handed back to the embedded broker
//
// A queue SUBSCRIBE to RabbitMQ or ActiveMQ carries ack:client-individual
// and prefetch-count (Options.Prefetch); every other SUBSCRIBE is
// ack:auto. The CONNECT "host" header is the URL's path, "/" by default:
// RabbitMQ's virtual host.
//
// The events queue, "/queue/<collective>.events", carries one event per
// message, its translator named by the "source" header. Events that can
// never be processed go to "/queue/<collective>.events.failed" with the
// same body and source and the reason in "fleetfeed-error".
//
// # go-stomp's server
//
// StartEmbedded runs go-stomp's server (v3.1.3) with login checking and a
// queue storage that drops messages whose "expires" time has passed: when
// they are queued, when they reach a consumer, and in a periodic sweep
// (go-stomp otherwise keeps queued messages for ever). The server has no
// selectors, wildcards or temporary queues, and these faults, which shape
// this package:
//
//   - Acknowledgements do not work. With ack:client the second delivery to
//     a subscription panics in the server's goroutine and ends the
//     process; with ack:client-individual no ACK or NACK ever matches (the
//     server never records the id it expects), so a subscription gets one
//     message and no more; a STOMP 1.2 ACK is answered with an ERROR
//     ("missing header: message-id"). The embedded broker refuses any
//     SUBSCRIBE that is not ack:auto.
//   - It never sends the RECEIPT of an UNSUBSCRIBE, which go-stomp's client
//     waits for.
//   - One goroutine routes every frame of every client, and it blocks
//     handing a topic message to a connection whose 16-frame write queue
//     is full: a client that stops reading its socket stalls every
//     destination once the socket buffers are full. The same goroutine
//     can deadlock for good with a connection that is sending a frame
//     (its reader blocks on the full 128-frame request queue) while it
//     is being sent a burst of topic messages.
//   - Its request loop cannot be stopped: Embedded.Close closes the
//     listener and every connection but leaves one idle goroutine.
//
// So, when the CONNECTED frame says the broker is go-stomp's ("stompd/"),
// a Conn uses one connection for SENDs, one for all topic subscriptions,
// and one per queue subscription, all ack:auto; it keeps the
// acknowledgements itself, and sends a message that was delivered to it
// but not acknowledged (Nack, Unsubscribe, Close, a lost connection) to
// its queue again, marked redelivered:true. The broker having forgotten
// the message, its order in the queue changes and a crash of the
// consumer's process loses it; the broker's own queues do not survive a
// crash of fleetfeed either. Keeping SENDs off the connection that
// receives topic messages also makes the deadlock above unlikely: that
// connection only sends SUBSCRIBE, UNSUBSCRIBE and the one SEND with a
// receipt that confirms them.
//
// # Slow consumers
//
// go-stomp's client reads a connection from one goroutine and hands each
// message to a 16-message channel per subscription: one subscription
// whose reader stalls stalls its whole connection (every subscription on
// it, its ACKs and heart-beats) and, through TCP, the embedded broker.
// So each Subscription has a goroutine of its own that reads go-stomp's
// channel at once and keeps the messages for the consumer, within bounds:
//
//   - A topic subscription keeps up to Options.TopicBuffer messages; when
//     the consumer is that far behind, new messages are dropped and
//     counted in Stats.Dropped. A topic already drops messages nobody is
//     listening for; a consumer that stops listening is treated the same,
//     rather than stopping every other subscriber of the broker.
//   - A queue subscription on RabbitMQ or ActiveMQ is client-individual on
//     the wire: the broker sends at most Options.Prefetch unacknowledged
//     messages, so the buffer is bounded by the broker, and a stalled
//     consumer leaves the rest in the queue for other consumers.
//   - A queue subscription on the embedded broker has a connection of its
//     own, so once Options.Prefetch messages are unsettled the connector
//     simply stops reading that connection: TCP pushes back, go-stomp's
//     server keeps the rest queued (it hands queue messages to a
//     connection one at a time and never blocks on it), and nothing else
//     waits. The price: what the socket buffers hold (a 256 KiB receive
//     buffer, plus the server's send buffer) is taken from the queue
//     while the consumer is stalled; and that connection sends no
//     heart-beats (they would stop with the reading), so a broker that
//     vanishes without closing it is noticed by TCP keep-alive only.
//
// For AckAuto on a queue the connector acknowledges a message when the
// consumer takes it from the channel, so a message still buffered is
// redelivered after a crash.
//
// # Reconnection
//
// A Conn watches its sockets. When one fails (broker restart, network, a
// missed heart-beat) Send and Subscribe wait, until their context is done,
// while the Conn reconnects with capped exponential back-off, resubscribes
// every live subscription, and has the broker confirm the subscriptions
// with a receipt. Subscription channels stay open across the
// reconnection. Queue messages received but not acknowledged on the old
// connection are redelivered (by the broker, or by the Conn on the
// embedded broker), and their Ack returns rpc.ErrClosed.
package broker
