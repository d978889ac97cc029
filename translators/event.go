// Package translators turns what monitoring, configuration-management and
// intrusion-detection tools emit into fleetfeed's normalized events.
//
// Every translator is a pure function: bytes (or a set of macros) in, events
// out. No SQL, no HTTP, no clock: times come from the payload, and a payload
// that names no time gets the zero time, which the pipeline replaces with the
// time of ingest.
//
// A post's sentence is written for a reader who does not know what a device
// name, a signature id or a Puppet resource is: technical detail goes into
// Draft.Details, never into Draft.Text.
package translators

import (
	"errors"
	"fmt"
	"time"
)

// Severity orders how much a post matters to a reader.
type Severity string

// The severities, from least to most urgent.
const (
	SeverityOK       Severity = "ok"
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Rank orders severities: ok < info < warning < critical; unknown is 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityOK:
		return 1
	case SeverityInfo:
		return 2
	case SeverityWarning:
		return 3
	case SeverityCritical:
		return 4
	}
	return 0
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// Source names, as used in ingest URLs, STOMP "source" headers and the
// source field of a post.
const (
	SourcePuppet   = "puppet"
	SourceNagios   = "nagios"
	SourceIcinga2  = "icinga2"
	SourceSuricata = "suricata"
	SourceSnort    = "snort"
	SourceWazuh    = "wazuh"
	SourceOSSEC    = "ossec"
	SourceFail2ban = "fail2ban"
	SourceEvents   = "events"
)

// Event is one thing that happened to one node, normalized.
//
// An event without a Post still counts: it updates the node's last-seen time
// and health (an unchanged Puppet run, say).
type Event struct {
	// ID identifies the event for deduplication: the same source event
	// always yields the same ID, two different events never do. It is
	// prefixed by the source ("puppet:…").
	ID string `json:"id"`
	// Source is one of the Source* names.
	Source string `json:"source"`
	// Node is the name the source gives the node: certname, FQDN, short
	// host name, IP or MAC.
	Node string `json:"node"`
	// Aliases are other names the payload gives the same node (its IP,
	// its MAC, its FQDN when Node is a short name).
	Aliases []string `json:"aliases,omitempty"`
	// Classes are the configuration-management classes the payload shows
	// the node has (Puppet's, e.g. "roles::frontend_web"); the pipeline
	// turns role classes into hashtags.
	Classes []string `json:"classes,omitempty"`
	// Time is when it happened, as the payload says; zero if it says not.
	Time time.Time `json:"time"`
	// Health is the node's health after this event, if the event tells
	// it (a Puppet run does, an IDS alert does not): empty otherwise.
	Health Severity `json:"health,omitempty"`
	// Post is what to tell readers; nil when there is nothing to say.
	Post *Draft `json:"post,omitempty"`
}

// Draft is a post before it is stored.
type Draft struct {
	// Text is one plain-language sentence, without hashtags, at most
	// MaxSentence characters.
	Text string `json:"text"`
	// Tags are hashtags without '#', lower case: the source tag
	// ("puppet", "nagios", "icinga", "security"), the state tag ("ok",
	// "warning", "critical", "fail", "changed", "drift", "maintenance",
	// "acknowledged", "flapping") and any others the translator knows.
	// Role tags from the node's classes are added by the pipeline.
	Tags []string `json:"tags"`
	// Severity of the post.
	Severity Severity `json:"severity"`
	// Thread groups the posts of one incident: a recovery carries the
	// thread of the problem it ends, so it is stored as a reply to it.
	// Empty: the post starts no thread and joins none.
	Thread string `json:"thread,omitempty"`
	// Opens is true for a post that starts an incident (a PROBLEM, a
	// host DOWN, a failed Puppet run, FLAPPINGSTART, DOWNTIMESTART); a
	// post whose Opens is false and whose thread has an open incident
	// replies to it.
	Opens bool `json:"opens,omitempty"`
	// Closes is true for a post that ends its thread's incident (a
	// RECOVERY, host UP, FLAPPINGSTOP, DOWNTIMEEND, a successful Puppet run
	// after a failed one).
	Closes bool `json:"closes,omitempty"`
	// Flapping marks a FLAPPINGSTART: until the thread closes, repeats of
	// the thread fold into this post instead of becoming posts.
	Flapping bool `json:"flapping,omitempty"`
	// OnlyIfOpen keeps the post only when its thread has an open incident
	// for it to end (a quiet Puppet run after a failed one); otherwise the
	// event counts, but makes no post.
	OnlyIfOpen bool `json:"only_if_open,omitempty"`
	// Details keeps the technical data the sentence leaves out (check
	// output, resources, signatures, packet data), as structured data
	// that marshals to JSON.
	Details map[string]any `json:"details,omitempty"`
	// ReplyTo, when not 0, is the id of the post this one replies to,
	// whatever its thread holds (a rule's run replies to the post that
	// triggered it). Only fleetfeed itself sets it: it is not read from
	// payloads.
	ReplyTo int64 `json:"-"`
}

// MaxSentence is the longest a post's sentence may be, hashtags included.
const MaxSentence = 200

// ErrUnknownSource is returned by Translate for a source it does not know.
var ErrUnknownSource = errors.New("unknown source")

// ParseError says what was wrong with a payload and, for line-oriented
// formats, on which line (1-based; 0 when not line-oriented).
type ParseError struct {
	Source string
	Line   int
	Msg    string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.Source, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Source, e.Msg)
}
