package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// icingaEvent is one object of Icinga 2's event stream (POST /v1/events),
// with the fields fleetfeed reads.
type icingaEvent struct {
	Type             string             `json:"type"`
	Timestamp        float64            `json:"timestamp"`
	Host             string             `json:"host"`
	Service          string             `json:"service"`
	State            *float64           `json:"state"`
	StateType        *float64           `json:"state_type"`
	NotificationType string             `json:"notification_type"`
	Author           string             `json:"author"`
	Text             string             `json:"text"`
	Comment          json.RawMessage    `json:"comment"` // text here, an object in Comment* events
	Users            []string           `json:"users"`
	Command          string             `json:"command"`
	CheckResult      *icingaCheckResult `json:"check_result"`
	Downtime         *icingaDowntime    `json:"downtime"`
	IsFlapping       *bool              `json:"is_flapping"`
}

type icingaCheckResult struct {
	Output          string            `json:"output"`
	PerformanceData []json.RawMessage `json:"performance_data"`
	State           *float64          `json:"state"`
	CheckSource     string            `json:"check_source"`
	VarsBefore      *icingaVars       `json:"vars_before"`
	VarsAfter       *icingaVars       `json:"vars_after"`
}

type icingaVars struct {
	Attempt   *float64 `json:"attempt"`
	State     *float64 `json:"state"`
	StateType *float64 `json:"state_type"`
}

type icingaDowntime struct {
	Author      string  `json:"author"`
	Comment     string  `json:"comment"`
	HostName    string  `json:"host_name"`
	ServiceName string  `json:"service_name"`
	StartTime   float64 `json:"start_time"`
	EndTime     float64 `json:"end_time"`
	TriggerTime float64 `json:"trigger_time"`
	Fixed       bool    `json:"fixed"`
}

// TranslateIcinga2 reads Icinga 2: the event stream of its API (POST
// /v1/events: one JSON object per line, one object, or a JSON array of
// them), or the form a NotificationCommand posts (notification_type,
// host_name, host_display_name, host_address, host_state, host_output,
// service_name, service_display_name, service_state, service_state_type,
// service_output, author, comment, timet; other keys are ignored).
//
// Only what a reader should hear about becomes an event: a HARD state
// change (a SOFT one, or a recovery from a SOFT problem, is not news), a
// notification, an acknowledgement, the start and end of flapping and of
// maintenance. Check results, comments and scheduled-but-not-started
// downtimes give no event. A state change and the notification about it
// give the same event ID (type, state, host, service and the second it
// happened), and so do an acknowledgement, a flapping or a downtime event
// and its notification, so a stream that carries both posts once.
//
// The error is a *ParseError, with the line for the event stream: an empty
// body, a body that is neither JSON nor a form, an object that is not an
// Icinga 2 event, a missing host or notification type, an unknown
// notification type.
func TranslateIcinga2(contentType string, body []byte) ([]Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ParseError{Source: SourceIcinga2, Msg: "empty body"}
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		if monIsJSON(mediaType(contentType)) {
			return nil, &ParseError{Source: SourceIcinga2, Msg: "not JSON, though the content type says so"}
		}
		form, ok := monForm(trimmed)
		if !ok {
			return nil, &ParseError{Source: SourceIcinga2, Msg: "not form-encoded or JSON"}
		}
		ev, err := icingaFormEvent(form.Get)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	}
	vals, err := icingaValues(trimmed)
	if err != nil {
		return nil, err
	}
	var evs []Event
	seen := map[string]bool{}
	for i, v := range vals {
		fail := func(msg string) error {
			pe := &ParseError{Source: SourceIcinga2, Line: v.line, Msg: msg}
			if v.line == 0 && len(vals) > 1 {
				pe.Msg = fmt.Sprintf("event %d: %s", i+1, msg)
			}
			return pe
		}
		if len(v.raw) == 0 || v.raw[0] != '{' {
			return nil, fail("not a JSON object")
		}
		var e icingaEvent
		if err := json.Unmarshal(v.raw, &e); err != nil {
			return nil, fail("not an Icinga 2 event: " + jsonMsg(err))
		}
		a, msg := icingaStreamAlert(&e)
		if msg != "" {
			return nil, fail(msg)
		}
		if a != nil && !seen[a.id] { // the notification of a state change already read
			seen[a.id] = true
			evs = append(evs, a.event())
		}
	}
	return evs, nil
}

// icingaValue is one JSON value of a body and the line it starts on (0 for
// the elements of an array, and for a body of one value).
type icingaValue struct {
	line int
	raw  json.RawMessage
}

// icingaValues splits a body into its JSON values: the elements of an
// array, or the objects of a stream, whether one per line or pretty-printed.
func icingaValues(b []byte) ([]icingaValue, error) {
	if b[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, &ParseError{Source: SourceIcinga2, Msg: "not a JSON array of events: " + jsonMsg(err)}
		}
		vals := make([]icingaValue, len(raws))
		for i, r := range raws {
			vals[i] = icingaValue{raw: r}
		}
		return vals, nil
	}
	var vals []icingaValue
	dec := json.NewDecoder(bytes.NewReader(b))
	line, counted := 1, 0 // line is the line number at offset counted
	lineAt := func(off int) int {
		if off > len(b) {
			off = len(b)
		}
		if off > counted {
			line += bytes.Count(b[counted:off], []byte{'\n'})
			counted = off
		}
		return line
	}
	for {
		start := int(dec.InputOffset())
		for start < len(b) && strings.IndexByte(" \t\r\n", b[start]) >= 0 {
			start++
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			at := start
			var se *json.SyntaxError
			if errors.As(err, &se) {
				at = int(se.Offset)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				at = len(b)
			}
			return nil, &ParseError{Source: SourceIcinga2, Line: lineAt(at), Msg: "not JSON: " + jsonMsg(err)}
		}
		vals = append(vals, icingaValue{line: lineAt(start), raw: raw})
	}
	if len(vals) == 1 {
		vals[0].line = 0
	}
	return vals, nil
}

// icingaStreamAlert reads one event of the stream; a nil alert and no
// message for an event that posts nothing.
func icingaStreamAlert(e *icingaEvent) (*monAlert, string) {
	var (
		typ, author, comment string
		host, service        = strings.TrimSpace(e.Host), strings.TrimSpace(e.Service)
		state                string
		details              = map[string]any{"event_type": e.Type}
	)
	switch e.Type {
	case "":
		return nil, "not an Icinga 2 event: no type"
	case "StateChange":
		stateType := e.StateType
		if stateType == nil && e.CheckResult != nil && e.CheckResult.VarsAfter != nil {
			stateType = e.CheckResult.VarsAfter.StateType
		}
		if stateType != nil && *stateType != 1 {
			return nil, "" // SOFT: the check will be tried again first
		}
		state = icingaState(service == "", e.State, e.CheckResult)
		typ = monProblem
		if state == "OK" || state == "UP" {
			if !icingaWasHardProblem(service == "", e.CheckResult) {
				return nil, ""
			}
			typ = monRecovery
		}
	case "Notification":
		if strings.TrimSpace(e.NotificationType) == "" {
			return nil, "missing notification type"
		}
		t, ok := monNotificationType(e.NotificationType)
		if !ok {
			return nil, fmt.Sprintf("unknown notification type %q", monShorten(e.NotificationType, 40))
		}
		typ, author, comment = t, e.Author, e.Text
		state = icingaState(service == "", nil, e.CheckResult)
		details["notification_type"] = e.NotificationType
		if len(e.Users) > 0 {
			details["users"] = e.Users
		}
		monSet(details, "command", e.Command)
	case "AcknowledgementSet":
		typ, author = monAcknowledgement, e.Author
		_ = json.Unmarshal(e.Comment, &comment) // text, when it is text
		state = icingaState(service == "", e.State, nil)
	case "Flapping":
		if e.IsFlapping == nil {
			return nil, "flapping event without is_flapping"
		}
		typ = monFlappingStop
		if *e.IsFlapping {
			typ = monFlappingStart
		}
		state = icingaState(service == "", e.State, nil)
	case "DowntimeTriggered", "DowntimeRemoved":
		// A downtime is in effect once triggered (at its start when fixed,
		// at the first problem in its window when flexible); one removed
		// without having been triggered was never in effect.
		d := e.Downtime
		if d == nil {
			return nil, "missing downtime"
		}
		typ = monDowntimeStart
		if e.Type == "DowntimeRemoved" {
			if d.TriggerTime <= 0 {
				return nil, ""
			}
			typ = monDowntimeEnd
		}
		host, service, author, comment = d.HostName, d.ServiceName, d.Author, d.Comment
		if t := monUnix(d.StartTime); !t.IsZero() {
			details["downtime_start"] = t.Format(time.RFC3339)
		}
		if t := monUnix(d.EndTime); !t.IsZero() {
			details["downtime_end"] = t.Format(time.RFC3339)
		}
		details["downtime_fixed"] = d.Fixed
	default:
		// CheckResult (the same state again, or a change that
		// StateChange reports), comments, a downtime added or started
		// but not yet in effect, an acknowledgement cleared, and types
		// of later versions.
		return nil, ""
	}
	host, service = strings.TrimSpace(host), strings.TrimSpace(service)
	if host == "" {
		return nil, "missing host"
	}
	if len(host) > 255 {
		return nil, "host name longer than 255 characters"
	}
	if cr := e.CheckResult; cr != nil {
		icingaOutput(details, cr.Output)
		icingaPerfdata(details, cr.PerformanceData)
		monSet(details, "check_source", cr.CheckSource)
		if va := cr.VarsAfter; va != nil {
			if va.Attempt != nil {
				details["attempt"] = *va.Attempt
			}
			if e.StateType == nil && va.StateType != nil {
				details["state_type"] = icingaStateType(*va.StateType)
			}
		}
	}
	if e.StateType != nil {
		details["state_type"] = icingaStateType(*e.StateType)
	}
	return icingaAlert(typ, host, service, "", state, author, comment, monUnix(e.Timestamp), nil, details), ""
}

// icingaAlert puts together what both ways of reading Icinga found.
func icingaAlert(typ, host, service, display, state, author, comment string, t time.Time, aliases []string, details map[string]any) *monAlert {
	details["type"] = typ
	monSet(details, "host", host)
	monSet(details, "service", service)
	monSet(details, "state", state)
	monSet(details, "author", author)
	monSet(details, "comment", comment)
	sec := ""
	if !t.IsZero() {
		sec = strconv.FormatInt(t.Unix(), 10)
	}
	idParts := []string{"icinga2", host, service, typ}
	if typ == monProblem || typ == monRecovery {
		idParts = append(idParts, state)
	}
	return &monAlert{
		source:    SourceIcinga2,
		sourceTag: "icinga",
		host:      service == "",
		typ:       typ,
		node:      host,
		aliases:   aliases,
		service:   service,
		display:   display,
		state:     state,
		author:    author,
		comment:   comment,
		time:      t,
		id:        monID(append(idParts, sec)...),
		details:   details,
	}
}

// icingaState names the state of a host or service from a state number,
// or else from a check result. A host's own state is 0 up, 1 down; a
// host's check result counts like a service's, 0 and 1 being up.
func icingaState(host bool, state *float64, cr *icingaCheckResult) string {
	if state != nil {
		return monState(host, "", strconv.Itoa(int(*state)))
	}
	if cr == nil || cr.State == nil {
		return ""
	}
	n := int(*cr.State)
	if host {
		if n <= 1 {
			return "UP"
		}
		return "DOWN"
	}
	return monState(false, "", strconv.Itoa(n))
}

// icingaWasHardProblem reports whether the check result ends a HARD
// problem: a recovery from a SOFT one is no news. Without the state before,
// it assumes it does.
func icingaWasHardProblem(host bool, cr *icingaCheckResult) bool {
	if cr == nil || cr.VarsBefore == nil {
		return true
	}
	vb := cr.VarsBefore
	if vb.StateType != nil && *vb.StateType == 0 {
		return false
	}
	if vb.State != nil {
		ok := *vb.State == 0 || (host && *vb.State == 1)
		return !ok
	}
	return true
}

func icingaStateType(t float64) string {
	if t == 1 {
		return "HARD"
	}
	return "SOFT"
}

// icingaOutput puts check output into details: its first line, and the
// lines after it as the long output.
func icingaOutput(details map[string]any, out string) {
	first, rest, _ := strings.Cut(strings.TrimSpace(out), "\n")
	monSet(details, "output", first)
	monSet(details, "long_output", rest)
}

// icingaPerfdata puts Icinga's list of performance data strings into
// details, parsed when every one parses.
func icingaPerfdata(details map[string]any, items []json.RawMessage) {
	var raw []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil && strings.TrimSpace(s) != "" {
			raw = append(raw, strings.TrimSpace(s))
		}
	}
	if len(raw) == 0 {
		return
	}
	var vals []map[string]any
	parsed := len(raw) == len(items)
	for _, s := range raw {
		v, ok := monPerfdata(s)
		if !ok {
			parsed = false
			break
		}
		vals = append(vals, v...)
	}
	if parsed {
		details["perfdata"] = vals
	}
	details["perfdata_raw"] = strings.Join(raw, " ")
}

// icingaFormEvent reads the form of a NotificationCommand.
func icingaFormEvent(get func(string) string) (Event, error) {
	fail := func(format string, args ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceIcinga2, Msg: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(get("notification_type")) == "" {
		return fail("missing notification type")
	}
	typ, ok := monNotificationType(get("notification_type"))
	if !ok {
		return fail("unknown notification type %q", monShorten(get("notification_type"), 40))
	}
	host := strings.TrimSpace(get("host_name"))
	if host == "" {
		return fail("missing host")
	}
	if len(host) > 255 {
		return fail("host name longer than 255 characters")
	}
	service := strings.TrimSpace(get("service_name"))
	isHost := service == ""
	prefix := "service_"
	if isHost {
		prefix = "host_"
	}
	state := monState(isHost, get(prefix+"state"), "")
	details := map[string]any{"notification_type": get("notification_type")}
	monSet(details, "host_display_name", get("host_display_name"))
	monSet(details, "host_address", get("host_address"))
	monSet(details, "service_display_name", get("service_display_name"))
	monSet(details, "state_type", get(prefix+"state_type"))
	if !isHost {
		monSet(details, "host_state", get("host_state"))
	}
	icingaOutput(details, get(prefix+"output"))
	monSetPerfdata(details, get(prefix+"perfdata"))
	aliases := monAliases(host, get("host_display_name"), get("host_address"), get("host_address6"))
	a := icingaAlert(typ, host, service, get("service_display_name"), state,
		get("author"), get("comment"), monUnixString(get("timet")), aliases, details)
	return a.event(), nil
}
