package translators

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// TranslateSnort reads Snort alerts, one per line: Snort 3 alert_json
// objects, and alert_fast lines in the layout Snort 2, Snort 3 and Suricata
// share ("07/16-09:23:39.153899 [**] [1:1000000:0] msg [**] [Priority: 0]
// {TCP} 192.168.1.2:50284 -> 192.168.2.3:80"). Both kinds may be mixed.
// The content type is not needed: each line says what it is.
//
// Every alert becomes a post; node names the sensor, and when it is empty
// the alert is credited to its destination address. A line in Snort's
// default layout has no year: its Time is zero (the pipeline uses the time
// of ingest) unless alert_json's "seconds" field is there. Snort's packet
// dumps (alert_fast with packet = true) are not read.
//
// A line that is neither fails the whole call with a *ParseError naming it.
func TranslateSnort(contentType string, body []byte, node string) ([]Event, error) {
	node, err := idsNode(node)
	if err != nil {
		return nil, &ParseError{Source: SourceSnort, Msg: err.Error()}
	}
	if obj, ok := idsPrettyObject(body); ok {
		ev, err := snortJSONEvent(node, 1, obj)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	}
	var evs []Event
	err = idsForEachLine(body, func(n int, line []byte) error {
		var ev Event
		var err error
		if line[0] == '{' {
			ev, err = snortJSONEvent(node, n, line)
		} else {
			ev, err = idsFastEvent(SourceSnort, node, n, line)
		}
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

// snortJSON is a Snort 3 alert_json line: any subset of its fields.
type snortJSON struct {
	Timestamp string      `json:"timestamp"`
	Seconds   json.Number `json:"seconds"`
	PktNum    json.Number `json:"pkt_num"`
	PktLen    json.Number `json:"pkt_len"`
	PktGen    string      `json:"pkt_gen"`
	Proto     string      `json:"proto"`
	Dir       string      `json:"dir"`
	SrcAP     string      `json:"src_ap"`
	DstAP     string      `json:"dst_ap"`
	SrcAddr   string      `json:"src_addr"`
	DstAddr   string      `json:"dst_addr"`
	SrcPort   json.Number `json:"src_port"`
	DstPort   json.Number `json:"dst_port"`
	Rule      string      `json:"rule"`
	GID       json.Number `json:"gid"`
	SID       json.Number `json:"sid"`
	Rev       json.Number `json:"rev"`
	Msg       string      `json:"msg"`
	Class     string      `json:"class"`
	Priority  json.Number `json:"priority"`
	Action    string      `json:"action"`
	Service   string      `json:"service"`
	Iface     string      `json:"iface"`
	Target    string      `json:"target"`
	B64Data   string      `json:"b64_data"`
}

func snortJSONEvent(node string, n int, line []byte) (Event, error) {
	fail := func(format string, a ...any) (Event, error) {
		return Event{}, &ParseError{Source: SourceSnort, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	var r snortJSON
	if err := json.Unmarshal(line, &r); err != nil {
		return fail("%s", idsJSONMsg("a Snort alert_json object", err))
	}
	gid, sid, rev := idsNumber(r.GID), idsNumber(r.SID), idsNumber(r.Rev)
	if r.Rule != "" {
		g, s, v, err := idsParseRule(r.Rule)
		if err != nil {
			return fail("rule %q: %s", idsClip(r.Rule, 40), err)
		}
		if sid == 0 {
			gid, sid, rev = g, s, v
		}
	}
	if sid == 0 && r.Msg == "" {
		return fail("not a Snort alert: no rule, sid or msg field")
	}
	var t time.Time
	if r.Timestamp != "" {
		ft, _, err := idsFastTime(r.Timestamp)
		if err != nil {
			return fail("%s", err)
		}
		t = ft
	}
	if secs := idsNumber(r.Seconds); secs > 0 && secs < 1<<40 {
		t = time.Unix(secs, idsFraction(r.Timestamp)).UTC()
	}
	src, srcPort, err := snortEndpoint(r.SrcAddr, r.SrcPort, r.SrcAP, r.Proto)
	if err != nil {
		return fail("source address: %s", err)
	}
	dst, dstPort, err := snortEndpoint(r.DstAddr, r.DstPort, r.DstAP, r.Proto)
	if err != nil {
		return fail("destination address: %s", err)
	}
	who, err := idsNetworkNode(node, dst, src)
	if err != nil {
		return fail("%s", err)
	}
	msg := idsUnquote(r.Msg)
	a := idsAlert{
		source:    SourceSnort,
		signature: msg,
		class:     r.Class,
		priority:  int(idsNumber(r.Priority)),
		blocked:   idsBlockedAction(r.Action),
		srcIP:     src,
	}
	d := a.draft()
	d.Thread = idsID(SourceSnort, who, fmt.Sprintf("%d:%d", gid, sid), idsAddrOr(src))
	det := map[string]any{}
	idsPut(det, "signature", msg)
	idsPut(det, "gid", gid)
	idsPut(det, "signature_id", sid)
	idsPut(det, "rev", rev)
	if r.Class != "none" {
		idsPut(det, "class", r.Class)
	}
	idsPut(det, "priority", idsNumber(r.Priority))
	idsPut(det, "action", r.Action)
	idsPut(det, "proto", r.Proto)
	idsPut(det, "src_ip", src)
	idsPut(det, "src_port", srcPort)
	idsPut(det, "dest_ip", dst)
	idsPut(det, "dest_port", dstPort)
	idsPut(det, "direction", r.Dir)
	idsPut(det, "service", r.Service)
	idsPut(det, "interface", r.Iface)
	idsPut(det, "target", r.Target)
	idsPut(det, "packet_source", r.PktGen)
	idsPut(det, "packet_number", idsNumber(r.PktNum))
	idsPut(det, "timestamp", r.Timestamp)
	if r.B64Data != "" {
		if raw, err := base64.StdEncoding.DecodeString(r.B64Data); err == nil {
			idsPut(det, "payload_printable", idsPrintablePayload(raw))
		}
	}
	d.Details = det
	return Event{
		ID:     idsHashID(SourceSnort, []byte(who), line),
		Source: SourceSnort,
		Node:   who,
		Time:   t,
		Post:   d,
	}, nil
}

// snortEndpoint takes an address and port from alert_json's separate fields
// or, failing those, from its "addr:port" field.
func snortEndpoint(addr string, port json.Number, ap, proto string) (string, int, error) {
	if addr != "" {
		if _, err := netip.ParseAddr(addr); err != nil {
			return "", 0, fmt.Errorf("%q is not an IP address", idsClip(addr, 50))
		}
		p := idsNumber(port)
		if p < 0 || p > 65535 {
			return "", 0, fmt.Errorf("port %s is out of range", port)
		}
		return addr, int(p), nil
	}
	if ap == "" || ap == ":0" {
		return "", 0, nil
	}
	return idsSplitEndpoint(ap, proto)
}

// idsFast is one alert_fast line.
type idsFast struct {
	stamp    string
	time     time.Time // zero when the line has no year
	action   string
	gid      int64
	sid      int64
	rev      int64
	msg      string
	class    string
	priority int
	appID    string
	iface    string
	proto    string
	src      string
	srcPort  int
	dst      string
	dstPort  int
}

// idsParseFast reads an alert_fast line: time, an optional action
// ("[Drop]"), "[**] [gid:sid:rev] msg [**]", optional "[Key: value]"
// fields (Classification, Priority, AppID), "{proto}" and "src -> dst".
func idsParseFast(line string) (*idsFast, error) {
	f := &idsFast{}
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return nil, fmt.Errorf("not an alert_fast line: nothing after the time")
	}
	f.stamp = line[:sp]
	t, _, err := idsFastTime(f.stamp)
	if err != nil {
		return nil, fmt.Errorf("not an alert_fast line: %s", err)
	}
	f.time = t
	rest := strings.TrimLeft(line[sp:], " \t")
	if !strings.HasPrefix(rest, "[**]") && strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("not an alert_fast line: unclosed bracket after the time")
		}
		f.action = strings.TrimSpace(rest[1:j])
		rest = strings.TrimLeft(rest[j+1:], " \t")
	}
	if !strings.HasPrefix(rest, "[**]") {
		return nil, fmt.Errorf("not an alert_fast line: no [**] after the time")
	}
	rest = strings.TrimLeft(rest[4:], " \t")
	j := strings.IndexByte(rest, ']')
	if !strings.HasPrefix(rest, "[") || j < 0 {
		return nil, fmt.Errorf("no [gid:sid:rev] after [**]")
	}
	if f.gid, f.sid, f.rev, err = idsParseRule(rest[1:j]); err != nil {
		return nil, fmt.Errorf("rule %q: %s", idsClip(rest[1:j], 40), err)
	}
	rest = strings.TrimLeft(rest[j+1:], " \t")
	// Snort's alert_interface option writes " <eth0> " before the msg; a
	// msg that merely starts with "<" has no space after its ">".
	if strings.HasPrefix(rest, "<") {
		if k := strings.IndexByte(rest, '>'); k > 0 && k+1 < len(rest) && rest[k+1] == ' ' && !strings.ContainsAny(rest[1:k], " \t") {
			f.iface = rest[1:k]
			rest = strings.TrimLeft(rest[k+1:], " \t")
		}
	}
	k := strings.Index(rest, "[**]")
	if k < 0 {
		return nil, fmt.Errorf("no [**] after the message")
	}
	f.msg = idsUnquote(strings.TrimSpace(rest[:k]))
	rest = strings.TrimLeft(rest[k+4:], " \t")
	for strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("unclosed bracket after the message")
		}
		key, val, _ := strings.Cut(rest[1:j], ":")
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "Classification":
			if val != "(null)" {
				f.class = val
			}
		case "Priority":
			p, err := strconv.Atoi(val)
			if err != nil || p < 0 || p > 255 {
				return nil, fmt.Errorf("priority %q is not a number", idsClip(val, 20))
			}
			f.priority = p
		case "AppID":
			f.appID = val
		}
		rest = strings.TrimLeft(rest[j+1:], " \t")
	}
	j = strings.IndexByte(rest, '}')
	if !strings.HasPrefix(rest, "{") || j < 0 {
		return nil, fmt.Errorf("no {protocol} before the addresses")
	}
	f.proto = rest[1:j]
	src, dst, ok := strings.Cut(strings.TrimSpace(rest[j+1:]), " -> ")
	if !ok {
		return nil, fmt.Errorf("no \"source -> destination\" addresses")
	}
	if f.src, f.srcPort, err = idsSplitEndpoint(src, f.proto); err != nil {
		return nil, fmt.Errorf("source address: %s", err)
	}
	if f.dst, f.dstPort, err = idsSplitEndpoint(dst, f.proto); err != nil {
		return nil, fmt.Errorf("destination address: %s", err)
	}
	return f, nil
}

// idsFastEvent turns an alert_fast line into an event for source.
func idsFastEvent(source, node string, n int, line []byte) (Event, error) {
	f, err := idsParseFast(string(line))
	if err != nil {
		return Event{}, &ParseError{Source: source, Line: n, Msg: err.Error()}
	}
	who, err := idsNetworkNode(node, f.dst, f.src)
	if err != nil {
		return Event{}, &ParseError{Source: source, Line: n, Msg: err.Error()}
	}
	a := idsAlert{
		source:    source,
		signature: f.msg,
		class:     f.class,
		priority:  f.priority,
		blocked:   idsBlockedAction(f.action),
		srcIP:     f.src,
	}
	d := a.draft()
	d.Thread = idsID(source, who, fmt.Sprintf("%d:%d", f.gid, f.sid), idsAddrOr(f.src))
	det := map[string]any{}
	idsPut(det, "signature", f.msg)
	idsPut(det, "gid", f.gid)
	idsPut(det, "signature_id", f.sid)
	idsPut(det, "rev", f.rev)
	idsPut(det, "category", f.class)
	idsPut(det, "priority", f.priority)
	idsPut(det, "action", f.action)
	idsPut(det, "proto", f.proto)
	idsPut(det, "src_ip", f.src)
	idsPut(det, "src_port", f.srcPort)
	idsPut(det, "dest_ip", f.dst)
	idsPut(det, "dest_port", f.dstPort)
	idsPut(det, "app_id", f.appID)
	idsPut(det, "interface", f.iface)
	idsPut(det, "timestamp", f.stamp)
	d.Details = det
	return Event{
		ID:     idsHashID(source, []byte(who), line),
		Source: source,
		Node:   who,
		Time:   f.time,
		Post:   d,
	}, nil
}

// idsAddrOr is the canonical form of an address, or s as it is when it is
// not one.
func idsAddrOr(s string) string {
	if a := idsAddr(s); a != "" {
		return a
	}
	return s
}

// idsNetworkNode picks the node a network alert is credited to: the one
// named (sensor), else the destination address, else the source.
func idsNetworkNode(node, dst, src string) (string, error) {
	if node != "" {
		return node, nil
	}
	if a := idsAddr(dst); a != "" {
		return a, nil
	}
	if a := idsAddr(src); a != "" {
		return a, nil
	}
	return "", fmt.Errorf("the alert names no sensor and no address: pass ?node=NAME")
}

// idsFastTime reads alert_fast's time: "MM/DD/YYYY-HH:MM:SS.ffffff"
// (Suricata), "MM/DD/YY-…" (Snort -y) or "MM/DD-…" (Snort's default, no
// year: the zero time is returned, and ok is false). Times are UTC.
func idsFastTime(s string) (t time.Time, ok bool, err error) {
	date, _, found := strings.Cut(s, "-")
	if !found {
		return time.Time{}, false, fmt.Errorf("time %q is not MM/DD/YYYY-HH:MM:SS", idsClip(s, 30))
	}
	var layout string
	switch strings.Count(date, "/") {
	case 2:
		if len(date) == 10 {
			layout = "01/02/2006-15:04:05.999999999"
		} else {
			layout = "01/02/06-15:04:05.999999999"
		}
	case 1:
		layout = "01/02-15:04:05.999999999"
	default:
		return time.Time{}, false, fmt.Errorf("time %q is not MM/DD/YYYY-HH:MM:SS", idsClip(s, 30))
	}
	t, err = time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("time %q is not MM/DD/YYYY-HH:MM:SS", idsClip(s, 30))
	}
	if strings.Count(date, "/") == 1 {
		return time.Time{}, false, nil
	}
	return t.UTC(), true, nil
}

// idsFraction returns the nanoseconds of a ".ffffff" time, or 0.
func idsFraction(s string) int64 {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return 0
	}
	frac := s[i+1:]
	if frac == "" || len(frac) > 9 {
		return 0
	}
	v, err := strconv.ParseUint(frac, 10, 32)
	if err != nil {
		return 0
	}
	for k := len(frac); k < 9; k++ {
		v *= 10
	}
	return int64(v)
}

// idsParseRule reads "gid:sid:rev".
func idsParseRule(s string) (gid, sid, rev int64, err error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("not gid:sid:rev")
	}
	var v [3]int64
	for i, p := range parts {
		v[i], err = strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || v[i] < 0 {
			return 0, 0, 0, fmt.Errorf("not gid:sid:rev")
		}
	}
	return v[0], v[1], v[2], nil
}

// idsSplitEndpoint splits "addr:port", "[v6]:port" or a bare address.
// The port is expected for TCP, UDP and SCTP, whose IPv6 addresses are
// written with the port after a last colon and no brackets.
func idsSplitEndpoint(s, proto string) (string, int, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return "", 0, fmt.Errorf("%q is not an address", idsClip(s, 50))
		}
		return ap.Addr().String(), int(ap.Port()), nil
	}
	withPort := false
	switch strings.ToUpper(strings.TrimSpace(proto)) {
	case "TCP", "UDP", "SCTP", "6", "17", "132", "006", "017":
		withPort = true
	}
	if !withPort {
		if _, err := netip.ParseAddr(s); err == nil {
			return s, 0, nil
		}
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && i < len(s)-1 && len(s)-i <= 6 {
		if p, err := strconv.Atoi(s[i+1:]); err == nil && p >= 0 && p <= 65535 && s[i+1] != '+' && s[i+1] != '-' {
			if _, err := netip.ParseAddr(s[:i]); err == nil {
				return s[:i], p, nil
			}
		}
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return s, 0, nil
	}
	return "", 0, fmt.Errorf("%q is not an address", idsClip(s, 50))
}

// idsBlockedAction reports whether an IDS action means the traffic was
// stopped (and not merely "would" have been).
func idsBlockedAction(action string) bool {
	switch strings.ToLower(strings.TrimSpace(action)) {
	case "drop", "block", "blocked", "reject", "reset", "sdrop", "dropped", "rejected":
		return true
	}
	return false
}

// idsUnquote strips the quotes Snort 3 keeps around a rule's msg, and
// drops the "(null)" Suricata writes for a rule without one.
func idsUnquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "(null)" {
		return ""
	}
	return s
}

// idsPrintablePayload renders packet data the way Suricata's
// payload_printable does: printable ASCII kept, the rest as dots; capped.
func idsPrintablePayload(b []byte) string {
	const max = 4096
	if len(b) > max {
		b = b[:max]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}
