package rpc

import (
	"encoding/json"
	"fmt"
	"time"
)

// Registration is the inventory an agent publishes to its collective's
// registration queue when it starts and every interval after: the server
// keeps node profiles from it.
type Registration struct {
	Protocol   string         `json:"protocol"`
	Identity   string         `json:"identity"`
	Collective string         `json:"collective"`
	FQDN       string         `json:"fqdn,omitempty"`
	MACs       []string       `json:"macs,omitempty"`
	Facts      map[string]any `json:"facts,omitempty"`
	Classes    []string       `json:"classes,omitempty"`
	Agents     []string       `json:"agents"`
	Location   *Location      `json:"location,omitempty"`
	// Version is the agent's software version.
	Version string `json:"version"`
	// Time is when the message was made, in Unix seconds.
	Time int64 `json:"time"`
	// Interval is the number of seconds until the next registration; 0
	// when none is planned. A server can call a node overdue after a few
	// intervals.
	Interval int `json:"interval"`
	// PublicKey is the agent's signing key (standard base64, 32 bytes), so
	// that a server may learn it the first time it sees a node.
	PublicKey string `json:"public_key,omitempty"`
	PubKey    string `json:"pubkey"`
	Signature string `json:"signature,omitempty"`
}

// Location is where a node is, from its facts "datacenter", "latitude"
// and "longitude" (or the same under "location.").
type Location struct {
	Datacenter string   `json:"datacenter,omitempty"`
	Latitude   *float64 `json:"latitude,omitempty"`
	Longitude  *float64 `json:"longitude,omitempty"`
}

// LocationFromFacts returns the location the facts give, or nil.
func LocationFromFacts(facts map[string]any) *Location {
	var loc Location
	for _, prefix := range []string{"", "location."} {
		if v, ok := LookupFact(facts, prefix+"datacenter"); ok && loc.Datacenter == "" {
			loc.Datacenter = factString(v)
		}
		if v, ok := LookupFact(facts, prefix+"latitude"); ok && loc.Latitude == nil {
			if f, ok := factNumber(v); ok && f >= -90 && f <= 90 {
				loc.Latitude = &f
			}
		}
		if v, ok := LookupFact(facts, prefix+"longitude"); ok && loc.Longitude == nil {
			if f, ok := factNumber(v); ok && f >= -180 && f <= 180 {
				loc.Longitude = &f
			}
		}
	}
	if loc.Datacenter == "" && loc.Latitude == nil && loc.Longitude == nil {
		return nil
	}
	return &loc
}

// Validate checks that r is well formed. It returns an error wrapping
// ErrProtocol or ErrMalformed.
func (r *Registration) Validate() error {
	if r.Protocol != ProtocolRegistration {
		return fmt.Errorf("protocol %q: %w", r.Protocol, ErrProtocol)
	}
	if err := CheckName(r.Identity); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := CheckName(r.Collective); err != nil {
		return fmt.Errorf("collective: %w", err)
	}
	return nil
}

// Sent is when the registration was made.
func (r *Registration) Sent() time.Time { return time.Unix(r.Time, 0) }

// DecodeRegistration decodes a registration without checking its
// signature, for a server that learns keys on first use; it then checks
// the signature with VerifyRegistration against a ring holding the
// learned key.
func DecodeRegistration(body []byte) (*Registration, error) {
	if len(body) > MaxMessageSize {
		return nil, fmt.Errorf("registration of %d bytes: too large: %w", len(body), ErrMalformed)
	}
	var r Registration
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode registration: %w: %w", err, ErrMalformed)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("decode registration: %w", err)
	}
	return &r, nil
}
