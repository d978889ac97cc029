package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// TranslateWazuh reads Wazuh alerts: Wazuh 4.x alerts.json (one alert per
// line, or one pretty-printed alert), the Wazuh 5.0 ECS layout (event,
// agent, host, wazuh.integration…), and the classic alerts.log blocks Wazuh
// shares with OSSEC ("** Alert 1587082673.77856: - syslog,sshd,…"). The
// content type is not needed.
//
// The node is the agent's name (agent.name); its IP address (agent.ip, or
// host.ip in ECS) is an alias; the agent id is kept in Details only.
// Severity follows the rule level: 12 and up critical, 7–11 warning, below
// that info. The sentence comes from the rule's groups (authentication
// failures, file integrity, rootcheck, web attacks, …), never from the rule
// description, which Wazuh may fill from the log line itself.
//
// A line that is not a JSON object, or is neither a 4.x alert (no rule) nor
// an ECS alert (no event), fails the whole call with a *ParseError.
func TranslateWazuh(contentType string, body []byte) ([]Event, error) {
	if idsLooksLikeAlertsLog(body) {
		return ossecTranslateLog(SourceWazuh, body)
	}
	if obj, ok := idsPrettyObject(body); ok {
		ev, err := wazuhEvent(1, obj)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	}
	var evs []Event
	err := idsForEachLine(body, func(n int, line []byte) error {
		ev, err := wazuhEvent(n, line)
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

// wazuhAlert holds both layouts: 4.x (rule, agent, manager, data, …) and
// 5.0 ECS (@timestamp, event, host, wazuh, …).
type wazuhAlert struct {
	Timestamp    string         `json:"timestamp"`
	ECSTimestamp string         `json:"@timestamp"`
	ID           idsLooseString `json:"id"`
	Rule         *wazuhRule     `json:"rule"`
	Agent        wazuhAgent     `json:"agent"`
	Manager      struct {
		Name string `json:"name"`
	} `json:"manager"`
	FullLog        string `json:"full_log"`
	PreviousOutput string `json:"previous_output"`
	Location       string `json:"location"`
	Predecoder     struct {
		Hostname    string `json:"hostname"`
		ProgramName string `json:"program_name"`
	} `json:"predecoder"`
	Decoder  json.RawMessage `json:"decoder"`
	Data     json.RawMessage `json:"data"`
	Syscheck json.RawMessage `json:"syscheck"`

	Event *struct {
		ID       string      `json:"id"`
		Original string      `json:"original"`
		Category idsStrings  `json:"category"`
		Type     idsStrings  `json:"type"`
		Kind     string      `json:"kind"`
		Dataset  string      `json:"dataset"`
		Outcome  string      `json:"outcome"`
		Severity idsLooseInt `json:"severity"`
		Action   string      `json:"action"`
		Reason   string      `json:"reason"`
	} `json:"event"`
	Wazuh *struct {
		Integration struct {
			Name string `json:"name"`
		} `json:"integration"`
		Protocol struct {
			Location string `json:"location"`
		} `json:"protocol"`
	} `json:"wazuh"`
	Host *struct {
		IP       idsStrings `json:"ip"`
		Hostname string     `json:"hostname"`
		Name     string     `json:"name"`
	} `json:"host"`
	File   json.RawMessage `json:"file"`
	Source *struct {
		IP string `json:"ip"`
	} `json:"source"`
	User json.RawMessage `json:"user"`
}

type wazuhRule struct {
	Level       *idsLooseInt    `json:"level"`
	Description string          `json:"description"`
	ID          idsLooseString  `json:"id"`
	Groups      []string        `json:"groups"`
	Firedtimes  idsLooseInt     `json:"firedtimes"`
	Frequency   idsLooseInt     `json:"frequency"`
	Mitre       json.RawMessage `json:"mitre"`
	PCIDSS      []string        `json:"pci_dss"`
	GDPR        []string        `json:"gdpr"`
	HIPAA       []string        `json:"hipaa"`
	NIST        []string        `json:"nist_800_53"`
}

type wazuhAgent struct {
	ID   idsLooseString `json:"id"`
	Name string         `json:"name"`
	IP   string         `json:"ip"`
}

// wazuhData is the part of the decoded fields the sentence may use.
type wazuhData struct {
	SrcIP idsLooseString `json:"srcip"`
}

// idsStrings reads a JSON string or list of strings.
type idsStrings []string

func (s *idsStrings) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = idsStrings{v}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*s = v
	return nil
}

func wazuhEvent(n int, line []byte) (Event, error) {
	fail := func(format string, a ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceWazuh, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	if line[0] != '{' {
		return fail("not a Wazuh alert: want a JSON object per line")
	}
	var a wazuhAlert
	if err := json.Unmarshal(line, &a); err != nil {
		return fail("%s", idsJSONMsg("a Wazuh alert", err))
	}
	if a.Rule != nil && a.Rule.Level != nil {
		return wazuhEvent4(n, line, &a)
	}
	if a.Event != nil {
		return wazuhEventECS(n, line, &a)
	}
	return fail("not a Wazuh alert: no rule.level (4.x) and no event (5.0 ECS)")
}

// wazuhEvent4 translates a Wazuh 4.x alert.
func wazuhEvent4(n int, line []byte, a *wazuhAlert) (Event, error) {
	fail := func(format string, args ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceWazuh, Line: n, Msg: fmt.Sprintf(format, args...)}
	}
	ev := Event{Source: SourceWazuh}
	if a.Timestamp != "" {
		t, err := idsParseTime(a.Timestamp)
		if err != nil {
			return fail("%s", err)
		}
		ev.Time = t
	}
	name := a.Agent.Name
	if name == "" {
		name = a.Predecoder.Hostname
	}
	if name == "" {
		name = a.Manager.Name
	}
	node, err := idsNode(name)
	if err != nil {
		return fail("agent.name: %s", err)
	}
	if node == "" {
		return fail("the alert names no agent (agent.name)")
	}
	ev.Node = node
	if ip := idsAddr(a.Agent.IP); ip != "" && ip != node {
		ev.Aliases = []string{ip}
	}
	var data wazuhData
	if len(a.Data) > 0 && a.Data[0] == '{' {
		// Decoded fields vary by decoder; only srcip is read here.
		_ = json.Unmarshal(a.Data, &data)
	}
	src := idsAddr(string(data.SrcIP))
	r := a.Rule
	level := int(*r.Level)
	sev := idsLevelSeverity(level)
	d := idsHIDSDraft(SourceWazuh, sev, r.Groups, string(r.ID), int(r.Frequency), src)
	d.Thread = idsID(SourceWazuh, node, "rule", string(r.ID), src)
	det := map[string]any{}
	idsPut(det, "rule_id", string(r.ID))
	idsPut(det, "rule_level", level)
	idsPut(det, "rule_description", r.Description)
	idsPut(det, "rule_groups", r.Groups)
	idsPut(det, "rule_fired_times", int(r.Firedtimes))
	idsPut(det, "mitre", idsRaw(r.Mitre))
	idsPut(det, "pci_dss", r.PCIDSS)
	idsPut(det, "gdpr", r.GDPR)
	idsPut(det, "hipaa", r.HIPAA)
	idsPut(det, "nist_800_53", r.NIST)
	idsPut(det, "agent_id", string(a.Agent.ID))
	idsPut(det, "agent_ip", a.Agent.IP)
	idsPut(det, "manager", a.Manager.Name)
	idsPut(det, "alert_id", string(a.ID))
	idsPut(det, "location", a.Location)
	idsPut(det, "full_log", a.FullLog)
	idsPut(det, "previous_output", a.PreviousOutput)
	idsPut(det, "program", a.Predecoder.ProgramName)
	idsPut(det, "log_hostname", a.Predecoder.Hostname)
	idsPut(det, "decoder", idsRaw(a.Decoder))
	idsPut(det, "data", idsRaw(a.Data))
	idsPut(det, "syscheck", idsRaw(a.Syscheck))
	d.Details = det
	ev.Post = d
	if a.ID != "" {
		ev.ID = idsID(SourceWazuh, node, string(a.ID))
	} else {
		ev.ID = idsHashID(SourceWazuh, line)
	}
	return ev, nil
}

// wazuhEventECS translates a Wazuh 5.0 alert in the ECS layout, which has
// no rule level: severity comes from event.severity when given (read as a
// rule level), else an alert (event.kind "alert") is a warning.
func wazuhEventECS(n int, line []byte, a *wazuhAlert) (Event, error) {
	fail := func(format string, args ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceWazuh, Line: n, Msg: fmt.Sprintf(format, args...)}
	}
	e := a.Event
	ev := Event{Source: SourceWazuh}
	stamp := a.ECSTimestamp
	if stamp == "" {
		stamp = a.Timestamp
	}
	if stamp != "" {
		t, err := idsParseTime(stamp)
		if err != nil {
			return fail("%s", err)
		}
		ev.Time = t
	}
	name := a.Agent.Name
	if name == "" && a.Host != nil {
		name = a.Host.Hostname
		if name == "" {
			name = a.Host.Name
		}
	}
	node, err := idsNode(name)
	if err != nil {
		return fail("agent.name: %s", err)
	}
	if node == "" {
		return fail("the alert names no agent (agent.name) and no host")
	}
	ev.Node = node
	if a.Host != nil {
		for _, ip := range a.Host.IP {
			if ip = idsAddr(ip); ip != "" && ip != node {
				ev.Aliases = append(ev.Aliases, ip)
			}
		}
	}
	if ip := idsAddr(a.Agent.IP); ip != "" && ip != node && !wazuhHas(ev.Aliases, ip) {
		ev.Aliases = append(ev.Aliases, ip)
	}
	dataset := e.Dataset
	if dataset == "" && a.Wazuh != nil {
		dataset = a.Wazuh.Integration.Name
	}
	groups := wazuhECSGroups(dataset, e.Category, e.Outcome)
	src := ""
	if a.Source != nil {
		src = idsAddr(a.Source.IP)
	}
	sev := SeverityInfo
	switch {
	case e.Severity > 0:
		sev = idsLevelSeverity(int(e.Severity))
	case e.Kind == "alert":
		sev = SeverityWarning
	}
	d := idsHIDSDraft(SourceWazuh, sev, groups, "", 0, src)
	var path string
	if len(a.File) > 0 && a.File[0] == '{' {
		var f struct {
			Path string `json:"path"`
		}
		_ = json.Unmarshal(a.File, &f)
		path = f.Path
	}
	d.Thread = idsID(SourceWazuh, node, dataset, path, src)
	det := map[string]any{}
	idsPut(det, "dataset", dataset)
	idsPut(det, "original", e.Original)
	idsPut(det, "category", []string(e.Category))
	idsPut(det, "type", []string(e.Type))
	idsPut(det, "kind", e.Kind)
	idsPut(det, "outcome", e.Outcome)
	idsPut(det, "action", e.Action)
	idsPut(det, "reason", e.Reason)
	idsPut(det, "severity", int(e.Severity))
	idsPut(det, "agent_id", string(a.Agent.ID))
	idsPut(det, "file", idsRaw(a.File))
	idsPut(det, "user", idsRaw(a.User))
	if a.Wazuh != nil {
		idsPut(det, "location", a.Wazuh.Protocol.Location)
	}
	if a.Source != nil {
		idsPut(det, "src_ip", a.Source.IP)
	}
	d.Details = det
	ev.Post = d
	if e.ID != "" {
		ev.ID = idsID(SourceWazuh, node, e.ID)
	} else {
		ev.ID = idsHashID(SourceWazuh, wazuhCompact(line))
	}
	return ev, nil
}

// wazuhECSGroups names ECS datasets and categories with the 4.x rule groups
// idsHIDSPhrase knows.
func wazuhECSGroups(dataset string, categories []string, outcome string) []string {
	var g []string
	ds := strings.ToLower(dataset)
	for _, k := range []struct{ word, group string }{
		{"rootcheck", "rootcheck"},
		{"syscheck", "syscheck"},
		{"fim", "syscheck"},
		{"sca", "sca"},
		{"vulnerab", "vulnerability-detector"},
		{"suricata", "ids"},
		{"snort", "ids"},
	} {
		if strings.Contains(ds, k.word) {
			g = append(g, k.group)
		}
	}
	for _, c := range categories {
		switch c {
		case "malware":
			g = append(g, "malware")
		case "intrusion_detection":
			g = append(g, "ids")
		case "authentication":
			if outcome == "failure" {
				g = append(g, "authentication_failed")
			} else if outcome == "success" {
				g = append(g, "authentication_success")
			}
		case "iam":
			g = append(g, "account_changed")
		case "vulnerability":
			g = append(g, "vulnerability-detector")
		}
	}
	return g
}

// wazuhCompact gives a pretty-printed alert the same id as its one-line
// form.
func wazuhCompact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func wazuhHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
