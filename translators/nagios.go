package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// nagiosNotification is one Nagios notification, whichever way it came: a
// form with the short keys of fleetfeed's notification command (kind, type,
// host, service, state, output, …), a form or map of the NAGIOS_*
// environment macros, or a JSON object of either.
type nagiosNotification struct {
	Kind, Type                             string
	Host, HostAlias, HostAddress           string
	Service                                string
	State, StateID, StateType, LastState   string
	Attempt, MaxAttempts                   string
	Output, LongOutput, Perfdata           string
	Author, Comment, AckAuthor, AckComment string
	NotificationNumber                     string
	ProblemID, LastProblemID               string
	Downtime, PercentChange                string
	LongDateTime, TimeT, Contact           string
}

// nagiosShort reads the short keys the notification command sends.
func nagiosShort(get func(string) string) nagiosNotification {
	return nagiosNotification{
		Kind: get("kind"), Type: get("type"),
		Host: get("host"), HostAlias: get("hostalias"), HostAddress: get("hostaddress"),
		Service: get("service"),
		State:   get("state"), StateID: get("stateid"), StateType: get("statetype"), LastState: get("laststate"),
		Attempt: get("attempt"), MaxAttempts: get("maxattempts"),
		Output: get("output"), LongOutput: get("longoutput"), Perfdata: get("perfdata"),
		Author: get("author"), Comment: get("comment"), AckAuthor: get("ackauthor"), AckComment: get("ackcomment"),
		NotificationNumber: get("notificationnumber"),
		ProblemID:          get("problemid"), LastProblemID: get("lastproblemid"),
		Downtime: get("downtime"), PercentChange: get("percentchange"),
		LongDateTime: get("longdatetime"), TimeT: get("timet"), Contact: get("contact"),
	}
}

// nagiosMacros reads the NAGIOS_* environment macros. They carry host and
// service macros side by side; a notification about a service is the one
// with a service description.
func nagiosMacros(get func(string) string) nagiosNotification {
	m := func(name string) string { return get("NAGIOS_" + name) }
	obj, kind := "HOST", "host"
	if strings.TrimSpace(m("SERVICEDESC")) != "" {
		obj, kind = "SERVICE", "service"
	}
	number := m("NOTIFICATIONNUMBER")
	if number == "" {
		number = m(obj + "NOTIFICATIONNUMBER")
	}
	return nagiosNotification{
		Kind: kind, Type: m("NOTIFICATIONTYPE"),
		Host: m("HOSTNAME"), HostAlias: m("HOSTALIAS"), HostAddress: m("HOSTADDRESS"),
		Service: m("SERVICEDESC"),
		State:   m(obj + "STATE"), StateID: m(obj + "STATEID"), StateType: m(obj + "STATETYPE"),
		LastState: m("LAST" + obj + "STATE"),
		Attempt:   m(obj + "ATTEMPT"), MaxAttempts: m("MAX" + obj + "ATTEMPTS"),
		Output: m(obj + "OUTPUT"), LongOutput: m("LONG" + obj + "OUTPUT"), Perfdata: m(obj + "PERFDATA"),
		Author: m("NOTIFICATIONAUTHOR"), Comment: m("NOTIFICATIONCOMMENT"),
		AckAuthor: m(obj + "ACKAUTHOR"), AckComment: m(obj + "ACKCOMMENT"),
		NotificationNumber: number,
		ProblemID:          m(obj + "PROBLEMID"), LastProblemID: m("LAST" + obj + "PROBLEMID"),
		Downtime: m(obj + "DOWNTIME"), PercentChange: m(obj + "PERCENTCHANGE"),
		LongDateTime: m("LONGDATETIME"), TimeT: m("TIMET"), Contact: m("CONTACTNAME"),
	}
}

// nagiosRead reads a set of keys into a notification: the short keys when
// it has them, else the NAGIOS_* macros when it has any.
func nagiosRead(keys []string, get func(string) string) nagiosNotification {
	if get("type") == "" && get("host") == "" {
		for _, k := range keys {
			if strings.HasPrefix(k, "NAGIOS_") {
				return nagiosMacros(get)
			}
		}
	}
	return nagiosShort(get)
}

// TranslateNagios reads what a Nagios notification command posts: a form
// (application/x-www-form-urlencoded) with either the short keys of
// fleetfeed's command (kind, type, host, hostalias, hostaddress, service,
// state, statetype, attempt, output, longoutput, perfdata, author, comment,
// ackauthor, ackcomment, notificationnumber, problemid, lastproblemid,
// timet, …) or the NAGIOS_* macro names, as `fleetfeed notify nagios` sends
// its environment; or a JSON object, or array of objects, of either. Keys
// it does not know are ignored. Each notification gives one event with a
// post.
//
// The error is a *ParseError: an empty body, a body that is neither a form
// nor JSON, a missing host or notification type, an unknown notification
// type.
func TranslateNagios(contentType string, body []byte) ([]Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ParseError{Source: SourceNagios, Msg: "empty body"}
	}
	var ns []nagiosNotification
	switch trimmed[0] {
	case '{', '[':
		objs, err := nagiosJSON(trimmed)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			ns = append(ns, nagiosRead(monKeys(o), func(k string) string { return o[k] }))
		}
	default:
		if monIsJSON(mediaType(contentType)) {
			return nil, &ParseError{Source: SourceNagios, Msg: "not JSON, though the content type says so"}
		}
		form, ok := monForm(trimmed)
		if !ok {
			return nil, &ParseError{Source: SourceNagios, Msg: "not form-encoded or JSON"}
		}
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		ns = append(ns, nagiosRead(keys, form.Get))
	}
	evs := make([]Event, 0, len(ns))
	seen := map[string]bool{}
	for i, n := range ns {
		ev, err := nagiosEvent(n)
		if err != nil {
			if len(ns) > 1 {
				err.Msg = fmt.Sprintf("notification %d: %s", i+1, err.Msg)
			}
			return nil, err
		}
		if !seen[ev.ID] { // the same notification, sent to another contact
			seen[ev.ID] = true
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

// TranslateNagiosMacros reads a notification from the NAGIOS_* environment
// macros Nagios sets for a notification command (enable_environment_macros),
// keyed by their full names ("NAGIOS_HOSTNAME"). It gives the same event as
// TranslateNagios does for the same notification, and the same errors.
func TranslateNagiosMacros(env map[string]string) ([]Event, error) {
	if len(env) == 0 {
		return nil, &ParseError{Source: SourceNagios, Msg: "no NAGIOS_ macros"}
	}
	ev, err := nagiosEvent(nagiosMacros(func(k string) string { return env[k] }))
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

// nagiosEvent checks n and writes its event.
func nagiosEvent(n nagiosNotification) (Event, *ParseError) {
	fail := func(format string, args ...any) (Event, *ParseError) {
		return Event{}, &ParseError{Source: SourceNagios, Msg: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(n.Type) == "" {
		return fail("missing notification type")
	}
	typ, ok := monNotificationType(n.Type)
	if !ok {
		return fail("unknown notification type %q", monShorten(n.Type, 40))
	}
	host := strings.TrimSpace(n.Host)
	if host == "" {
		return fail("missing host")
	}
	if len(host) > 255 {
		return fail("host name longer than 255 characters")
	}
	service := strings.TrimSpace(n.Service)
	var isHost bool
	switch strings.ToLower(strings.TrimSpace(n.Kind)) {
	case "host":
		isHost, service = true, ""
	case "service":
		if service == "" {
			return fail("missing service")
		}
	case "":
		isHost = service == ""
	default:
		return fail("unknown kind %q (want host or service)", monShorten(n.Kind, 40))
	}
	state := monState(isHost, n.State, n.StateID)
	problem := n.ProblemID
	if p := strings.TrimSpace(problem); p == "" || p == "0" {
		problem = n.LastProblemID
	}

	details := map[string]any{"type": typ}
	if isHost {
		details["kind"] = "host"
	} else {
		details["kind"] = "service"
	}
	monSet(details, "host", host)
	monSet(details, "host_alias", n.HostAlias)
	monSet(details, "host_address", n.HostAddress)
	monSet(details, "service", service)
	monSet(details, "state", n.State)
	monSet(details, "state_type", n.StateType)
	monSet(details, "last_state", n.LastState)
	for key, v := range map[string]string{
		"attempt": n.Attempt, "max_attempts": n.MaxAttempts,
		"notification_number": n.NotificationNumber,
		"problem_id":          n.ProblemID, "last_problem_id": n.LastProblemID,
		"downtime_depth": n.Downtime, "percent_change": n.PercentChange,
	} {
		if strings.TrimSpace(v) != "" {
			details[key] = monDetailNumber(v)
		}
	}
	monSet(details, "output", n.Output)
	// Nagios passes long output with its line breaks as a literal \n.
	monSet(details, "long_output", strings.ReplaceAll(n.LongOutput, `\n`, "\n"))
	monSetPerfdata(details, n.Perfdata)
	monSet(details, "author", n.Author)
	monSet(details, "comment", n.Comment)
	monSet(details, "ack_author", n.AckAuthor)
	monSet(details, "ack_comment", n.AckComment)
	monSet(details, "contact", n.Contact)

	author, comment := n.Author, n.Comment
	if typ == monAcknowledgement && strings.TrimSpace(author) == "" {
		author, comment = n.AckAuthor, n.AckComment
	}
	a := &monAlert{
		source:    SourceNagios,
		sourceTag: "nagios",
		host:      isHost,
		typ:       typ,
		node:      host,
		aliases:   monAliases(host, n.HostAlias, n.HostAddress),
		service:   service,
		state:     state,
		author:    author,
		comment:   comment,
		time:      monUnixString(n.TimeT),
		id: monID("nagios", host, service, typ, strings.TrimSpace(problem),
			strings.TrimSpace(n.NotificationNumber), strings.TrimSpace(n.TimeT)),
		details: details,
	}
	return a.event(), nil
}

// nagiosJSON reads a JSON object, or an array of objects, of string
// values; numbers and booleans are taken as their text, other values are
// ignored.
func nagiosJSON(b []byte) ([]map[string]string, error) {
	var raws []json.RawMessage
	if b[0] == '[' {
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, &ParseError{Source: SourceNagios, Msg: "not a JSON array of notifications: " + jsonMsg(err)}
		}
		if len(raws) == 0 {
			return nil, &ParseError{Source: SourceNagios, Msg: "empty JSON array"}
		}
	} else {
		raws = []json.RawMessage{b}
	}
	out := make([]map[string]string, 0, len(raws))
	for i, raw := range raws {
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // a timet stays 1795629090, not 1.79562909e+09
		if err := dec.Decode(&obj); err != nil || obj == nil {
			msg := "not a JSON object"
			if err != nil {
				msg += ": " + jsonMsg(err)
			}
			if len(raws) > 1 {
				msg = fmt.Sprintf("notification %d: %s", i+1, msg)
			}
			return nil, &ParseError{Source: SourceNagios, Msg: msg}
		}
		m := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				m[k] = v
			case json.Number:
				m[k] = v.String()
			case bool:
				m[k] = strconv.FormatBool(v)
			}
		}
		out = append(out, m)
	}
	return out, nil
}
