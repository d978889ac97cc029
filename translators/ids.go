package translators

// What the intrusion-detection translators (Suricata, Snort, Wazuh, OSSEC,
// fail2ban) share: line splitting, time layouts, ids, severities, hashtags,
// and the plain words for rule classes and rule groups.
//
// Everything an attacker can choose (signature text, payloads, URLs, user
// names, log lines) goes into Draft.Details only. A sentence is built from
// fixed phrases, numbers the translator formats itself, and IP addresses that
// parsed as IP addresses.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// idsMaxPlain is the longest a sentence with its hashtags may be: room is
// left for the role hashtags the pipeline adds.
const idsMaxPlain = MaxSentence - 40

// idsMaxID caps ids and thread keys; longer ones are replaced by a hash.
const idsMaxID = 200

// idsForEachLine calls fn with every non-blank line of body, trimmed, and its
// 1-based number. It stops at the first error fn returns.
func idsForEachLine(body []byte, fn func(n int, line []byte) error) error {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	n := 0
	for len(body) > 0 {
		n++
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return nil
}

// idsPrettyObject returns body, trimmed, when it is one JSON object spread
// over several lines (a pretty-printed alert): its first line is not JSON on
// its own but the whole body is.
func idsPrettyObject(body []byte) ([]byte, bool) {
	t := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	first := t
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		first = bytes.TrimSpace(t[:i])
	} else {
		return nil, false
	}
	if json.Valid(first) || !json.Valid(t) {
		return nil, false
	}
	return t, true
}

// idsJSONMsg says briefly why a line is not the JSON it should be; what
// names it with its article ("a Suricata EVE record").
func idsJSONMsg(what string, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not %s: invalid JSON at character %d", what, se.Offset)
	}
	return fmt.Sprintf("not %s: %s", what, jsonMsg(err))
}

// idsTimeLayouts are the ISO 8601 forms the tools write: Suricata and Wazuh
// put no colon in the offset (+0000), which RFC 3339 parsing rejects.
var idsTimeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// idsParseTime reads an ISO 8601 timestamp; one without an offset is UTC.
// The result is in UTC.
func idsParseTime(s string) (time.Time, error) {
	for _, l := range idsTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not an ISO 8601 time", idsClip(s, 40))
}

// idsUnixTime reads seconds since the epoch written as a decimal number
// ("1795628984.0", "1540000325").
func idsUnixTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		nsec = int64(f)
	}
	return time.Unix(sec, nsec).UTC(), true
}

// idsClip shortens s for an error message, which stays valid UTF-8.
func idsClip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// idsID joins parts into an id or thread key prefixed by source. One that is
// too long or holds control characters is replaced by a hash of itself, so
// it stays stable and unique.
func idsID(source string, parts ...string) string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	id := source + ":" + strings.Join(parts, ":")
	if len(id) <= idsMaxID && idsPrintable(id) {
		return id
	}
	return idsHashID(source, []byte(id))
}

// idsHashID is source plus a hash of data: the id of a line that carries
// nothing unique but itself.
func idsHashID(source string, data ...[]byte) string {
	h := sha256.New()
	for _, d := range data {
		h.Write(d)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return source + ":" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func idsPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// idsNode checks a node name taken from a payload or the node argument.
func idsNode(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > 255:
		return "", fmt.Errorf("node name longer than 255 characters")
	case !idsPrintable(s):
		return "", fmt.Errorf("node name %q holds control characters or is not UTF-8", idsClip(s, 40))
	}
	return s, nil
}

// idsAddr returns the canonical text of an IP address, without any zone,
// or "" when s is not one (or is the unspecified address). Only such text
// may appear in a sentence.
func idsAddr(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsUnspecified() {
		return ""
	}
	return a.WithZone("").Unmap().String()
}

// idsSeverityTag is the state hashtag of a security post: alerts say
// "warning" or "critical", low-severity ones "notice", an ended ban "ok".
func idsSeverityTag(s Severity) string {
	switch s {
	case SeverityCritical:
		return "critical"
	case SeverityWarning:
		return "warning"
	case SeverityOK:
		return "ok"
	}
	return "notice"
}

// idsPrioritySeverity maps a Snort/Suricata priority: 1 critical, 2
// warning, 3 and up info. Priority 0 (none given) is a warning: a rule
// without a class is usually a local rule someone wrote on purpose.
func idsPrioritySeverity(p int) Severity {
	switch {
	case p == 1:
		return SeverityCritical
	case p == 2 || p <= 0:
		return SeverityWarning
	}
	return SeverityInfo
}

// idsLevelSeverity maps an OSSEC/Wazuh rule level (0–16): 12 and up
// critical, 7–11 warning, below that info.
func idsLevelSeverity(level int) Severity {
	switch {
	case level >= 12:
		return SeverityCritical
	case level >= 7:
		return SeverityWarning
	}
	return SeverityInfo
}

// idsTags lists a security post's hashtags: state, "security", the tool,
// and the category when there is one.
func idsTags(sev Severity, tool, category string) []string {
	tags := []string{idsSeverityTag(sev), "security", tool}
	if category != "" {
		tags = append(tags, category)
	}
	return tags
}

// idsFit appends extra to text when the sentence still fits with its tags.
func idsFit(text, extra string, tags []string) string {
	if extra == "" {
		return text
	}
	if utf8.RuneCountInString(Sentence(text+extra, tags)) <= idsMaxPlain {
		return text + extra
	}
	return text
}

// idsLooseString reads a JSON string or number as text: Wazuh writes
// rule.id as a string, OSSEC writes sidid as a number.
type idsLooseString string

func (s *idsLooseString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = idsLooseString(v)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", idsClip(string(b), 20))
	}
	*s = idsLooseString(n)
	return nil
}

// idsLooseInt reads a JSON number or a string holding one.
type idsLooseInt int

func (n *idsLooseInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v || v > 1e9 || v < -1e9 {
		return fmt.Errorf("want a number, got %s", idsClip(string(b), 20))
	}
	*n = idsLooseInt(v)
	return nil
}

// idsNumber returns the integer a json.Number holds, or 0.
func idsNumber(n json.Number) int64 {
	if n == "" {
		return 0
	}
	if v, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return v
	}
	if f, err := strconv.ParseFloat(string(n), 64); err == nil && f < 1e18 && f > -1e18 {
		return int64(f)
	}
	return 0
}

// idsRaw returns a JSON section for Details, or nil for none. Unmarshal
// has already copied it out of the body.
func idsRaw(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// idsPut sets Details[k] when v is not empty.
func idsPut(d map[string]any, k string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case int:
		if x == 0 {
			return
		}
	case int64:
		if x == 0 {
			return
		}
	case json.RawMessage:
		if len(x) == 0 {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	case nil:
		return
	}
	d[k] = v
}

// idsClass is what a Snort/Suricata rule class (classtype) means to a
// business reader.
type idsClass struct {
	name     string // classification.config short name
	desc     string // its description, as EVE's alert.category gives it
	prio     int    // its default priority
	phrase   string // the subject of "… was seen" / "… was blocked"
	category string // hashtag, or ""
}

// idsClasses follows Suricata's and Snort's classification.config.
var idsClasses = []idsClass{
	{"not-suspicious", "Not Suspicious Traffic", 3, "Network traffic matching a watch rule", ""},
	{"unknown", "Unknown Traffic", 3, "Unidentified suspicious network traffic", ""},
	{"bad-unknown", "Potentially Bad Traffic", 2, "Potentially harmful network traffic", ""},
	{"attempted-recon", "Attempted Information Leak", 2, "An attempt to gather information about a server", "scan"},
	{"successful-recon-limited", "Information Leak", 2, "A possible information leak", ""},
	{"successful-recon-largescale", "Large Scale Information Leak", 2, "A possible large information leak", ""},
	{"attempted-dos", "Attempted Denial of Service", 2, "An attempt to knock a service offline", ""},
	{"successful-dos", "Denial of Service", 2, "An attack that may have knocked a service offline", ""},
	{"attempted-user", "Attempted User Privilege Gain", 1, "An attempt to break into a user account", ""},
	{"unsuccessful-user", "Unsuccessful User Privilege Gain", 1, "A failed attempt to break into a user account", ""},
	{"successful-user", "Successful User Privilege Gain", 1, "A possible break-in to a user account", ""},
	{"attempted-admin", "Attempted Administrator Privilege Gain", 1, "An attempt to gain administrator access", ""},
	{"successful-admin", "Successful Administrator Privilege Gain", 1, "A possible break-in with administrator access", ""},
	{"rpc-portmap-decode", "Decode of an RPC Query", 2, "A suspicious query for remote services", "scan"},
	{"shellcode-detect", "Executable code was detected", 1, "Attack code hidden in network traffic", ""},
	{"string-detect", "A suspicious string was detected", 3, "Suspicious text in network traffic", ""},
	{"suspicious-filename-detect", "A suspicious filename was detected", 2, "A suspicious file name in network traffic", ""},
	{"suspicious-login", "An attempted login using a suspicious username was detected", 2, "A login attempt with a suspicious user name", "bruteforce"},
	{"system-call-detect", "A system call was detected", 2, "A suspicious system command in network traffic", ""},
	{"tcp-connection", "A TCP connection was detected", 4, "A watched network connection", ""},
	{"trojan-activity", "A Network Trojan was detected", 1, "Malicious software activity", "malware"},
	{"unusual-client-port-connection", "A client was using an unusual port", 2, "Network traffic on an unusual port", ""},
	{"network-scan", "Detection of a Network Scan", 3, "A network scan", "scan"},
	{"denial-of-service", "Detection of a Denial of Service Attack", 2, "A denial-of-service attack", ""},
	{"non-standard-protocol", "Detection of a non-standard protocol or event", 2, "Unusual network traffic", ""},
	{"protocol-command-decode", "Generic Protocol Command Decode", 3, "An unusual network command", ""},
	{"web-application-activity", "access to a potentially vulnerable web application", 2, "Access to a possibly vulnerable part of a website", "web_attack"},
	{"web-application-attack", "Web Application Attack", 1, "A known attack against the website", "web_attack"},
	{"misc-activity", "Misc activity", 3, "Unusual network activity", ""},
	{"misc-attack", "Misc Attack", 2, "A network attack", ""},
	{"icmp-event", "Generic ICMP event", 3, "Unusual network control messages", ""},
	{"inappropriate-content", "Inappropriate Content was Detected", 1, "Inappropriate content in network traffic", "policy"},
	{"policy-violation", "Potential Corporate Privacy Violation", 1, "Network traffic that breaks company policy", "policy"},
	{"default-login-attempt", "Attempt to login by a default username and password", 2, "A login attempt with a default password", "bruteforce"},
	{"targeted-activity", "Targeted Malicious Activity was Detected", 1, "A targeted attack", ""},
	{"exploit-kit", "Exploit Kit Activity Detected", 1, "A kit that infects computers through the web", "malware"},
	{"external-ip-check", "Device Retrieving External IP Address Detected", 2, "A computer looking up its public address, as malware does", "policy"},
	{"domain-c2", "Domain Observed Used for C2 Detected", 1, "Contact with a known malware control server", "malware"},
	{"pup-activity", "Possibly Unwanted Program Detected", 2, "Possibly unwanted software", "malware"},
	{"credential-theft", "Successful Credential Theft Detected", 1, "Possible password theft", ""},
	{"social-engineering", "Possible Social Engineering Attempted", 2, "A possible phishing attempt", ""},
	{"coin-mining", "Crypto Currency Mining Activity Detected", 2, "Cryptocurrency mining", "malware"},
	{"command-and-control", "Malware Command and Control Activity Detected", 1, "Malicious software contacting its controller", "malware"},
}

// idsClassIndex finds a class by short name or description, lower case.
var idsClassIndex = func() map[string]*idsClass {
	m := make(map[string]*idsClass, 2*len(idsClasses))
	for i := range idsClasses {
		c := &idsClasses[i]
		m[c.name] = c
		m[c.desc] = c
		m[strings.ToLower(c.desc)] = c
	}
	return m
}()

// idsLookupClass returns the class a rule's classtype or category names, or
// nil for none ("", "(null)", "none") or one the table does not know.
func idsLookupClass(s string) *idsClass {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if c, ok := idsClassIndex[s]; ok {
		return c
	}
	return idsClassIndex[strings.ToLower(s)]
}

// idsAlert is one Snort or Suricata alert, whatever format it came in.
type idsAlert struct {
	source    string // SourceSuricata or SourceSnort
	signature string // the rule's msg: attacker-adjacent text, Details only
	class     string // classtype short name or description
	priority  int    // 0 when the line gives none
	blocked   bool   // the traffic was dropped or rejected
	srcIP     string // as written
}

// draft builds the post for an alert; thread and details are the caller's.
func (a *idsAlert) draft() *Draft {
	cls := idsLookupClass(a.class)
	prio := a.priority
	if prio <= 0 && cls != nil {
		prio = cls.prio
	}
	sev := idsPrioritySeverity(prio)
	phrase, category := "Suspicious network traffic", ""
	if cls != nil {
		phrase, category = cls.phrase, cls.category
	}
	sig := strings.ToUpper(a.signature)
	switch {
	case strings.Contains(sig, "BRUTE") || strings.Contains(sig, "PASSWORD GUESS"):
		phrase, category = "Password guessing", "bruteforce"
	case strings.HasPrefix(sig, "SURICATA ") || strings.HasPrefix(sig, "(STREAM") ||
		strings.HasPrefix(sig, "(HTTP_INSPECT") || strings.HasPrefix(sig, "(SPP_"):
		// Engine and preprocessor events: the traffic broke its protocol.
		phrase, category = "Irregular network traffic", ""
	case category == "":
		category = idsSignatureCategory(sig)
	}
	verb := " was seen"
	if a.blocked {
		verb = " was blocked"
	}
	tags := idsTags(sev, a.source, category)
	text := phrase + verb
	if ip := idsAddr(a.srcIP); ip != "" {
		text = idsFit(text, ", coming from "+ip, tags)
	}
	return &Draft{Text: text, Tags: tags, Severity: sev}
}

// idsSignatureCategory reads a category hashtag off the ruleset's own
// naming (Emerging Threats "ET SCAN …", Snort "SERVER-WEBAPP …").
func idsSignatureCategory(sig string) string {
	for _, p := range idsSignaturePrefixes {
		if strings.Contains(sig, p.word) {
			return p.category
		}
	}
	return ""
}

var idsSignaturePrefixes = []struct{ word, category string }{
	{"SCAN ", "scan"},
	{"WEB_SERVER", "web_attack"},
	{"WEB_SPECIFIC_APPS", "web_attack"},
	{"SERVER-WEBAPP", "web_attack"},
	{"WEB-ATTACKS", "web_attack"},
	{"SQL INJECTION", "web_attack"},
	{"MALWARE", "malware"},
	{"TROJAN", "malware"},
	{" CNC ", "malware"},
	{"EXPLOIT_KIT", "malware"},
	{"COINMINING", "malware"},
	{"POLICY", "policy"},
}

// idsHIDSPhrase turns OSSEC/Wazuh rule groups (and, for the few rules
// whose groups say too little, the rule id) into a sentence and a category
// hashtag. src is the attacker's address as idsAddr gives it, or "".
// Rule descriptions are not used: Wazuh fills some from the log line.
func idsHIDSPhrase(groups []string, ruleID string, frequency int, src string) (string, string) {
	has := func(names ...string) bool {
		for _, g := range groups {
			for _, n := range names {
				if g == n {
					return true
				}
			}
		}
		return false
	}
	someone := "Someone"
	if src != "" {
		someone = "Someone at " + src
	}
	switch ruleID {
	case "502":
		return "The security monitoring service on this server started", ""
	case "503":
		return "The security agent on this server started", ""
	case "504":
		// The manager reports it, about some agent.
		return "The security agent of a monitored server stopped reporting", ""
	case "506":
		return "The security agent on this server was stopped", ""
	}
	switch {
	case has("rootcheck"):
		return "A check for hidden malicious software found something suspicious on this server", "malware"
	case has("syscheck_entry_added"):
		return "A new file appeared in a watched folder on this server", "integrity"
	case has("syscheck_entry_deleted"):
		return "A watched file was deleted on this server", "integrity"
	case has("syscheck", "syscheck_integrity_changed", "syscheck_entry_modified", "ossec_syscheck"):
		return "A watched file on this server was changed", "integrity"
	case has("virus", "malware", "clamd", "virustotal", "yara", "freshclam_virus"):
		return "Malicious software was found on this server", "malware"
	case has("authentication_failures", "brute_force", "bruteforce") ||
		(frequency > 0 && has("authentication_failed", "invalid_login")):
		return someone + " tried many times to log in to this server by guessing passwords", "bruteforce"
	case has("invalid_login"):
		return someone + " tried to log in to this server with a user name that does not exist", "bruteforce"
	case has("authentication_failed", "login_denied"):
		return someone + " failed to log in to this server", "bruteforce"
	case has("login_time", "login_day", "policy_violation"):
		return someone + " logged in to this server outside the allowed times", "policy"
	case has("authentication_success"):
		return someone + " logged in to this server", ""
	case has("web_scan", "recon") && has("web", "accesslog"):
		return someone + " probed the website on this server for weaknesses", "scan"
	case has("attack", "sql_injection", "xss", "web_attack", "attacks") && has("web", "accesslog", "apache", "nginx"):
		return someone + " attacked the website on this server", "web_attack"
	case has("recon", "scan", "connection_attempt", "web_scan"):
		return someone + " scanned this server", "scan"
	case has("attack", "attacks", "exploit_attempt"):
		return someone + " attacked this server", ""
	case has("firewall_drop", "firewall_block"):
		if src != "" {
			return "The firewall on this server blocked traffic from " + src, ""
		}
		return "The firewall on this server blocked traffic", ""
	case has("ids", "suricata", "snort"):
		return "The network intrusion detector raised an alert for this server", ""
	case has("sudo", "su", "elevation_of_privilege", "privilege_escalation"):
		return "Someone used administrator rights on this server", ""
	case has("adduser", "addgroup", "account_changed", "userdel", "groupdel", "user_management"):
		return "A user account on this server was changed", ""
	case has("vulnerability-detector", "vulnerability_detector"):
		return "A known security weakness was found in software on this server", ""
	case has("sca", "oscap", "ciscat", "policy_monitoring"):
		return "A security configuration check found a problem on this server", "policy"
	case has("service_availability", "system_shutdown"):
		return "A service on this server stopped", ""
	case has("audit", "audit_command", "audit_watch"):
		return "A watched action on this server was recorded", ""
	case has("errors", "system_error", "service_start"):
		return "An error was logged on this server", ""
	}
	return "A security alert was raised on this server", ""
}

// idsHIDSDraft words an OSSEC/Wazuh alert for tool, naming the attacker's
// address when the sentence has room for it.
func idsHIDSDraft(tool string, sev Severity, groups []string, ruleID string, frequency int, src string) *Draft {
	phrase, category := idsHIDSPhrase(groups, ruleID, frequency, src)
	tags := idsTags(sev, tool, category)
	if utf8.RuneCountInString(Sentence(phrase, tags)) > idsMaxPlain {
		phrase, _ = idsHIDSPhrase(groups, ruleID, frequency, "")
	}
	return &Draft{Text: phrase, Tags: tags, Severity: sev}
}

// idsSplitGroups splits OSSEC's comma-separated rule group list.
func idsSplitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}
