// Package rpc is fleetfeed's remote procedure call protocol: operators (and
// rules) send requests over a STOMP broker to agents on servers, in the
// manner of MCollective and Choria, and collect the replies.
//
// The sections below describe the wire format. The package holds the message types
// (Request, Reply, Registration), their signing (Signer, KeyRing), node
// filters (Filter, with the compound language of ParseCompound),
// authorization (Policy), plugin descriptions (DDL), the broker interface
// (Connector), and the client: Client.Do (discovery by broadcast,
// inventory or list, direct requests, limits, batches, TTL, statistics),
// Aggregate, Client.SendAsync with ListenReplies and a ReplyStore, and
// RunAll. The agent daemon is rpc/agent; rpc/render writes results for
// people and as JSON.
//
// # Destinations
//
// Names are exact (go-stomp's broker has no wildcards or selectors). <c> is
// the collective, <agent> a plugin name, <identity> a node's identity and
// <senderid> a client's id; all are CheckName names.
//
//	/topic/<c>.broadcast.agent.<agent>  broadcast request, filter in the body
//	/queue/<c>.node.<identity>          direct request to one node
//	/topic/<c>.reply.<senderid>         replies to one client
//	/queue/<c>.registration             agents' inventories
//
// A broadcast request reaches every agent with the plugin that is connected
// at that moment; each evaluates the filter and a node that does not match
// stays silent. A direct request is sent once per named node to that node's
// queue, with SendOptions.TTL set to the request's TTL: the broker keeps it
// for a node that is down, and the node still refuses it once expired. A
// node runs a direct request only if the filter's identity part names it
// (so a copy moved to another node's queue is refused); it does not
// evaluate the rest of the filter, which the client applied when it chose
// the nodes.
//
// Replies go to a topic, not a queue: a client subscribes to its reply
// topic before it publishes, and replies to a client that has gone are
// dropped by the broker instead of accumulating in a queue nobody reads
// (go-stomp's queues keep messages in memory forever). One topic per
// client, not per request, so a long-lived server holds one subscription
// and sorts replies by requestid. A request may name another reply
// destination in "replyto", which must start with /topic/<c>.reply. or
// /queue/<c>.reply. (a queue, for a receiver that stores replies of
// fire-and-forget requests).
//
// # Messages
//
// Bodies are JSON objects, at most MaxMessageSize bytes. A request:
//
//	{
//	  "protocol":   "fleetfeed.rpc.v1",
//	  "requestid":  "9f1c…",               32 hex digits, unique per request
//	  "senderid":   "fleetfeed-server",    the client; replies go to its reply topic
//	  "callerid":   "user=alice",          who asks: kind=name; policies match it
//	  "agent":      "puppet",
//	  "action":     "runonce",
//	  "data":       {"noop": true},        inputs, typed as the plugin's DDL says
//	  "filter":     {"identity": ["web1"], "fact": [{"fact": "os.family", "operator": "==", "value": "Debian"}],
//	                 "class": ["roles::web"], "agent": ["puppet"],
//	                 "compound": ["roles::db or not datacenter=ams1"]},  see ParseCompound
//	  "collective": "fleetfeed",
//	  "ttl":        60,                    seconds the request stays valid, 1 to 21600
//	  "msgtime":    1764097200,            Unix seconds when it was made
//	  "replyto":    "",                    optional, see above
//	  "pubkey":     "fleetfeed-server",    name of the signing key in the receiver's key ring
//	  "signature":  "base64…"              ed25519, see below
//	}
//
// A reply:
//
//	{
//	  "protocol":   "fleetfeed.rpc.v1.reply",
//	  "requestid":  "9f1c…",
//	  "senderid":   "web1.example.com",    the node that answers
//	  "agent":      "puppet", "action": "runonce",
//	  "statuscode": 0,                     see StatusCode
//	  "statusmsg":  "OK",
//	  "data":       {"summary": "…"},      outputs, as the DDL describes them
//	  "msgtime":    1764097201,
//	  "pubkey":     "web1.example.com",
//	  "signature":  "base64…"
//	}
//
// Status codes are MCollective's: 0 OK, 1 aborted (the action failed or the
// caller is not authorized), 2 unknown agent or action, 3 missing input, 4
// invalid input (statusmsg names the input), 5 the action crashed.
//
// A registration (see Registration for every member) carries
// "protocol": "fleetfeed.registration.v1", the identity, collective, fqdn,
// MAC addresses, facts, classes, agents, location (datacenter, latitude,
// longitude, when the facts give them), agent version, time, the interval
// until the next one, the agent's public key, "pubkey" and "signature". It
// is sent with SendOptions.TTL set to the interval, so that a stale one is
// not delivered late where the broker honours expiry.
//
// # Signatures
//
// Every message is signed with ed25519 by its sender. The signature is made
// over the message's canonical form: the JSON object without its
// "signature" member, members sorted by name (bytewise), each value as it
// appears in the body with insignificant whitespace removed, written
// {"name":value,...} with no whitespace. Member names must be distinct and
// made of a-z, 0-9 and "_"; anything else is malformed. Because values are
// kept as sent, the receiver checks exactly the bytes the sender signed;
// only the order of the top-level members and whitespace may change on the
// way. The signature member is the standard base64 of the 64-byte
// signature; "pubkey" names the key. The protocol member is signed too, so
// a reply can never pass for a request.
//
// A receiver trusts a KeyRing of public keys by name. Each key may speak
// for some principals: for a request its callerid, for a reply its
// senderid, for a registration its identity. By default a key named alice
// speaks for "user=alice" and "alice"; a server that signs for its
// logged-in users is trusted for "*" or a /regex/.
//
// # What an agent checks
//
// In order: the protocol; the collective; the signature, by a trusted key
// allowed to speak for the caller; the time (refused once msgtime+ttl has
// passed, or if msgtime is more than a small skew, 30 s by default, in the
// future); replay (a request id already seen, remembered until it expires);
// targeting (the filter on a broadcast, the identity on a direct request:
// a node that is not targeted stays silent); the authorization policy (a
// refusal is answered with status 1); the agent and action (status 2); the
// inputs against the DDL (status 3 or 4). Only then does the action run.
// Every refusal is logged with its reason and counted.
package rpc
