package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// TranslateSuricata reads Suricata's EVE JSON, one record per line, and
// fast.log (alert_fast) lines; both may be mixed, so the content type is not
// needed. A single pretty-printed EVE record is accepted too.
//
// Records that become posts:
//
//   - alert: one post per alert, worded from the rule's class ("A known
//     attack against the website was blocked"); critical for priority 1,
//     warning for 2, info for 3 and up;
//   - drop: as an alert that was blocked, or "Network traffic was blocked"
//     when it carries no alert;
//   - anomaly: malformed or protocol-breaking traffic, at info;
//   - fileinfo: only a notable file: one a rule flagged (fileinfo.sid, a
//     warning) or one Suricata stored for inspection (filestore, info).
//     Ordinary file records are routine traffic logs and yield nothing.
//
// Every other event_type (flow, netflow, dns, http, tls, ssh, stats, …) is
// valid but yields nothing.
//
// The node is the EVE "host" field (the sensor name, when Suricata is
// configured with one), else the node argument, else the alert's destination
// address. The addresses are kept in Details only and are not given as
// aliases: for a network sensor they name the two ends of a connection, not
// the sensor.
//
// A line that is neither EVE JSON nor alert_fast, an EVE record without
// event_type, or an alert record without its alert section fails the whole
// call with a *ParseError naming the line.
func TranslateSuricata(contentType string, body []byte, node string) ([]Event, error) {
	node, err := idsNode(node)
	if err != nil {
		return nil, &ParseError{Source: SourceSuricata, Msg: err.Error()}
	}
	var evs []Event
	add := func(n int, line []byte) error {
		if line[0] != '{' {
			ev, err := idsFastEvent(SourceSuricata, node, n, line)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			return nil
		}
		if et, ok := suriQuickType(line); ok && et != "" && !suriKept[et] && json.Valid(line) {
			// Most of an EVE stream is flow, dns, http…: valid and
			// uninteresting, so checked but not decoded.
			return nil
		}
		ev, ok, err := suriEVEEvent(node, n, line)
		if err != nil {
			return err
		}
		if ok {
			evs = append(evs, ev)
		}
		return nil
	}
	if obj, ok := idsPrettyObject(body); ok {
		err = add(1, obj)
	} else {
		err = idsForEachLine(body, add)
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// suriRecord is the part of an EVE record the translator reads; app-layer
// sections are kept raw for Details.
type suriRecord struct {
	Timestamp        string          `json:"timestamp"`
	FlowID           json.Number     `json:"flow_id"`
	EventType        string          `json:"event_type"`
	Host             suriHost        `json:"host"`
	InIface          string          `json:"in_iface"`
	SrcIP            string          `json:"src_ip"`
	SrcPort          int             `json:"src_port"`
	DestIP           string          `json:"dest_ip"`
	DestPort         int             `json:"dest_port"`
	Proto            idsLooseString  `json:"proto"`
	AppProto         string          `json:"app_proto"`
	TxID             json.Number     `json:"tx_id"`
	Direction        string          `json:"direction"`
	PayloadPrintable string          `json:"payload_printable"`
	Alert            *suriAlert      `json:"alert"`
	Anomaly          *suriAnomaly    `json:"anomaly"`
	Fileinfo         json.RawMessage `json:"fileinfo"`
	Verdict          *suriVerdict    `json:"verdict"`
	Drop             json.RawMessage `json:"drop"`
	HTTP             json.RawMessage `json:"http"`
	TLS              json.RawMessage `json:"tls"`
	DNS              json.RawMessage `json:"dns"`
	SSH              json.RawMessage `json:"ssh"`
	SMTP             json.RawMessage `json:"smtp"`
	FTP              json.RawMessage `json:"ftp"`
	Files            json.RawMessage `json:"files"`
}

type suriAlert struct {
	Action      string          `json:"action"`
	GID         int64           `json:"gid"`
	SignatureID int64           `json:"signature_id"`
	Rev         int64           `json:"rev"`
	Signature   string          `json:"signature"`
	Category    string          `json:"category"`
	Severity    int             `json:"severity"`
	Metadata    json.RawMessage `json:"metadata"`
}

type suriAnomaly struct {
	Type     string `json:"type"`
	Event    string `json:"event"`
	Layer    string `json:"layer"`
	AppProto string `json:"app_proto"`
}

type suriFileinfo struct {
	Stored bool    `json:"stored"`
	SHA256 string  `json:"sha256"`
	FileID int64   `json:"file_id"`
	TxID   int64   `json:"tx_id"`
	SID    []int64 `json:"sid"`
}

type suriVerdict struct {
	Action string `json:"action"`
}

// suriHost is EVE's sensor name: a string from Suricata itself, or an
// object with a name when a shipper (Filebeat) has rewritten the record.
type suriHost string

func (h *suriHost) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Name     string `json:"name"`
			Hostname string `json:"hostname"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*h = suriHost(o.Name)
		if o.Name == "" {
			*h = suriHost(o.Hostname)
		}
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want the sensor name, got %s", idsClip(string(b), 20))
	}
	*h = suriHost(s)
	return nil
}

// suriEVEEvent translates one EVE record; ok is false for a record that is
// valid but says nothing worth a post.
func suriEVEEvent(node string, n int, line []byte) (Event, bool, error) {
	fail := func(format string, a ...any) (Event, bool, error) {
		return Event{}, false, &ParseError{Source: SourceSuricata, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	var r suriRecord
	var fi suriFileinfo
	if err := json.Unmarshal(line, &r); err != nil {
		return fail("%s", idsJSONMsg("a Suricata EVE record", err))
	}
	switch r.EventType {
	case "":
		return fail("not a Suricata EVE record: no event_type")
	case "alert", "drop", "anomaly":
	case "fileinfo":
		if len(r.Fileinfo) == 0 || r.Fileinfo[0] != '{' {
			return fail("fileinfo record without a fileinfo section")
		}
		if err := json.Unmarshal(r.Fileinfo, &fi); err != nil {
			return fail("fileinfo: %s", jsonMsg(err))
		}
		if !fi.Stored && len(fi.SID) == 0 {
			return Event{}, false, nil
		}
	default:
		return Event{}, false, nil
	}
	if r.EventType == "alert" && r.Alert == nil {
		return fail("alert record without an alert section")
	}
	if r.EventType == "anomaly" && r.Anomaly == nil {
		return fail("anomaly record without an anomaly section")
	}
	ev := Event{Source: SourceSuricata}
	if r.Timestamp != "" {
		t, err := idsParseTime(r.Timestamp)
		if err != nil {
			return fail("%s", err)
		}
		ev.Time = t
	}
	who := node
	if h := strings.TrimSpace(string(r.Host)); h != "" {
		checked, err := idsNode(h)
		if err != nil {
			return fail("host: %s", err)
		}
		who = checked
	}
	who, err := idsNetworkNode(who, r.DestIP, r.SrcIP)
	if err != nil {
		return fail("%s", err)
	}
	ev.Node = who
	src := idsAddr(r.SrcIP)
	srcKey := idsAddrOr(r.SrcIP)
	det := suriDetails(&r)
	var d *Draft
	var key []string // what makes the record unique beside its flow and time
	switch {
	case r.Alert != nil:
		al := r.Alert
		a := idsAlert{
			source:    SourceSuricata,
			signature: al.Signature,
			class:     al.Category,
			priority:  al.Severity,
			blocked:   r.EventType == "drop" || idsBlockedAction(al.Action) || (r.Verdict != nil && idsBlockedAction(r.Verdict.Action)),
			srcIP:     r.SrcIP,
		}
		d = a.draft()
		sig := strconv.FormatInt(al.GID, 10) + ":" + strconv.FormatInt(al.SignatureID, 10)
		d.Thread = idsID(SourceSuricata, who, sig, srcKey)
		key = []string{sig}
		idsPut(det, "signature", al.Signature)
		idsPut(det, "signature_id", al.SignatureID)
		idsPut(det, "gid", al.GID)
		idsPut(det, "rev", al.Rev)
		idsPut(det, "category", al.Category)
		idsPut(det, "action", al.Action)
		idsPut(det, "priority", al.Severity)
		idsPut(det, "metadata", idsRaw(al.Metadata))
	case r.EventType == "drop":
		tags := idsTags(SeverityInfo, SourceSuricata, "")
		text := "Network traffic was blocked"
		if src != "" {
			text = idsFit(text, ", coming from "+src, tags)
		}
		d = &Draft{Text: text, Tags: tags, Severity: SeverityInfo}
		d.Thread = idsID(SourceSuricata, who, "drop", srcKey)
		key = []string{"drop"}
	case r.EventType == "anomaly":
		an := r.Anomaly
		text := "Unusual network traffic was seen"
		switch an.Type {
		case "decode":
			text = "Malformed network packets were seen"
		case "stream":
			text = "Irregular network connection traffic was seen"
		case "applayer":
			text = "Network traffic in an unexpected format was seen"
		}
		tags := idsTags(SeverityInfo, SourceSuricata, "")
		if src != "" {
			text = idsFit(text, ", coming from "+src, tags)
		}
		d = &Draft{Text: text, Tags: tags, Severity: SeverityInfo}
		d.Thread = idsID(SourceSuricata, who, "anomaly", an.Event, srcKey)
		key = []string{an.Event}
		idsPut(det, "anomaly_type", an.Type)
		idsPut(det, "anomaly_event", an.Event)
		idsPut(det, "anomaly_layer", an.Layer)
	default: // notable fileinfo
		sev, text := SeverityInfo, "A file that crossed the network was kept for inspection"
		if len(fi.SID) > 0 {
			sev, text = SeverityWarning, "A file flagged as suspicious crossed the network"
		}
		tags := idsTags(sev, SourceSuricata, "")
		if src != "" {
			text = idsFit(text, ", coming from "+src, tags)
		}
		d = &Draft{Text: text, Tags: tags, Severity: sev}
		d.Thread = idsID(SourceSuricata, who, "file", fi.SHA256)
		key = []string{strconv.FormatInt(fi.FileID, 10), strconv.FormatInt(fi.TxID, 10), fi.SHA256}
		idsPut(det, "fileinfo", idsRaw(r.Fileinfo))
	}
	d.Details = det
	ev.Post = d
	if r.FlowID != "" && r.Timestamp != "" {
		parts := append([]string{who, string(r.FlowID), r.EventType, r.Timestamp, string(r.TxID)}, key...)
		ev.ID = idsID(SourceSuricata, parts...)
	} else {
		ev.ID = idsHashID(SourceSuricata, []byte(who), line)
	}
	return ev, true, nil
}

// suriDetails keeps the record's addresses and app-layer sections.
func suriDetails(r *suriRecord) map[string]any {
	det := make(map[string]any, 24)
	idsPut(det, "event_type", r.EventType)
	idsPut(det, "timestamp", r.Timestamp)
	idsPut(det, "flow_id", string(r.FlowID))
	idsPut(det, "sensor", string(r.Host))
	idsPut(det, "interface", r.InIface)
	idsPut(det, "src_ip", r.SrcIP)
	idsPut(det, "src_port", r.SrcPort)
	idsPut(det, "dest_ip", r.DestIP)
	idsPut(det, "dest_port", r.DestPort)
	idsPut(det, "proto", string(r.Proto))
	idsPut(det, "app_proto", r.AppProto)
	idsPut(det, "direction", r.Direction)
	if r.Verdict != nil {
		idsPut(det, "verdict", r.Verdict.Action)
	}
	idsPut(det, "drop", idsRaw(r.Drop))
	idsPut(det, "http", idsRaw(r.HTTP))
	idsPut(det, "tls", idsRaw(r.TLS))
	idsPut(det, "dns", idsRaw(r.DNS))
	idsPut(det, "ssh", idsRaw(r.SSH))
	idsPut(det, "smtp", idsRaw(r.SMTP))
	idsPut(det, "ftp", idsRaw(r.FTP))
	idsPut(det, "files", idsRaw(r.Files))
	p := r.PayloadPrintable
	if len(p) > 4096 {
		p = idsClip(p, 4096)
	}
	idsPut(det, "payload_printable", p)
	return det
}

// suriKept lists the event types that can make a post.
var suriKept = map[string]bool{"alert": true, "drop": true, "anomaly": true, "fileinfo": true}

// suriQuickType finds a record's event_type without decoding it, when
// Suricata's writer put it at the top level before any nested object (it
// writes it fourth or so). ok is false when it cannot tell.
func suriQuickType(line []byte) (string, bool) {
	const key = `"event_type":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 || bytes.IndexByte(line[1:i], '{') >= 0 || bytes.IndexByte(line[1:i], '[') >= 0 {
		return "", false
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}
