package translators

// What Nagios and Icinga 2 have in common: the notification types, the
// states, the posts and their thread keys, the performance-data format, a
// lenient form reader. nagios.go and icinga2.go read their payloads into a
// monAlert and let its event method write the post, in the words of
// monitoring_words.go.

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The notification types, as Nagios names them. Icinga's FLAPPINGEND is
// read as FLAPPINGSTOP.
const (
	monProblem           = "PROBLEM"
	monRecovery          = "RECOVERY"
	monAcknowledgement   = "ACKNOWLEDGEMENT"
	monFlappingStart     = "FLAPPINGSTART"
	monFlappingStop      = "FLAPPINGSTOP"
	monFlappingDisabled  = "FLAPPINGDISABLED"
	monDowntimeStart     = "DOWNTIMESTART"
	monDowntimeEnd       = "DOWNTIMEEND"
	monDowntimeCancelled = "DOWNTIMECANCELLED"
	monCustom            = "CUSTOM"
)

// monSentenceMax is how long a sentence with its hashtags may be here: the
// pipeline adds role tags, so leave them room under MaxSentence.
const monSentenceMax = MaxSentence - 40

// monNotificationType normalizes a notification type; ok is false for a
// type neither tool sends.
func monNotificationType(s string) (t string, ok bool) {
	t = strings.ToUpper(strings.TrimSpace(s))
	switch t {
	case monProblem, monRecovery, monAcknowledgement, monFlappingStart,
		monFlappingStop, monFlappingDisabled, monDowntimeStart,
		monDowntimeEnd, monDowntimeCancelled, monCustom:
		return t, true
	case "FLAPPINGEND": // Icinga 2
		return monFlappingStop, true
	case "DOWNTIMEREMOVED", "DOWNTIMECANCELED":
		return monDowntimeCancelled, true
	case "ACKNOWLEDGMENT":
		return monAcknowledgement, true
	}
	return "", false
}

// monState normalizes a host or service state to Nagios's upper-case name
// (OK, WARNING, CRITICAL, UNKNOWN; UP, DOWN, UNREACHABLE), falling back
// to the numeric state id; "" when neither says.
func monState(host bool, name, id string) string {
	name = strings.ToUpper(strings.TrimSpace(name))
	switch name {
	case "OK", "WARNING", "CRITICAL", "UNKNOWN", "UP", "DOWN", "UNREACHABLE":
		return name
	}
	if name != "" {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil {
		return ""
	}
	if host {
		return monIndex([]string{"UP", "DOWN", "UNREACHABLE"}, n)
	}
	return monIndex([]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}, n)
}

func monIndex(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return ""
	}
	return names[i]
}

// monStateSeverity is how much a state matters to a reader.
func monStateSeverity(state string) Severity {
	switch state {
	case "OK", "UP":
		return SeverityOK
	case "CRITICAL", "DOWN", "UNREACHABLE":
		return SeverityCritical
	}
	return SeverityWarning
}

// monAlert is one notification or state change from a monitoring tool, in
// the terms its post is written from.
type monAlert struct {
	source    string // SourceNagios or SourceIcinga2
	sourceTag string // "nagios" or "icinga"
	host      bool   // a host notification, not a service one
	typ       string // one of the mon* notification types
	node      string
	aliases   []string
	service   string // the service's name: thread key and hashtag
	display   string // the service's display name, when it has one
	state     string // as monState returns it
	author    string
	comment   string
	time      time.Time
	id        string
	details   map[string]any
}

// event writes the post for a.
func (a *monAlert) event() Event {
	ev := Event{
		ID:      a.id,
		Source:  a.source,
		Node:    a.node,
		Aliases: a.aliases,
		Time:    a.time,
		Post:    a.draft(),
	}
	if a.host {
		switch a.state {
		case "UP":
			ev.Health = SeverityOK
		case "DOWN":
			ev.Health = SeverityCritical
		}
	}
	return ev
}

// draft writes the post, falling back to a shorter sentence when names
// and comments from the payload make it too long.
func (a *monAlert) draft() *Draft {
	d := a.write(false)
	if utf8.RuneCountInString(Sentence(d.Text, d.Tags)) > monSentenceMax {
		d = a.write(true)
	}
	for len(d.Tags) > 2 && utf8.RuneCountInString(Sentence(d.Text, d.Tags)) > monSentenceMax {
		d.Tags = d.Tags[:len(d.Tags)-1]
	}
	return d
}

// write writes the post; compact leaves out the author's name, the
// comment and an unknown check's name.
func (a *monAlert) write(compact bool) *Draft {
	ck := monHostCheck
	if !a.host {
		ck = monServiceCheck(a.service, a.display, compact)
	}
	who := "Someone"
	if p := monPlain(a.author, 32); p != "" && !compact {
		who = p
	}
	d := &Draft{Details: a.details}
	// Threads are per node, and named alike for Nagios and Icinga, so
	// that either tool's recovery closes the other's problem.
	thread := "check:host"
	maintenance := "maintenance"
	if !a.host {
		svc := strings.ToLower(strings.TrimSpace(a.service))
		thread = monID("check:svc", svc)
		maintenance = monID("maintenance:svc", svc)
	}
	stateTag := ""
	switch a.typ {
	case monProblem:
		d.Severity = monStateSeverity(a.state)
		if d.Severity == SeverityOK { // a problem in an OK state: say so vaguely
			d.Severity = SeverityWarning
		}
		d.Text = ck.problem(a.state)
		d.Thread, d.Opens = thread, true
	case monRecovery:
		d.Severity, d.Text = SeverityOK, ck.recovered
		d.Thread, d.Closes = thread, true
	case monAcknowledgement:
		d.Severity, stateTag = SeverityInfo, "acknowledged"
		d.Text = who + " is looking into " + ck.trouble
		d.Thread = thread
	case monFlappingStart:
		d.Severity, stateTag = SeverityWarning, "flapping"
		d.Text = ck.flapping
		d.Thread, d.Opens, d.Flapping = thread, true, true
	case monFlappingStop:
		d.Severity, stateTag = SeverityOK, "flapping"
		d.Text = ck.settled
		if s := monStateSeverity(a.state); a.state != "" && s != SeverityOK {
			d.Severity = s
			d.Text += ck.stillBad
		}
		d.Thread, d.Closes = thread, true
	case monFlappingDisabled:
		d.Severity, stateTag = SeverityInfo, "flapping"
		d.Text = ck.unwatched
		d.Thread, d.Closes = thread, true
	case monDowntimeStart:
		d.Severity, stateTag = SeverityInfo, "maintenance"
		d.Text = ck.maintenanceStart
		d.Thread, d.Opens = maintenance, true
	case monDowntimeEnd:
		d.Severity, stateTag = SeverityOK, "maintenance"
		d.Text = ck.maintenanceEnd
		d.Thread, d.Closes = maintenance, true
	case monDowntimeCancelled:
		d.Severity, stateTag = SeverityInfo, "maintenance"
		d.Text = ck.maintenanceCancelled
		d.Thread, d.Closes = maintenance, true
	case monCustom:
		d.Severity, stateTag = SeverityInfo, "note"
		if c := monPlain(strings.ReplaceAll(a.comment, `"`, "'"), 90); c != "" && !compact {
			d.Text = who + ` writes: "` + c + `"`
		} else {
			d.Text = who + " sent a note about " + ck.about
		}
		d.Thread = thread
	}
	if stateTag == "" {
		stateTag = string(d.Severity)
	}
	d.Tags = append(d.Tags, stateTag)
	if a.state == "UNKNOWN" && a.typ == monProblem && !a.host {
		d.Tags = append(d.Tags, "unknown")
	}
	d.Tags = append(d.Tags, a.sourceTag)
	if ck.tag != "" {
		d.Tags = append(d.Tags, ck.tag)
	}
	return d
}

// monUnix turns Unix seconds, possibly fractional, into a UTC time rounded
// to the microsecond; the zero time for anything not a plausible time.
func monUnix(f float64) time.Time {
	if math.IsNaN(f) || f <= 0 || f > 1e11 {
		return time.Time{}
	}
	sec := math.Floor(f)
	usec := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(usec)*1000).UTC()
}

// monUnixString is monUnix for a decimal string.
func monUnixString(s string) time.Time {
	f, ok := monNumber(s)
	if !ok {
		return time.Time{}
	}
	return monUnix(f)
}

var monNumberRE = regexp.MustCompile(`^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$`)

// monNumber parses a finite decimal number ("NaN", "Inf" and hex are not).
func monNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !monNumberRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// monDetailNumber keeps a number as a number in the details when it is
// one, and as the text it was otherwise.
func monDetailNumber(s string) any {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, ok := monNumber(s); ok {
		return f
	}
	return s
}

// monID joins the parts of an event id or thread key; one longer than 200
// bytes keeps its first part (always fleetfeed's own word) and a digest of
// the whole, so it stays short and unique.
func monID(parts ...string) string {
	id := strings.Join(parts, ":")
	if len(id) <= 200 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return parts[0] + ":" + hex.EncodeToString(sum[:])
}

// monAliases returns the other names of node, without empties and repeats.
func monAliases(node string, names ...string) []string {
	var out []string
	seen := map[string]bool{node: true}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// monPerfdata parses Nagios plugin performance data,
// "'label'=value[uom];[warn];[crit];[min];[max]" separated by spaces, into
// one map per value. ok is false when any of it does not parse.
func monPerfdata(s string) (vals []map[string]any, ok bool) {
	s = strings.TrimSpace(s)
	for s != "" {
		var label string
		if s[0] == '\'' {
			// A quoted label; '' is a quote inside it.
			var b strings.Builder
			i := 1
			for {
				if i >= len(s) {
					return nil, false
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					break
				}
				b.WriteByte(s[i])
				i++
			}
			label, s = b.String(), s[i+1:]
			if !strings.HasPrefix(s, "=") {
				return nil, false
			}
			s = s[1:]
		} else {
			eq := strings.IndexByte(s, '=')
			if eq <= 0 || strings.ContainsAny(s[:eq], " \t") {
				return nil, false
			}
			label, s = s[:eq], s[eq+1:]
		}
		end := strings.IndexAny(s, " \t\n")
		if end < 0 {
			end = len(s)
		}
		field := s[:end]
		s = strings.TrimLeft(s[end:], " \t\n")
		v, ok := monPerfValue(label, field)
		if !ok {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, len(vals) > 0
}

var monPerfValueRE = regexp.MustCompile(`^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([^\d;=]*)$`)

func monPerfValue(label, field string) (map[string]any, bool) {
	parts := strings.Split(field, ";")
	if len(parts) > 5 || label == "" {
		return nil, false
	}
	v := map[string]any{"label": label}
	if parts[0] != "U" {
		m := monPerfValueRE.FindStringSubmatch(parts[0])
		if m == nil {
			return nil, false
		}
		f, ok := monNumber(m[1])
		if !ok {
			return nil, false
		}
		v["value"] = f
		if m[2] != "" {
			v["uom"] = m[2]
		}
	}
	for i, name := range []string{"warn", "crit", "min", "max"} {
		if i+1 < len(parts) && parts[i+1] != "" {
			v[name] = parts[i+1]
		}
	}
	return v, true
}

// monSetPerfdata puts raw performance data into details: parsed when it
// parses, and as it came.
func monSetPerfdata(details map[string]any, raw string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return
	}
	if vals, ok := monPerfdata(raw); ok {
		details["perfdata"] = vals
	}
	details["perfdata_raw"] = raw
}

// monSet puts a non-empty string into details.
func monSet(details map[string]any, key, value string) {
	if value = strings.TrimSpace(value); value != "" {
		details[key] = value
	}
}

// monForm reads a form body leniently: a notification command that sent
// its values without encoding them ("180% CPU") still gets them as they
// were. ok is false for a body with no key=value pair at all.
func monForm(b []byte) (url.Values, bool) {
	form := url.Values{}
	ok := false
	for _, pair := range strings.Split(string(b), "&") {
		k, v, found := strings.Cut(pair, "=")
		if !found {
			continue
		}
		ok = true
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = strings.ReplaceAll(k, "+", " ")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = strings.ReplaceAll(v, "+", " ")
		}
		key = strings.TrimSpace(key)
		if _, dup := form[key]; !dup {
			form.Set(key, val)
		}
	}
	return form, ok
}

func monKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// monIsJSON reports whether a media type names JSON or JSON lines.
func monIsJSON(ct string) bool {
	return strings.HasSuffix(ct, "/json") || strings.HasSuffix(ct, "+json") ||
		ct == "application/x-ndjson" || ct == "application/jsonl" || ct == "application/json-seq"
}

// monShorten cuts s to at most n bytes, on a character boundary, for an
// error message.
func monShorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
