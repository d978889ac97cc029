package agent

import (
	"sync/atomic"
	"time"
)

// Reason is why a request was not run. Every refusal is logged with its
// reason and counted in Stats.Dropped.
type Reason string

// The reasons, in the order the checks are made.
const (
	ReasonMalformed     Reason = "malformed"      // not a well-formed request
	ReasonProtocol      Reason = "protocol"       // an unknown protocol
	ReasonCollective    Reason = "collective"     // for another collective
	ReasonUntrusted     Reason = "untrusted"      // unknown key, or the key may not speak for the caller
	ReasonSignature     Reason = "signature"      // the signature does not verify
	ReasonExpired       Reason = "expired"        // msgtime + ttl has passed
	ReasonFuture        Reason = "future"         // msgtime too far ahead
	ReasonReplay        Reason = "replay"         // request id seen before
	ReasonNotTargeted   Reason = "not_targeted"   // broadcast filter does not match, or direct request does not name this node
	ReasonUnauthorized  Reason = "unauthorized"   // the policy denies it (answered with status 1)
	ReasonUnknownAgent  Reason = "unknown_agent"  // no such plugin here (answered with status 2)
	ReasonUnknownAction Reason = "unknown_action" // no such action (answered with status 2)
	ReasonInvalidData   Reason = "invalid_data"   // inputs fail the DDL (answered with status 3 or 4)
)

// Reasons lists every reason.
var Reasons = []Reason{
	ReasonMalformed, ReasonProtocol, ReasonCollective, ReasonUntrusted, ReasonSignature,
	ReasonExpired, ReasonFuture, ReasonReplay, ReasonNotTargeted, ReasonUnauthorized,
	ReasonUnknownAgent, ReasonUnknownAction, ReasonInvalidData,
}

// Stats counts what an agent has done since it started.
type Stats struct {
	StartTime time.Time
	// Received counts request messages; Passed those that ran.
	Received uint64
	Passed   uint64
	// Failed counts actions that ran and did not return status 0.
	Failed uint64
	// Replies counts replies sent; ReplyErrors replies that could not be.
	Replies     uint64
	ReplyErrors uint64
	// Registrations counts registrations sent.
	Registrations uint64
	// ReplayEvictions counts request ids forgotten before they expired
	// because the replay cache was full.
	ReplayEvictions uint64
	// Dropped counts refused requests by reason.
	Dropped map[Reason]uint64
}

// Add adds o's counters to s (to total a simulated fleet).
func (s *Stats) Add(o Stats) {
	s.Received += o.Received
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Replies += o.Replies
	s.ReplyErrors += o.ReplyErrors
	s.Registrations += o.Registrations
	s.ReplayEvictions += o.ReplayEvictions
	if s.Dropped == nil {
		s.Dropped = map[Reason]uint64{}
	}
	for r, n := range o.Dropped {
		s.Dropped[r] += n
	}
}

// counters are the live, lock-free form of Stats.
type counters struct {
	received, passed, failed, replies, replyErrors, registrations atomic.Uint64
	dropped                                                       map[Reason]*atomic.Uint64
}

func newCounters() *counters {
	c := &counters{dropped: map[Reason]*atomic.Uint64{}}
	for _, r := range Reasons {
		c.dropped[r] = new(atomic.Uint64)
	}
	return c
}

func (c *counters) snapshot(start time.Time, evictions uint64) Stats {
	s := Stats{
		StartTime:       start,
		Received:        c.received.Load(),
		Passed:          c.passed.Load(),
		Failed:          c.failed.Load(),
		Replies:         c.replies.Load(),
		ReplyErrors:     c.replyErrors.Load(),
		Registrations:   c.registrations.Load(),
		ReplayEvictions: evictions,
		Dropped:         map[Reason]uint64{},
	}
	for r, n := range c.dropped {
		s.Dropped[r] = n.Load()
	}
	return s
}
