package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/translators"
)

// Status is a rule in use and what it has done since the server started.
type Status struct {
	Rule *Rule
	// LastRun is when the rule last ran (zero: not since the start).
	LastRun time.Time
	// RunsInWindow counts its runs within the last Window: the rate
	// limit's window, or DefaultPer for a rule without one.
	RunsInWindow int
	Window       time.Duration
	// LastOutcome is the sentence of its last reply, and LastSeverity
	// that reply's severity; "" until one is posted.
	LastOutcome  string
	LastSeverity translators.Severity
}

// lastReply is what a rule's last reply said.
type lastReply struct {
	text string
	sev  translators.Severity
}

// window is the span runs are counted in.
func (r *Rule) window() time.Duration {
	if r.MaxRuns > 0 && r.Per > 0 {
		return r.Per
	}
	return DefaultPer
}

// Statuses returns the rules in use, in their file's order, with their
// runs.
func (e *Engine) Statuses() []Status {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Status, 0, len(e.rules))
	for _, r := range e.rules {
		st := Status{Rule: r, Window: r.window()}
		runs := e.runs[r.Name]
		if n := len(runs); n > 0 {
			st.LastRun = runs[n-1]
		}
		for _, t := range runs {
			if now.Sub(t) < st.Window {
				st.RunsInWindow++
			}
		}
		if l, ok := e.replies[r.Name]; ok {
			st.LastOutcome, st.LastSeverity = l.text, l.sev
		}
		out = append(out, st)
	}
	return out
}

// recordReply keeps the sentence of a rule's latest reply, for Statuses.
func (e *Engine) recordReply(name, text string, sev translators.Severity) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.replies == nil {
		e.replies = map[string]lastReply{}
	}
	e.replies[name] = lastReply{text, sev}
}

// Summary is a rule in plain words, for the administrators' page.
type Summary struct {
	// Matches are the conditions a post must all meet.
	Matches []string
	// Runs is the action: its words and the agent and action.
	Runs string
	// Data is the action's data as JSON, "" when there is none.
	Data string
	// On are the filter's parts, which the servers must all meet.
	On []string
	// Limits are the cooldown, the rate limit and the dry run.
	Limits []string
}

// Summary says what r matches, runs and on which servers, in words.
func (r *Rule) Summary() Summary {
	m := &r.Match
	var s Summary
	if m.Source != "" {
		s.Matches = append(s.Matches, "posts from "+m.Source)
	}
	if len(m.Tags) > 0 {
		s.Matches = append(s.Matches, "with all of the hashtags "+hashtags(m.lowerTagList))
	}
	if len(m.Roles) > 0 {
		s.Matches = append(s.Matches, "about a server with the role "+orList(m.roleTags))
	}
	for _, f := range m.facts {
		s.Matches = append(s.Matches, "about a server whose fact "+factWords(f))
	}
	if m.Text != "" {
		s.Matches = append(s.Matches, fmt.Sprintf("whose sentence matches %s", m.Text))
	}
	if m.Resource != "" {
		if m.Restart {
			s.Matches = append(s.Matches, fmt.Sprintf("where Puppet restarted or started %s", m.Resource))
		} else {
			s.Matches = append(s.Matches, fmt.Sprintf("where Puppet changed, failed or found out of sync %s", m.Resource))
		}
	}
	s.Runs = fmt.Sprintf("%s (%s %s)", actionWords(r.Run.Agent, r.Run.Action), r.Run.Agent, r.Run.Action)
	if r.Run.Timeout > 0 {
		s.Runs += ", waiting at most " + Words(r.Run.Timeout) + " for the answers"
	}
	if len(r.Run.Data) > 0 {
		if b, err := json.Marshal(r.Run.Data); err == nil {
			s.Data = string(b)
		}
	}
	f := r.Run.Filter
	if len(f.Identity) > 0 {
		s.On = append(s.On, "the server "+orList(f.Identity))
	}
	for _, c := range f.Class {
		s.On = append(s.On, "servers with the class "+c)
	}
	for _, fact := range f.Fact {
		if ff, err := parseFact(fact); err == nil {
			s.On = append(s.On, "servers whose fact "+factWords(ff))
		}
	}
	for _, a := range f.Agent {
		s.On = append(s.On, "servers with the agent "+a)
	}
	for _, c := range f.Compound {
		s.On = append(s.On, "servers that satisfy "+c)
	}
	s.Limits = append(s.Limits, "at most once every "+Words(r.Cooldown))
	if r.MaxRuns > 0 {
		s.Limits = append(s.Limits, fmt.Sprintf("at most %s in any %s", times(r.MaxRuns), Words(r.Per)))
	}
	if r.DryRun {
		s.Limits = append(s.Limits, "dry run: it only posts which servers it would have asked")
	}
	return s
}

// factWords says a fact comparison: "datacenter is ams1".
func factWords(f rpc.FactFilter) string {
	op := map[string]string{"==": "is", "!=": "is not", "<": "is below", ">": "is above", "<=": "is at most",
		">=": "is at least", "=~": "matches"}[f.Operator]
	v := f.Value
	if f.Operator == "=~" && (len(v) < 2 || v[0] != '/' || v[len(v)-1] != '/') {
		v = "/" + v + "/"
	}
	return f.Fact + " " + op + " " + v
}

func hashtags(tags []string) string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = "#" + t
	}
	return strings.Join(out, ", ")
}

// orList is "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func times(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// Words says a duration as a reader would: "1 hour", "90 minutes",
// "45 seconds".
func Words(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}
