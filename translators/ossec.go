package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TranslateOSSEC reads OSSEC alerts in either of the forms its server
// writes: alerts.json (one JSON object per line, OSSEC 2.9 and 3.x: rule
// with level, comment, sidid and group; id; TimeStamp in milliseconds;
// hostname and location), and the classic alerts.log blocks:
//
//	** Alert 1510376417.172: - syslog,smtpd,
//	2017 Nov 11 00:00:17 (junction) 192.168.17.17->/var/log/maillog
//	Rule: 53508 (level 5) -> 'Server TLS certificate verification failed.'
//	Src IP: 198.51.100.7
//	User: root
//	Nov 11 00:00:16 junction smtpd[86532]: smtp-out: …
//
// A block runs from its "** Alert" line to the next one; blank lines are
// skipped. The content type is not needed.
//
// The node is the agent ("(junction) 192.168.17.17->…" names agent junction
// at 192.168.17.17, an alias), else the host the log line came from
// ("ix->/var/log/messages"). Time is the alert id's epoch seconds, which
// unlike the block's date carries no time zone question. Severity follows
// the rule level as for Wazuh: 12 and up critical, 7–11 warning, else info.
//
// A block whose date or Rule line is missing or malformed, text before the
// first block, or a JSON line without a rule fails the whole call with a
// *ParseError naming the line.
func TranslateOSSEC(contentType string, body []byte) ([]Event, error) {
	if idsLooksLikeAlertsLog(body) {
		return ossecTranslateLog(SourceOSSEC, body)
	}
	if obj, ok := idsPrettyObject(body); ok {
		ev, err := ossecJSONEvent(1, obj)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	}
	var evs []Event
	err := idsForEachLine(body, func(n int, line []byte) error {
		if line[0] != '{' {
			return &ParseError{Source: SourceOSSEC, Line: n, Msg: "neither an alerts.json object nor the start of an alerts.log block (** Alert …)"}
		}
		ev, err := ossecJSONEvent(n, line)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// idsLooksLikeAlertsLog reports whether body's first non-blank line opens
// an alerts.log block.
func idsLooksLikeAlertsLog(body []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	return bytes.HasPrefix(t, []byte("** Alert "))
}

// ossecLine is one line of an alerts.log block.
type ossecLine struct {
	n    int
	text string
}

// ossecTranslateLog reads alerts.log blocks for source (OSSEC, or Wazuh,
// whose alerts.log has the same layout).
func ossecTranslateLog(source string, body []byte) ([]Event, error) {
	var (
		evs   []Event
		block []ossecLine
	)
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		ev, err := ossecBlockEvent(source, block)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		block = block[:0]
		return nil
	}
	err := idsForEachLine(body, func(n int, line []byte) error {
		s := string(line)
		if strings.HasPrefix(s, "** Alert ") {
			if err := flush(); err != nil {
				return err
			}
		} else if len(block) == 0 {
			return &ParseError{Source: source, Line: n, Msg: "text before the first alert: want a line starting with ** Alert"}
		}
		block = append(block, ossecLine{n, s})
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// ossecAlert is an OSSEC alert read from either form.
type ossecAlert struct {
	id        string // "1510376417.172"
	time      time.Time
	level     int
	ruleID    string
	comment   string
	groups    []string
	composite bool // the rule matched on several events
	agent     string
	host      string
	agentIP   string
	location  string
	srcIP     string
	details   map[string]any
}

func ossecBlockEvent(source string, block []ossecLine) (Event, error) {
	head := block[0]
	fail := func(n int, format string, a ...any) (Event, error) {
		return Event{}, &ParseError{Source: source, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	a := ossecAlert{details: map[string]any{}}
	// "** Alert 1510376417.172: mail  - syslog,smtpd,"
	rest := strings.TrimPrefix(head.text, "** Alert ")
	id, after, ok := strings.Cut(rest, ":")
	secs, _, _ := strings.Cut(id, ".")
	t, okTime := idsUnixTime(secs)
	if !ok || !okTime {
		return fail(head.n, "alert id %q is not seconds.offset", idsClip(id, 30))
	}
	a.id, a.time = id, t
	after = strings.TrimSpace(after)
	if strings.HasPrefix(after, "mail") {
		a.details["mail"] = true
		after = strings.TrimSpace(after[len("mail"):])
	}
	if !strings.HasPrefix(after, "-") {
		return fail(head.n, "no \"- groups\" after the alert id")
	}
	a.groups = idsSplitGroups(after[1:])
	if len(block) < 2 {
		return fail(head.n, "alert without its date line")
	}
	// "2017 Nov 11 00:00:17 (junction) 192.168.17.17->/var/log/maillog"
	dl := block[1]
	f := strings.SplitN(dl.text, " ", 5)
	if len(f) < 5 {
		return fail(dl.n, "not \"YYYY Mon DD HH:MM:SS host->location\"")
	}
	if _, err := time.Parse("2006 Jan 2 15:04:05", strings.Join(f[:4], " ")); err != nil {
		return fail(dl.n, "date %q is not \"YYYY Mon DD HH:MM:SS\"", idsClip(strings.Join(f[:4], " "), 30))
	}
	a.details["logged_at"] = strings.Join(f[:4], " ")
	a.agent, a.agentIP, a.host, a.location = ossecLocation(strings.TrimSpace(f[4]))
	if len(block) < 3 {
		return fail(dl.n, "alert without its Rule line")
	}
	// "Rule: 53508 (level 5) -> 'Server TLS certificate verification failed.'"
	rl := block[2]
	sid, level, comment, err := ossecRuleLine(rl.text)
	if err != nil {
		return fail(rl.n, "%s", err)
	}
	a.ruleID, a.level, a.comment = sid, level, comment
	var logs []string
	for _, l := range block[3:] {
		key, val, _ := strings.Cut(l.text, ":")
		k := ""
		if len(logs) == 0 {
			switch key {
			case "Src IP":
				k = "src_ip"
				a.srcIP = strings.TrimSpace(val)
			case "Src Port":
				k = "src_port"
			case "Dst IP":
				k = "dst_ip"
			case "Dst Port":
				k = "dst_port"
			case "User":
				k = "user"
			case "Src Location":
				k = "src_location"
			case "Dst Location":
				k = "dst_location"
			}
		}
		if k != "" {
			idsPut(a.details, k, strings.TrimSpace(val))
			continue
		}
		logs = append(logs, l.text)
	}
	// The log line, or for a rule that matched several events, the last
	// one and those before it; a file-integrity alert is several lines too.
	idsPut(a.details, "full_log", strings.Join(logs, "\n"))
	a.composite = len(logs) > 1
	return a.event(source, head.n)
}

// ossecRuleLine reads "Rule: 5716 (level 5) -> 'comment'".
func ossecRuleLine(s string) (sid string, level int, comment string, err error) {
	bad := fmt.Errorf("not \"Rule: ID (level N) -> 'description'\"")
	rest, ok := strings.CutPrefix(s, "Rule: ")
	if !ok {
		return "", 0, "", bad
	}
	sid, rest, ok = strings.Cut(rest, " (level ")
	if !ok || sid == "" || strings.Trim(sid, "0123456789") != "" {
		return "", 0, "", bad
	}
	lv, rest, ok := strings.Cut(rest, ")")
	if !ok {
		return "", 0, "", bad
	}
	level, err = strconv.Atoi(lv)
	if err != nil || level < 0 || level > 16 {
		return "", 0, "", fmt.Errorf("rule level %q is not 0 to 16", idsClip(lv, 10))
	}
	rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "->"))
	comment = strings.TrimSuffix(strings.TrimPrefix(rest, "'"), "'")
	return sid, level, comment, nil
}

// ossecLocation splits OSSEC's "host->location" and "(agent) ip->location"
// forms (and "host->(agent) ip->location", where a syslog host precedes).
func ossecLocation(s string) (agent, ip, host, location string) {
	if !strings.HasPrefix(s, "(") {
		h, loc, ok := strings.Cut(s, "->")
		if !ok {
			return "", "", "", s
		}
		host, s = h, loc
		if !strings.HasPrefix(s, "(") {
			return "", "", host, s
		}
	}
	j := strings.IndexByte(s, ')')
	if j < 0 {
		return "", "", host, s
	}
	agent = s[1:j]
	ip, location, _ = strings.Cut(strings.TrimSpace(s[j+1:]), "->")
	return agent, strings.TrimSpace(ip), host, location
}

// event builds the post of an alert read from either form.
func (a *ossecAlert) event(source string, n int) (Event, error) {
	name := a.agent
	if name == "" {
		name = a.host
	}
	node, err := idsNode(name)
	if err != nil {
		return Event{}, &ParseError{Source: source, Line: n, Msg: err.Error()}
	}
	if node == "" {
		return Event{}, &ParseError{Source: source, Line: n, Msg: "the alert names no agent and no host"}
	}
	ev := Event{Source: source, Node: node, Time: a.time}
	if ip := idsAddr(a.agentIP); ip != "" && ip != node {
		ev.Aliases = []string{ip}
	}
	src := idsAddr(a.srcIP)
	sev := idsLevelSeverity(a.level)
	freq := 0
	if a.composite {
		freq = 1
	}
	d := idsHIDSDraft(source, sev, a.groups, a.ruleID, freq, src)
	d.Thread = idsID(source, node, "rule", a.ruleID, src)
	det := a.details
	idsPut(det, "alert_id", a.id)
	idsPut(det, "rule_id", a.ruleID)
	idsPut(det, "rule_level", a.level)
	idsPut(det, "rule_description", a.comment)
	idsPut(det, "rule_groups", a.groups)
	idsPut(det, "agent_ip", a.agentIP)
	if a.agent != "" {
		idsPut(det, "log_hostname", a.host)
	}
	idsPut(det, "location", a.location)
	d.Details = det
	ev.Post = d
	if a.id != "" {
		ev.ID = idsID(source, node, a.id)
	}
	return ev, nil
}

// ossecJSON is an alerts.json line: OSSEC 2.9/3.x's own layout, and the
// Wazuh-like one newer OSSEC documentation shows (rule.id, rule.description,
// agent, manager).
type ossecJSON struct {
	Rule *struct {
		Level       idsLooseInt    `json:"level"`
		Comment     string         `json:"comment"`
		Description string         `json:"description"`
		SIDID       idsLooseString `json:"sidid"`
		ID          idsLooseString `json:"id"`
		Group       string         `json:"group"`
		Groups      []string       `json:"groups"`
		Frequency   idsLooseInt    `json:"frequency"`
		Firedtimes  idsLooseInt    `json:"firedtimes"`
		CVE         string         `json:"cve"`
		Info        string         `json:"info"`
		PCIDSS      []string       `json:"PCI_DSS"`
		CIS         []string       `json:"CIS"`
	} `json:"rule"`
	ID             idsLooseString  `json:"id"`
	TimeStamp      json.Number     `json:"TimeStamp"`
	Timestamp      string          `json:"timestamp"`
	Decoder        json.RawMessage `json:"decoder"`
	Location       string          `json:"location"`
	FullLog        string          `json:"full_log"`
	PreviousOutput string          `json:"previous_output"`
	Hostname       string          `json:"hostname"`
	AgentName      string          `json:"agent_name"`
	AgentIP        string          `json:"agentip"`
	ProgramName    string          `json:"program_name"`
	SrcIP          idsLooseString  `json:"srcip"`
	SrcPort        idsLooseString  `json:"srcport"`
	SrcUser        string          `json:"srcuser"`
	DstIP          idsLooseString  `json:"dstip"`
	DstPort        idsLooseString  `json:"dstport"`
	DstUser        string          `json:"dstuser"`
	Action         string          `json:"action"`
	Protocol       string          `json:"protocol"`
	URL            string          `json:"url"`
	Status         string          `json:"status"`
	Data           json.RawMessage `json:"data"`
	SyscheckFile   json.RawMessage `json:"SyscheckFile"`
	Syscheck       json.RawMessage `json:"syscheck"`
	Agent          struct {
		ID   idsLooseString `json:"id"`
		Name string         `json:"name"`
		IP   string         `json:"ip"`
	} `json:"agent"`
	Manager struct {
		Name string `json:"name"`
	} `json:"manager"`
}

func ossecJSONEvent(n int, line []byte) (Event, error) {
	fail := func(format string, a ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceOSSEC, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	var j ossecJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return fail("%s", idsJSONMsg("an OSSEC alerts.json object", err))
	}
	if j.Rule == nil || (j.Rule.SIDID == "" && j.Rule.ID == "") {
		return fail("not an OSSEC alert: no rule.sidid")
	}
	r := j.Rule
	a := ossecAlert{id: string(j.ID), details: map[string]any{}}
	a.level = int(r.Level)
	a.ruleID = string(r.SIDID)
	if a.ruleID == "" {
		a.ruleID = string(r.ID)
	}
	a.comment = r.Comment
	if a.comment == "" {
		a.comment = r.Description
	}
	a.groups = r.Groups
	if len(a.groups) == 0 {
		a.groups = idsSplitGroups(r.Group)
	}
	a.composite = r.Frequency > 0 || j.PreviousOutput != ""
	switch {
	case j.TimeStamp != "":
		ms := idsNumber(j.TimeStamp)
		if ms <= 0 || ms > 1<<50 {
			return fail("TimeStamp %q is not milliseconds since 1970", idsClip(string(j.TimeStamp), 20))
		}
		a.time = time.UnixMilli(ms).UTC()
	case j.Timestamp != "":
		t, err := idsParseTime(j.Timestamp)
		if err != nil {
			t, err = time.Parse("2006 Jan 02 15:04:05", j.Timestamp)
			if err != nil {
				return fail("timestamp %q is neither ISO 8601 nor \"YYYY Mon DD HH:MM:SS\"", idsClip(j.Timestamp, 30))
			}
		}
		a.time = t.UTC()
	default:
		secs, _, _ := strings.Cut(a.id, ".")
		a.time, _ = idsUnixTime(secs)
	}
	// Who: the agent, by name, else the host the log line names.
	a.agent, a.agentIP = j.AgentName, j.AgentIP
	if a.agent == "" {
		a.agent = j.Agent.Name
	}
	if a.agentIP == "" {
		a.agentIP = j.Agent.IP
	}
	fill := func(ag, ip, host string) {
		if a.agent == "" {
			a.agent = ag
		}
		if a.agentIP == "" {
			a.agentIP = ip
		}
		if a.host == "" {
			a.host = host
		}
	}
	if hn := j.Hostname; strings.HasPrefix(hn, "(") || strings.Contains(hn, "->") {
		ag, ip, host, _ := ossecLocation(hn)
		fill(ag, ip, host)
	} else {
		a.host = hn
	}
	ag, ip, host, loc := ossecLocation(j.Location)
	fill(ag, ip, host)
	a.location = loc
	if a.host == "" {
		a.host = j.Manager.Name
	}
	a.srcIP = string(j.SrcIP)
	det := a.details
	idsPut(det, "full_log", j.FullLog)
	idsPut(det, "previous_output", j.PreviousOutput)
	idsPut(det, "program", j.ProgramName)
	idsPut(det, "decoder", ossecDecoderName(j.Decoder))
	idsPut(det, "src_ip", string(j.SrcIP))
	idsPut(det, "src_port", string(j.SrcPort))
	idsPut(det, "src_user", j.SrcUser)
	idsPut(det, "dst_ip", string(j.DstIP))
	idsPut(det, "dst_port", string(j.DstPort))
	idsPut(det, "user", j.DstUser)
	idsPut(det, "action", j.Action)
	idsPut(det, "protocol", j.Protocol)
	idsPut(det, "url", j.URL)
	idsPut(det, "status", j.Status)
	idsPut(det, "data", idsRaw(j.Data))
	idsPut(det, "syscheck", idsRaw(j.SyscheckFile))
	if _, ok := det["syscheck"]; !ok {
		idsPut(det, "syscheck", idsRaw(j.Syscheck))
	}
	idsPut(det, "cve", r.CVE)
	idsPut(det, "rule_info", r.Info)
	idsPut(det, "rule_fired_times", int(r.Firedtimes))
	idsPut(det, "pci_dss", r.PCIDSS)
	idsPut(det, "cis", r.CIS)
	idsPut(det, "agent_id", string(j.Agent.ID))
	idsPut(det, "manager", j.Manager.Name)
	if j.Hostname != "" && !strings.HasPrefix(j.Hostname, "(") {
		idsPut(det, "log_hostname", j.Hostname)
	}
	ev, err := a.event(SourceOSSEC, n)
	if err != nil {
		return Event{}, err
	}
	if ev.ID == "" {
		ev.ID = idsHashID(SourceOSSEC, line)
	}
	return ev, nil
}

// ossecDecoderName reads "decoder", which OSSEC writes twice: once as the
// decoder's name, once as an object with a name.
func ossecDecoderName(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Name
	}
	return ""
}
