package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TranslateFail2ban reads what fail2ban tells: the form an action hook
// POSTs (application/x-www-form-urlencoded, or the same fields as a JSON
// object: event=start|stop|ban|unban, jail, ip, failures, time, bantime,
// host=<fq-hostname>, …), and fail2ban.log lines
// ("2026-11-25 17:49:44,787 fail2ban.actions [26147]: NOTICE [sshd] Ban 203.0.113.7").
// Without a content type the body is sniffed: a JSON object, a log line
// (it starts with a date), or a form.
//
// A ban is a warning that opens the thread "fail2ban:<node>:<jail>:<ip>";
// the unban is an ok post that closes it. A jail's start and stop are info
// posts. In the log, Found lines (single failures) and other daemon lines
// yield nothing.
//
// The node of a form is its host field (fail2ban's <fq-hostname>), with
// short_host as an alias, else the node argument. Log lines name no host:
// the node argument is required, and its absence is a *ParseError. A form
// with an unknown event, a ban without an ip, or a log line that is not one
// fails the whole call with a *ParseError.
//
// Time: a form's time field is the ban's (fail2ban's <time>); for an unban
// it is when the ban was due to end (time + bantime). start and stop forms
// carry no time (zero, the pipeline's time of ingest), so their id is the
// same at every restart unless the hook adds time=… itself.
func TranslateFail2ban(contentType string, body []byte, node string) ([]Event, error) {
	node, err := idsNode(node)
	if err != nil {
		return nil, &ParseError{Source: SourceFail2ban, Msg: err.Error()}
	}
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 {
		return nil, nil
	}
	switch {
	case contentType == "application/x-www-form-urlencoded":
		return f2bForm(trimmed, node)
	case contentType == "application/json" || trimmed[0] == '{':
		return f2bJSON(trimmed, node)
	case f2bIsLogLine(string(trimmed)):
		return f2bLog(body, node)
	case bytes.IndexByte(trimmed, '=') > 0 && bytes.IndexByte(trimmed, '\n') < 0:
		return f2bForm(trimmed, node)
	}
	return nil, &ParseError{Source: SourceFail2ban, Line: 1, Msg: "neither a fail2ban action form (event=…&jail=…) nor a fail2ban.log line"}
}

// f2bHook is an action hook's fields.
type f2bHook struct {
	event, jail, ip, host, short string
	failures, bantime, bancount  string
	time, restored               string
	rest                         map[string]string
}

func f2bForm(body []byte, node string) ([]Event, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &ParseError{Source: SourceFail2ban, Msg: "not a form: " + err.Error()}
	}
	fields := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			fields[k] = vs[0]
		}
	}
	return f2bHookEvents(fields, node)
}

func f2bJSON(body []byte, node string) ([]Event, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &ParseError{Source: SourceFail2ban, Msg: idsJSONMsg("a JSON object of action fields", err)}
	}
	fields := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			fields[k] = x
		case float64:
			fields[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			fields[k] = strconv.FormatBool(x)
		case nil:
		default:
			b, _ := json.Marshal(x)
			fields[k] = string(b)
		}
	}
	return f2bHookEvents(fields, node)
}

func f2bHookEvents(fields map[string]string, node string) ([]Event, error) {
	fail := func(format string, a ...any) ([]Event, error) {
		return nil, &ParseError{Source: SourceFail2ban, Msg: fmt.Sprintf(format, a...)}
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(fields[k]); v != "" {
				delete(fields, k)
				return v
			}
		}
		return ""
	}
	h := f2bHook{
		event:    strings.ToLower(first("event", "action")),
		jail:     first("jail", "name"),
		ip:       first("ip"),
		host:     first("fq-hostname", "fq_hostname", "hostname", "host"),
		short:    first("sh-hostname", "sh_hostname", "short_host", "shorthost"),
		failures: first("failures"),
		bantime:  first("bantime"),
		bancount: first("bancount"),
		time:     first("time"),
		restored: first("restored"),
		rest:     fields,
	}
	switch h.event {
	case "start", "stop", "ban", "unban":
	case "":
		return fail("the form has no event: want event=start, stop, ban or unban")
	default:
		return fail("event %q is not one of start, stop, ban, unban", idsClip(h.event, 20))
	}
	if (h.event == "ban" || h.event == "unban") && h.ip == "" {
		return fail("a %s without an ip", h.event)
	}
	who := h.host
	if who == "" {
		who = node
	}
	who, err := idsNode(who)
	if err != nil {
		return fail("host: %s", err)
	}
	if who == "" {
		return fail("the form names no server: send host=<fq-hostname> or pass ?node=NAME")
	}
	ev := Event{Source: SourceFail2ban, Node: who}
	if s, err := idsNode(h.short); err == nil && s != "" && s != who {
		ev.Aliases = []string{s}
	}
	var t time.Time
	if h.time != "" {
		var ok bool
		if t, ok = idsUnixTime(h.time); !ok {
			return fail("time %q is not seconds since 1970", idsClip(h.time, 30))
		}
	}
	failures, _ := strconv.Atoi(h.failures)
	bantime, bantimeOK := f2bSeconds(h.bantime)
	if h.event == "unban" && !t.IsZero() && bantimeOK && bantime > 0 {
		t = t.Add(time.Duration(bantime) * time.Second)
	}
	ev.Time = t
	d := f2bDraft(who, h.event, h.jail, h.ip, failures, bantime, bantimeOK, h.restored == "1" || h.restored == "true")
	det := map[string]any{}
	for k, v := range h.rest {
		// matches, user, family…: attacker-chosen text stays here.
		idsPut(det, k, v)
	}
	idsPut(det, "event", h.event)
	idsPut(det, "jail", h.jail)
	idsPut(det, "ip", h.ip)
	idsPut(det, "failures", h.failures)
	idsPut(det, "bantime", h.bantime)
	idsPut(det, "bancount", h.bancount)
	idsPut(det, "restored", h.restored)
	idsPut(det, "time", h.time)
	idsPut(det, "short_host", h.short)
	d.Details = det
	ev.Post = d
	switch h.event {
	case "ban", "unban":
		ev.ID = idsID(SourceFail2ban, who, h.jail, h.event, h.ip, h.time)
	default:
		ev.ID = idsID(SourceFail2ban, who, h.jail, h.event, h.time)
	}
	return []Event{ev}, nil
}

// f2bSeconds reads a bantime: seconds, -1 for ever.
func f2bSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1e12 || f < -1 {
		return 0, false
	}
	return int64(f), true
}

// f2bDraft words a ban, unban, start or stop.
func f2bDraft(node, event, jail, ip string, failures int, bantime int64, bantimeOK, restored bool) *Draft {
	service := f2bService(jail)
	who := "an address"
	if a := idsAddr(ip); a != "" {
		who = a
	}
	d := &Draft{}
	var text string
	switch event {
	case "ban":
		d.Severity, d.Opens = SeverityWarning, true
		d.Tags = idsTags(SeverityWarning, SourceFail2ban, "bruteforce")
		text = "Blocked " + who + " from " + service
		switch {
		case restored:
			text += " again after a restart"
		default:
			if bantimeOK {
				text = idsFit(text, " "+f2bDuration(bantime), d.Tags)
			}
			if failures > 0 && failures < 1000000 {
				text = idsFit(text, " after "+strconv.Itoa(failures)+" failed attempts", d.Tags)
			} else {
				text = idsFit(text, " after repeated failed attempts", d.Tags)
			}
		}
	case "unban":
		d.Severity, d.Closes = SeverityOK, true
		text = "Lifted the block on " + who + " for " + service
		d.Tags = idsTags(SeverityOK, SourceFail2ban, "")
	case "start":
		d.Severity = SeverityInfo
		text = "Started protecting " + service + " from repeated failed attempts"
		d.Tags = idsTags(SeverityInfo, SourceFail2ban, "")
	default:
		d.Severity = SeverityInfo
		text = "Stopped protecting " + service + " from repeated failed attempts"
		d.Tags = idsTags(SeverityInfo, SourceFail2ban, "")
	}
	d.Text = text
	if event == "ban" || event == "unban" {
		d.Thread = idsID(SourceFail2ban, node, jail, ip)
	}
	return d
}

// f2bService names what a jail guards, in plain words, from its name.
func f2bService(jail string) string {
	j := strings.ToLower(jail)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(j, w) {
				return true
			}
		}
		return false
	}
	switch {
	case j == "recidive":
		return "every service"
	case has("ssh", "dropbear"):
		return "remote login"
	case has("postfix", "sendmail", "exim", "dovecot", "courier", "sasl", "smtp", "imap", "pop3", "mail", "roundcube", "cyrus", "qmail"):
		return "e-mail"
	case has("ftp"):
		return "file transfer"
	case has("apache", "nginx", "lighttpd", "php", "wordpress", "http", "web", "drupal", "nextcloud", "owncloud", "gitlab", "grafana", "haproxy", "traefik"):
		return "the website"
	case has("asterisk", "freeswitch", "sip"):
		return "the phone service"
	case has("mysql", "postgres", "mongo", "mssql", "oracle"):
		return "the database"
	case has("vpn", "openvpn", "wireguard"):
		return "the VPN"
	}
	return "a protected service"
}

// f2bDuration says how long a ban lasts: "for 8 seconds", "for good".
func f2bDuration(s int64) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "for 1 " + unit
		}
		return "for " + strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case s < 0:
		return "for good"
	case s%604800 == 0 && s >= 604800:
		return plural(s/604800, "week")
	case s%86400 == 0 && s >= 86400:
		return plural(s/86400, "day")
	case s%3600 == 0 && s >= 3600:
		return plural(s/3600, "hour")
	case s%60 == 0 && s >= 60:
		return plural(s/60, "minute")
	case s >= 86400:
		return plural((s+43200)/86400, "day")
	case s >= 3600:
		return plural((s+1800)/3600, "hour")
	case s >= 60:
		return plural((s+30)/60, "minute")
	}
	return plural(s, "second")
}

// f2bStampLen is the length of fail2ban.log's "2026-11-25 17:49:44,787".
const f2bStampLen = len("2006-01-02 15:04:05,000")

func f2bIsLogLine(s string) bool {
	if len(s) < f2bStampLen+1 {
		return false
	}
	_, err := time.Parse("2006-01-02 15:04:05,000", s[:f2bStampLen])
	return err == nil
}

// f2bLog reads fail2ban.log lines. A line that starts with white space
// continues the entry above it (a traceback) and is skipped.
func f2bLog(body []byte, node string) ([]Event, error) {
	if node == "" {
		return nil, &ParseError{Source: SourceFail2ban, Line: 1, Msg: "fail2ban log lines name no server: pass ?node=NAME"}
	}
	var evs []Event
	seen := false
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	n := 0
	for len(b) > 0 {
		n++
		var raw []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			raw, b = b[:i], b[i+1:]
		} else {
			raw, b = b, nil
		}
		line := string(bytes.TrimRight(raw, " \t\r"))
		if strings.TrimSpace(line) == "" {
			continue
		}
		if seen && (line[0] == ' ' || line[0] == '\t') {
			continue
		}
		ev, ok, err := f2bLogLine(node, line)
		if err != nil {
			return nil, &ParseError{Source: SourceFail2ban, Line: n, Msg: err.Error()}
		}
		seen = true
		if ok {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

// f2bLogLine reads "STAMP LOGGER [PID]: LEVEL MESSAGE" (or fail2ban 0.8's
// "STAMP LOGGER: LEVEL MESSAGE"); ok is false for lines worth no post.
func f2bLogLine(node, line string) (Event, bool, error) {
	if !f2bIsLogLine(line) {
		return Event{}, false, fmt.Errorf("not a fail2ban.log line: want \"YYYY-MM-DD HH:MM:SS,mmm logger: LEVEL message\"")
	}
	stamp := line[:f2bStampLen]
	t, _ := time.Parse("2006-01-02 15:04:05,000", stamp)
	rest := line[f2bStampLen:]
	i := strings.Index(rest, ": ")
	if i < 0 {
		return Event{}, false, fmt.Errorf("not a fail2ban.log line: no \"logger: LEVEL\" after the time")
	}
	logger := strings.TrimSpace(rest[:i])
	if !strings.HasPrefix(logger, "fail2ban") {
		return Event{}, false, fmt.Errorf("not a fail2ban.log line: logger %q is not fail2ban's", idsClip(logger, 30))
	}
	msg := strings.TrimSpace(rest[i+2:])
	_, msg, _ = strings.Cut(msg, " ") // the level
	msg = strings.TrimSpace(msg)
	var event, jail, ip string
	restored := false
	if strings.HasPrefix(msg, "Jail '") {
		name, state, ok := strings.Cut(msg[len("Jail '"):], "' ")
		if !ok {
			return Event{}, false, nil
		}
		switch state {
		case "started":
			event = "start"
		case "stopped":
			event = "stop"
		default:
			return Event{}, false, nil
		}
		jail = name
	} else if strings.HasPrefix(msg, "[") {
		j := strings.IndexByte(msg, ']')
		if j < 0 {
			return Event{}, false, nil
		}
		jail = msg[1:j]
		words := strings.Fields(msg[j+1:])
		switch {
		case len(words) == 2 && words[0] == "Ban":
			event, ip = "ban", words[1]
		case len(words) == 2 && words[0] == "Unban":
			event, ip = "unban", words[1]
		case len(words) == 3 && words[0] == "Restore" && words[1] == "Ban":
			event, ip, restored = "ban", words[2], true
		default:
			return Event{}, false, nil
		}
	} else {
		return Event{}, false, nil
	}
	d := f2bDraft(node, event, jail, ip, 0, 0, false, restored)
	det := map[string]any{}
	idsPut(det, "event", event)
	idsPut(det, "jail", jail)
	idsPut(det, "ip", ip)
	if restored {
		det["restored"] = "1"
	}
	idsPut(det, "log_line", line)
	d.Details = det
	return Event{
		ID:     idsID(SourceFail2ban, node, jail, event, ip, stamp),
		Source: SourceFail2ban,
		Node:   node,
		Time:   t.UTC(),
		Post:   d,
	}, true, nil
}
