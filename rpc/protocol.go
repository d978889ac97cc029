package rpc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Protocol names, carried in every message's "protocol" member. They are
// signed with the rest of the message, so a signature made for one kind of
// message cannot be passed off as another.
const (
	ProtocolRequest      = "fleetfeed.rpc.v1"
	ProtocolReply        = "fleetfeed.rpc.v1.reply"
	ProtocolRegistration = "fleetfeed.registration.v1"
)

// Limits a well-formed request stays within.
const (
	// MaxMessageSize bounds a request or reply body; larger ones are
	// dropped unread.
	MaxMessageSize = 1 << 20
	// DefaultTTL is the TTL of a request that names none.
	DefaultTTL = 60 * time.Second
	// MaxTTL bounds a request's TTL, and so how long an agent remembers
	// its id to refuse a replay.
	MaxTTL = 6 * time.Hour
)

// BroadcastDestination is the topic every agent with the named plugin
// subscribes to; a request sent there carries a filter and each agent
// decides whether it matches.
func BroadcastDestination(collective, agent string) string {
	return "/topic/" + collective + ".broadcast.agent." + agent
}

// NodeDestination is the queue of one node: a direct request is sent once
// per named node and waits there, until its TTL, for a node that is down.
func NodeDestination(collective, identity string) string {
	return "/queue/" + collective + ".node." + identity
}

// ReplyDestination is the topic a client with the given sender id reads
// its replies from. It is a topic so that replies to a client that has
// gone are dropped by the broker rather than piled up.
func ReplyDestination(collective, senderID string) string {
	return "/topic/" + collective + ".reply." + senderID
}

// RegistrationDestination is the queue agents publish their inventory to.
func RegistrationDestination(collective string) string {
	return "/queue/" + collective + ".registration"
}

// replyPrefixes are the destinations a request's replyto may name.
func replyPrefixes(collective string) []string {
	return []string{"/topic/" + collective + ".reply.", "/queue/" + collective + ".reply."}
}

// StatusCode is the outcome of an action, with MCollective's numbering.
type StatusCode int

// The status codes.
const (
	StatusOK            StatusCode = 0 // the action ran and succeeded
	StatusAborted       StatusCode = 1 // the action ran, or was refused, and failed
	StatusUnknownAction StatusCode = 2 // no such agent or action on this node
	StatusMissingData   StatusCode = 3 // a required input is missing
	StatusInvalidData   StatusCode = 4 // an input failed validation
	StatusUnknownError  StatusCode = 5 // the action crashed
)

// String returns the MCollective text of a status code.
func (c StatusCode) String() string {
	switch c {
	case StatusOK:
		return "OK"
	case StatusAborted:
		return "Aborted"
	case StatusUnknownAction:
		return "Unknown Action"
	case StatusMissingData:
		return "Missing Request Data"
	case StatusInvalidData:
		return "Invalid Request Data"
	case StatusUnknownError:
		return "Unknown Request Status"
	}
	return fmt.Sprintf("Status %d", int(c))
}

// Request is an RPC request as it travels on the wire (see the package
// documentation for the meaning of each member).
type Request struct {
	Protocol   string         `json:"protocol"`
	RequestID  string         `json:"requestid"`
	SenderID   string         `json:"senderid"`
	CallerID   string         `json:"callerid"`
	Agent      string         `json:"agent"`
	Action     string         `json:"action"`
	Data       map[string]any `json:"data"`
	Filter     *Filter        `json:"filter,omitempty"`
	Collective string         `json:"collective"`
	TTL        int            `json:"ttl"`
	MsgTime    int64          `json:"msgtime"`
	ReplyTo    string         `json:"replyto,omitempty"`
	PubKey     string         `json:"pubkey"`
	Signature  string         `json:"signature,omitempty"`
}

// NewRequest returns a request with a fresh id, the current time, the
// default TTL and the protocol set; the caller fills in the rest and signs
// it with a Signer.
func NewRequest(collective, agent, action string, data map[string]any) *Request {
	if data == nil {
		data = map[string]any{}
	}
	return &Request{
		Protocol:   ProtocolRequest,
		RequestID:  NewRequestID(),
		Agent:      agent,
		Action:     action,
		Data:       data,
		Collective: collective,
		TTL:        int(DefaultTTL / time.Second),
		MsgTime:    time.Now().Unix(),
	}
}

// NewRequestID returns 32 random lowercase hex digits.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// ReplyDestination is where replies to r go: its replyto, or the sender's
// reply topic.
func (r *Request) ReplyDestination() string {
	if r.ReplyTo != "" {
		return r.ReplyTo
	}
	return ReplyDestination(r.Collective, r.SenderID)
}

// Validate checks that r is well formed: protocol, names, TTL, reply
// destination and filter. It returns an error wrapping ErrProtocol or
// ErrMalformed.
func (r *Request) Validate() error {
	if r.Protocol != ProtocolRequest {
		return fmt.Errorf("protocol %q: %w", r.Protocol, ErrProtocol)
	}
	for _, f := range []struct{ name, v string }{
		{"requestid", r.RequestID}, {"senderid", r.SenderID}, {"agent", r.Agent},
		{"action", r.Action}, {"collective", r.Collective},
	} {
		if err := CheckName(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if r.CallerID == "" || len(r.CallerID) > maxNameLen {
		return fmt.Errorf("callerid %q: %w", r.CallerID, ErrMalformed)
	}
	if r.TTL < 1 || time.Duration(r.TTL)*time.Second > MaxTTL {
		return fmt.Errorf("ttl %d outside 1..%d: %w", r.TTL, int(MaxTTL/time.Second), ErrMalformed)
	}
	if r.ReplyTo != "" {
		ok := false
		for _, p := range replyPrefixes(r.Collective) {
			if strings.HasPrefix(r.ReplyTo, p) && CheckName(strings.TrimPrefix(r.ReplyTo, p)) == nil {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("replyto %q is not a reply destination of collective %q: %w", r.ReplyTo, r.Collective, ErrMalformed)
		}
	}
	if err := r.Filter.Validate(); err != nil {
		return err
	}
	return nil
}

// CheckTime reports whether r may still run at now: ErrExpired once
// msgtime+ttl has passed, ErrFuture if msgtime is more than skew ahead of
// now (the sender's clock is wrong, or the message was forged to live
// longer).
func (r *Request) CheckTime(now time.Time, skew time.Duration) error {
	sent := time.Unix(r.MsgTime, 0)
	if now.After(r.Expires()) {
		return fmt.Errorf("sent %s ago with a ttl of %ds: %w", now.Sub(sent).Round(time.Second), r.TTL, ErrExpired)
	}
	if sent.After(now.Add(skew)) {
		return fmt.Errorf("sent %s in the future (allowed skew %s): %w", sent.Sub(now).Round(time.Second), skew, ErrFuture)
	}
	return nil
}

// Expires is when r stops being valid: msgtime + ttl.
func (r *Request) Expires() time.Time {
	return time.Unix(r.MsgTime, 0).Add(time.Duration(r.TTL) * time.Second)
}

// Reply is one agent's answer to a request, as it travels on the wire.
type Reply struct {
	Protocol   string         `json:"protocol"`
	RequestID  string         `json:"requestid"`
	SenderID   string         `json:"senderid"`
	Agent      string         `json:"agent"`
	Action     string         `json:"action"`
	StatusCode StatusCode     `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Data       map[string]any `json:"data"`
	MsgTime    int64          `json:"msgtime"`
	PubKey     string         `json:"pubkey"`
	Signature  string         `json:"signature,omitempty"`
}

// NewReply returns an OK reply to req from the agent named sender.
func NewReply(req *Request, sender string) *Reply {
	return &Reply{
		Protocol:   ProtocolReply,
		RequestID:  req.RequestID,
		SenderID:   sender,
		Agent:      req.Agent,
		Action:     req.Action,
		StatusCode: StatusOK,
		StatusMsg:  StatusOK.String(),
		Data:       map[string]any{},
		MsgTime:    time.Now().Unix(),
	}
}

// Validate checks that r is well formed. It returns an error wrapping
// ErrProtocol or ErrMalformed.
func (r *Reply) Validate() error {
	if r.Protocol != ProtocolReply {
		return fmt.Errorf("protocol %q: %w", r.Protocol, ErrProtocol)
	}
	for _, f := range []struct{ name, v string }{
		{"requestid", r.RequestID}, {"senderid", r.SenderID},
	} {
		if err := CheckName(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

const maxNameLen = 255

// CheckName checks a name that becomes part of a destination or is
// compared as one: an identity, collective, agent, action, sender or
// request id. It must be 1 to 255 of the characters A-Z a-z 0-9 _ . - @
// and not start with '.' or '-'. It returns an error wrapping ErrMalformed.
func CheckName(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("name %q: length must be 1 to %d: %w", s, maxNameLen, ErrMalformed)
	}
	if s[0] == '.' || s[0] == '-' {
		return fmt.Errorf("name %q starts with %q: %w", s, s[0], ErrMalformed)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '@':
		default:
			return fmt.Errorf("name %q: character %q not allowed: %w", s, c, ErrMalformed)
		}
	}
	return nil
}

// decodeStrict decodes a verified body into v, keeping numbers in Data as
// json.Number so that large integers survive.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %w: %w", err, ErrMalformed)
	}
	return nil
}
