package translators

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// TranslatePuppet reads one Puppet run report (report_format 12 and the
// older formats of the same shape) and returns one event for it.
//
// The body is YAML, as Puppet's built-in http report processor POSTs it
// (the root tagged !ruby/object:Puppet::Transaction::Report; Ruby tags
// anywhere are ignored), or JSON, as the agent PUTs it to
// /puppet/v3/report/<certname> and caches it in last_run_report.json.
// contentType picks the parser; when it names neither, a body that opens
// with '{' is read as JSON and anything else as YAML.
//
// The event's post depends on the run:
//   - failed (status failed, a failed resource, an unfinished transaction):
//     tags puppet and fail, severity critical, Opens the "puppet:run"
//     thread; a run that fell back to its cached catalog is a warning;
//   - changed: tags puppet and changed, severity info, Closes the
//     "puppet:run" thread;
//   - noop with pending changes: tags puppet and drift, severity warning;
//   - unchanged, or changed only in what changes nothing on the server
//     (notify messages): health ok, and a post that the pipeline keeps
//     only if it ends an open failure ("Puppet runs cleanly again").
//
// The error is a *ParseError when the body is not a report or names no host.
func TranslatePuppet(contentType string, body []byte) ([]Event, error) {
	tree, err := decodePuppet(contentType, body)
	if err != nil {
		return nil, err
	}
	rep, err := readPuppetReport(tree)
	if err != nil {
		return nil, err
	}
	return []Event{rep.event(body)}, nil
}

// Bounds on what a report may make the translator do.
const (
	puppetMaxDepth       = 64   // nesting of the decoded document
	puppetMaxDetailItems = 100  // resources listed in a post's details
	puppetMaxMessages    = 20   // messages kept per list in details
	puppetMaxMessageLen  = 2000 // runes kept of one message
	puppetMaxValueLen    = 500  // runes kept of one property value
	puppetMaxClasses     = 200
)

// classes are the classes the resources sit in, as Puppet names them in
// lower case: "Roles::Frontend_web" gives "roles::frontend_web". Stages,
// resources and the classes every node has (main, settings) are left out.
func (r *puppetReport) classes() []string {
	seen := map[string]bool{}
	var out []string
	for _, res := range r.resources {
		for _, p := range res.path {
			c := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(p)), "::")
			if seen[c] || c == "main" || c == "settings" || !isClassName(c) {
				continue
			}
			seen[c] = true
			if len(out) < puppetMaxClasses {
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

func isClassName(c string) bool {
	if c == "" || len(c) > 200 {
		return false
	}
	for _, seg := range strings.Split(c, "::") {
		if seg == "" {
			return false
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				return false
			}
		}
	}
	return true
}

// event builds the run's event: its identity, the node's health after the
// run and, when there is something to tell, the post.
func (r *puppetReport) event(body []byte) Event {
	ev := Event{
		ID:      r.id(body),
		Source:  SourcePuppet,
		Node:    r.host,
		Classes: r.classes(),
		Time:    r.time,
		Health:  SeverityOK,
	}
	var failed, changed, pending []*puppetResource
	for _, res := range r.resources {
		switch {
		case res.failed || res.failedRestart:
			failed = append(failed, res)
		case res.changed:
			changed = append(changed, res)
		case res.hasNoopEvent() || r.noopPending && res.outOfSync && !res.skipped:
			pending = append(pending, res)
		}
	}
	switch {
	case len(failed) > 0 || r.status == "failed" || !r.completed || r.cachedOnError:
		ev.Post = r.failurePost(failed)
		ev.Health = ev.Post.Severity
	case hasMeaningful(changed) || r.status == "changed" && len(changed) == 0 && r.changeCount() > 0:
		ev.Post = r.changePost(changed, pending)
	case len(pending) > 0 || r.noopPending:
		ev.Post = r.driftPost(pending)
		ev.Health = SeverityWarning
	default:
		ev.Post = &Draft{
			Text:       "Puppet runs cleanly again on this server",
			Tags:       []string{"puppet", "ok"},
			Severity:   SeverityOK,
			Thread:     puppetThread,
			Closes:     true,
			OnlyIfOpen: true,
			Details:    r.details(),
		}
	}
	return ev
}

func (res *puppetResource) hasNoopEvent() bool {
	for _, e := range res.events {
		if e.status == "noop" {
			return true
		}
	}
	return false
}

// id is "puppet:<certname>:<transaction uuid>", or the configuration
// version and time of the run when the report has no uuid.
func (r *puppetReport) id(body []byte) string {
	key := r.uuid
	if key == "" {
		cv, t := scalarText(r.configVersion), r.timeText
		if !r.time.IsZero() {
			t = r.time.Format(time.RFC3339Nano)
		}
		if k := cv + "@" + t; k != "@" && validKey(k) {
			key = k
		}
	}
	if key == "" {
		sum := sha256.Sum256(body)
		key = hex.EncodeToString(sum[:12])
	}
	id := "puppet:" + r.host + ":" + key
	if len(id) > 200 {
		sum := sha256.Sum256([]byte(id))
		id = "puppet:" + hex.EncodeToString(sum[:16])
	}
	return id
}

func (r *puppetReport) changeCount() int64 {
	n, _ := r.metrics["changes"]["total"].(int64)
	return n
}

// details is what a post keeps of the run beyond its sentence.
func (r *puppetReport) details(listed ...[]*puppetResource) map[string]any {
	d := map[string]any{}
	for k, v := range r.fields {
		d[k] = v
	}
	if t, ok := r.metrics["time"]["total"]; ok {
		d["run_seconds"] = t
	}
	if res := r.metrics["resources"]; len(res) > 0 {
		d["resource_counts"] = res
	}
	if c, ok := r.metrics["changes"]["total"]; ok {
		d["change_count"] = c
	}
	if ev := r.metrics["events"]; len(ev) > 0 {
		d["event_counts"] = ev
	}
	var list []any
	omitted := 0
	for _, group := range listed {
		for _, res := range group {
			if len(list) == puppetMaxDetailItems {
				omitted++
				continue
			}
			list = append(list, res.details())
		}
	}
	if len(list) > 0 {
		d["resources"] = list
	}
	if omitted > 0 {
		d["resources_omitted"] = omitted
	}
	if len(r.errors) > 0 {
		d["errors"] = capMessages(r.errors)
	}
	return d
}

func (res *puppetResource) details() map[string]any {
	d := map[string]any{
		"type":    res.typ,
		"title":   truncateRunes(res.title, puppetMaxValueLen),
		"outcome": res.outcome(),
	}
	if res.file != "" {
		d["file"] = res.file
	}
	if res.line != nil {
		d["line"] = res.line
	}
	var changes []any
	for i, e := range res.events {
		if i == puppetMaxMessages {
			break
		}
		c := map[string]any{"status": e.status}
		if e.property != "" {
			c["property"] = e.property
		}
		if v := detailValue(e.previous, 0); v != nil {
			c["previous_value"] = v
		}
		if v := detailValue(e.desired, 0); v != nil {
			c["desired_value"] = v
		}
		if e.message != "" {
			c["message"] = truncateRunes(e.message, puppetMaxMessageLen)
		}
		changes = append(changes, c)
	}
	if len(changes) > 0 {
		d["changes"] = changes
	}
	if len(res.messages) > 0 {
		d["messages"] = capMessages(res.messages)
	}
	return d
}

func (res *puppetResource) outcome() string {
	switch {
	case res.failedRestart && !res.failed:
		return "restart_failed"
	case res.failed:
		return "failed"
	case res.skipped:
		return "skipped"
	case res.changed:
		return "changed"
	case res.outOfSync || res.hasNoopEvent():
		return "pending"
	}
	return "unchanged"
}

func capMessages(msgs []string) []any {
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, truncateRunes(m, puppetMaxMessageLen))
	}
	return out
}

// detailValue copies a decoded value into details, bounded: long strings,
// lists and mappings are cut, deep ones summarized.
func detailValue(v any, depth int) any {
	switch v := v.(type) {
	case string:
		return truncateRunes(v, puppetMaxValueLen)
	case []any:
		if depth >= 4 {
			return fmt.Sprintf("(a list of %d)", len(v))
		}
		out := make([]any, 0, min(len(v), puppetMaxMessages))
		for i, x := range v {
			if i == puppetMaxMessages {
				break
			}
			out = append(out, detailValue(x, depth+1))
		}
		return out
	case map[string]any:
		if depth >= 4 {
			return fmt.Sprintf("(a mapping of %d)", len(v))
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := map[string]any{}
		for i, k := range keys {
			if i == puppetMaxMessages {
				break
			}
			out[truncateRunes(k, 100)] = detailValue(v[k], depth+1)
		}
		return out
	}
	return v
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	r := []rune(s)
	return strings.ToValidUTF8(string(r[:n]), "\uFFFD") + "…"
}

// puppetThread is the thread of a node's Puppet runs: a failed run opens
// it, the next good run ends it.
const puppetThread = "puppet:run"
