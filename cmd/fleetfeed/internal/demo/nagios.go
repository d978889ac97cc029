package demo

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"fleetfeed/translators"
)

// The Nagios notification types the demo sends.
const (
	NagiosProblem         = "PROBLEM"
	NagiosRecovery        = "RECOVERY"
	NagiosAcknowledgement = "ACKNOWLEDGEMENT"
	NagiosFlappingStart   = "FLAPPINGSTART"
	NagiosFlappingStop    = "FLAPPINGSTOP"
	NagiosDowntimeStart   = "DOWNTIMESTART"
	NagiosDowntimeEnd     = "DOWNTIMEEND"
)

// Notification is one Nagios notification about a server or one of its
// checks.
type Notification struct {
	// Type is one of the Nagios* notification types.
	Type string
	// Service is the check ("Load", "Disk", "HTTP", …); empty for a
	// notification about the host itself.
	Service string
	// State is the state now: OK, WARNING or CRITICAL for a check, UP or
	// DOWN for a host. LastState is the state before.
	State, LastState string
	// Number is $NOTIFICATIONNUMBER$: 1 for a problem's first
	// notification, counting up while it lasts, 0 for flapping and
	// downtime notifications.
	Number int
	// ProblemID and LastProblemID are Nagios's problem ids.
	ProblemID, LastProblemID int
	// Author and Comment are the operator's, for an acknowledgement or a
	// downtime.
	Author, Comment string
}

// NagiosChecks lists the checks Nagios runs on s.
func NagiosChecks(s Server) []string {
	return append(append([]string(nil), baseChecks...), specFor(s.Role).checks...)
}

// NagiosNotification builds the form a Nagios 4 notification command
// POSTs for n (curl --data-urlencode with fleetfeed's short keys: kind,
// type, host, hostalias, hostaddress, service, state, …, timet, contact),
// with plugin output and performance data that fit the check and state.
func NagiosNotification(s Server, n Notification, r *rand.Rand, now time.Time) Payload {
	now = now.UTC()
	host := n.Service == ""
	var f form
	kind := "service"
	if host {
		kind = "host"
	}
	f.add("kind", kind)
	f.add("type", n.Type)
	f.add("host", s.Short)
	f.add("hostalias", s.Name)
	f.add("hostaddress", s.IP)
	if !host {
		f.add("service", n.Service)
	}
	f.add("state", n.State)
	f.add("stateid", strconv.Itoa(stateID(host, n.State)))
	f.add("statetype", "HARD")
	out := checkOutput(s, n.Service, n.State, r, now)
	if host {
		attempt := "1"
		if n.State == "DOWN" {
			attempt = "2"
		}
		f.add("attempt", attempt)
		f.add("laststate", n.LastState)
		f.add("output", out.output)
		f.add("longoutput", "")
		f.add("author", n.Author)
		f.add("comment", n.Comment)
		f.add("notificationnumber", strconv.Itoa(n.Number))
		f.add("problemid", strconv.Itoa(n.ProblemID))
		f.add("downtime", "0")
		f.add("timet", strconv.FormatInt(now.Unix(), 10))
	} else {
		f.add("attempt", "3")
		f.add("maxattempts", "3")
		f.add("laststate", n.LastState)
		f.add("output", out.output)
		f.add("longoutput", out.long)
		f.add("perfdata", out.perf)
		f.add("author", n.Author)
		f.add("comment", n.Comment)
		ackAuthor, ackComment := "", ""
		if n.Type == NagiosAcknowledgement {
			ackAuthor, ackComment = n.Author, n.Comment
		}
		f.add("ackauthor", ackAuthor)
		f.add("ackcomment", ackComment)
		f.add("notificationnumber", strconv.Itoa(n.Number))
		f.add("problemid", strconv.Itoa(n.ProblemID))
		f.add("lastproblemid", strconv.Itoa(n.LastProblemID))
		f.add("downtime", "0")
		change := 3 + r.Float64()*15
		switch n.Type {
		case NagiosFlappingStart:
			change = 21 + r.Float64()*20
		case NagiosFlappingStop:
			change = 1 + r.Float64()*3.5
		}
		f.add("percentchange", fmt.Sprintf("%.2f", change))
		f.add("longdatetime", now.Format("Mon Jan 02 15:04:05 MST 2006"))
		f.add("timet", strconv.FormatInt(now.Unix(), 10))
		f.add("contact", "ops")
	}
	return Payload{
		Source:      translators.SourceNagios,
		ContentType: ContentForm,
		Body:        []byte(f.String()),
		Node:        s.Name,
	}
}

// form writes a form body with its keys in the order given, as curl does.
type form struct {
	b strings.Builder
}

func (f *form) add(k, v string) {
	if f.b.Len() > 0 {
		f.b.WriteByte('&')
	}
	f.b.WriteString(url.QueryEscape(k))
	f.b.WriteByte('=')
	f.b.WriteString(url.QueryEscape(v))
}

func (f *form) String() string { return f.b.String() }

func stateID(host bool, state string) int {
	if host {
		switch state {
		case "DOWN":
			return 1
		case "UNREACHABLE":
			return 2
		}
		return 0
	}
	switch state {
	case "WARNING":
		return 1
	case "CRITICAL":
		return 2
	case "UNKNOWN":
		return 3
	}
	return 0
}

// pluginOutput is what a check plugin printed.
type pluginOutput struct {
	output string
	long   string // lines joined by a literal \n, as Nagios passes them
	perf   string
}

// checkOutput writes what the plugin behind service says in state. Nagios
// strips ` ~ $ & | ' " < > from output, so none appear.
func checkOutput(s Server, service, state string, r *rand.Rand, now time.Time) pluginOutput {
	spec := specFor(s.Role)
	f := func(lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
	switch strings.ToLower(service) {
	case "":
		if state == "DOWN" {
			return pluginOutput{output: fmt.Sprintf("CRITICAL - Host Unreachable (%s)", s.IP)}
		}
		return pluginOutput{output: fmt.Sprintf("PING OK - Packet loss = 0%%, RTA = %.2f ms", f(0.2, 1.5))}
	case "load":
		cpus, _ := s.Facts["cpus"].(int)
		if cpus == 0 {
			cpus = 4
		}
		w, c := float64(cpus)*1.5, float64(cpus)*3
		var l1 float64
		switch state {
		case "WARNING":
			l1 = f(w, c)
		case "CRITICAL":
			l1 = f(c, c*1.6)
		default:
			l1 = f(0.1, w/3)
		}
		l5, l15 := l1*f(0.7, 0.95), l1*f(0.5, 0.8)
		out := pluginOutput{
			output: fmt.Sprintf("%s - load average: %.2f, %.2f, %.2f", okState(state), l1, l5, l15),
			perf: fmt.Sprintf("load1=%.2f;%g;%g;0 load5=%.2f;%g;%g;0 load15=%.2f;%g;%g;0",
				l1, w, c, l5, w, c, l15, w, c),
		}
		if state != "OK" {
			proc := topProcess(spec)
			out.long = fmt.Sprintf(`Top processes:\n%s (pid %d) %d%% CPU\n%s (pid %d) %d%% CPU`,
				proc, 1000+r.IntN(30000), int(l1*40), "puppet", 1000+r.IntN(30000), 10+r.IntN(40))
		}
		return out
	case "disk":
		mount, total := "/", 51175
		switch spec.role {
		case "database":
			mount, total = "/var/lib/postgresql", 409600
		case "search":
			mount, total = "/var/lib/opensearch", 204800
		case "log_collector":
			mount, total = "/var/log/remote", 512000
		case "backup":
			mount, total = "/srv/bacula", 2048000
		}
		var freePct float64
		switch state {
		case "WARNING":
			freePct = f(10.5, 19.5)
		case "CRITICAL":
			freePct = f(2, 9.5)
		default:
			freePct = f(35, 80)
		}
		free := int(float64(total) * freePct / 100)
		st := "OK"
		if state != "OK" {
			st = state
		}
		return pluginOutput{
			output: fmt.Sprintf("DISK %s - free space: %s %d MB (%d%% inode=%d%%)", st, mount, free, int(freePct), 70+r.IntN(25)),
			perf:   fmt.Sprintf("%s=%dMB;%d;%d;0;%d", mount, total-free, total*80/100, total*90/100, total),
		}
	case "swap":
		total := 4095
		var freePct float64
		switch state {
		case "WARNING":
			freePct = f(11, 19.5)
		case "CRITICAL":
			freePct = f(2, 9.5)
		default:
			freePct = f(85, 99)
		}
		free := int(float64(total) * freePct / 100)
		st := "OK"
		if state != "OK" {
			st = state
		}
		return pluginOutput{
			output: fmt.Sprintf("SWAP %s - %d%% free (%d MB out of %d MB)", st, int(freePct), free, total),
			perf:   fmt.Sprintf("swap=%dMB;%d;%d;0;%d", free, total/5, total/10, total),
		}
	case "ssh":
		t := f(0.004, 0.05)
		switch state {
		case "WARNING":
			return pluginOutput{output: fmt.Sprintf("SSH WARNING - %s (protocol 2.0) version mismatch, expected %s", spec.os.ssh, spec.os.ssh+"u1")}
		case "CRITICAL":
			if r.IntN(2) == 0 {
				return pluginOutput{output: "CRITICAL - Socket timeout after 10 seconds"}
			}
			return pluginOutput{output: fmt.Sprintf("connect to address %s and port 22: Connection refused", s.IP)}
		}
		return pluginOutput{
			output: fmt.Sprintf("SSH OK - %s (protocol 2.0)", spec.os.ssh),
			perf:   fmt.Sprintf("time=%.6fs;;;0.000000;10.000000", t),
		}
	case "http":
		size := 38000 + r.IntN(20000)
		switch state {
		case "WARNING":
			t := f(5, 9.5)
			return pluginOutput{
				output: fmt.Sprintf("HTTP WARNING: HTTP/1.1 200 OK - %d bytes in %.3f second response time", size, t),
				perf:   fmt.Sprintf("time=%.6fs;5.000000;10.000000;0.000000 size=%dB;;;0", t, size),
			}
		case "CRITICAL":
			if r.IntN(2) == 0 {
				return pluginOutput{output: "CRITICAL - Socket timeout after 10 seconds"}
			}
			t := f(0.002, 0.02)
			return pluginOutput{
				output: fmt.Sprintf("HTTP CRITICAL: HTTP/1.1 503 Service Unavailable - 389 bytes in %.3f second response time", t),
				perf:   fmt.Sprintf("time=%.6fs;5.000000;10.000000;0.000000 size=389B;;;0", t),
			}
		}
		t := f(0.03, 0.4)
		return pluginOutput{
			output: fmt.Sprintf("HTTP OK: HTTP/1.1 200 OK - %d bytes in %.3f second response time", size, t),
			perf:   fmt.Sprintf("time=%.6fs;5.000000;10.000000;0.000000 size=%dB;;;0", t, size),
		}
	case "https certificate":
		expiry := now.Truncate(24 * time.Hour).Add(12 * time.Hour)
		switch state {
		case "WARNING":
			d := 8 + r.IntN(6)
			return pluginOutput{output: fmt.Sprintf("SSL WARNING - Certificate shop.example.com expires in %d day(s) (%s).", d, expiry.AddDate(0, 0, d).Format("Jan 02 15:04:05 2006 -0700"))}
		case "CRITICAL":
			d := 1 + r.IntN(6)
			return pluginOutput{output: fmt.Sprintf("SSL CRITICAL - Certificate shop.example.com expires in %d day(s) (%s).", d, expiry.AddDate(0, 0, d).Format("Jan 02 15:04:05 2006 -0700"))}
		}
		return pluginOutput{output: fmt.Sprintf("SSL OK - Certificate shop.example.com will expire on %s.", expiry.AddDate(0, 0, 89).Format("Jan 02 15:04:05 2006 -0700"))}
	case "postgresql":
		switch state {
		case "WARNING":
			t := f(2, 7.5)
			return pluginOutput{output: fmt.Sprintf("WARNING - database template1 (%.3f sec.)", t),
				perf: fmt.Sprintf("time=%.6fs;2.000000;8.000000;0.000000", t)}
		case "CRITICAL":
			return pluginOutput{output: "CRITICAL - no connection to template1 (could not connect to server: Connection refused)"}
		}
		t := f(0.004, 0.05)
		return pluginOutput{output: fmt.Sprintf("OK - database template1 (%.3f sec.)", t),
			perf: fmt.Sprintf("time=%.6fs;2.000000;8.000000;0.000000", t)}
	case "smtp":
		switch state {
		case "WARNING":
			t := f(4, 9)
			return pluginOutput{output: fmt.Sprintf("SMTP WARNING - %.3f sec. response time", t),
				perf: fmt.Sprintf("time=%.6fs;4.000000;10.000000;0.000000", t)}
		case "CRITICAL":
			return pluginOutput{output: "CRITICAL - Socket timeout after 10 seconds"}
		}
		t := f(0.01, 0.2)
		return pluginOutput{output: fmt.Sprintf("SMTP OK - %.3f sec. response time", t),
			perf: fmt.Sprintf("time=%.6fs;4.000000;10.000000;0.000000", t)}
	case "dns":
		switch state {
		case "WARNING":
			t := f(2, 4.5)
			return pluginOutput{output: fmt.Sprintf("DNS WARNING - %.3f seconds response time (shop.example.com returns 192.0.2.10)", t),
				perf: fmt.Sprintf("time=%.6fs;2.000000;5.000000;0.000000", t)}
		case "CRITICAL":
			return pluginOutput{output: "DNS CRITICAL - Domain shop.example.com was not found by the server"}
		}
		t := f(0.002, 0.03)
		return pluginOutput{output: fmt.Sprintf("DNS OK - %.3f seconds response time (shop.example.com returns 192.0.2.10)", t),
			perf: fmt.Sprintf("time=%.6fs;2.000000;5.000000;0.000000", t)}
	case "redis":
		switch state {
		case "WARNING":
			t := f(1, 3)
			return pluginOutput{output: fmt.Sprintf("WARNING: REDIS 7.0.15 on 127.0.0.1:6379 - response in %.3fs", t),
				perf: fmt.Sprintf("response_time=%.3fs;1;3", t)}
		case "CRITICAL":
			return pluginOutput{output: "CRITICAL ERROR: Can not connect to 127.0.0.1 on port 6379"}
		}
		t := f(0.0005, 0.004)
		return pluginOutput{output: fmt.Sprintf("OK: REDIS 7.0.15 on 127.0.0.1:6379 has 1 databases (db0) with %d keys - response in %.3fs", 40000+r.IntN(20000), t),
			perf: fmt.Sprintf("response_time=%.3fs;1;3", t)}
	}
	return pluginOutput{output: okState(state) + " - check returned " + strings.ToLower(okState(state))}
}

func okState(state string) string {
	if state == "" {
		return "OK"
	}
	return state
}

// topProcess is the program that keeps a server of the role busy.
func topProcess(spec *roleSpec) string {
	switch spec.svc {
	case "opensearch", "jenkins":
		return "java"
	case "rabbitmq-server":
		return "beam.smp"
	case "postgresql":
		return "postgres"
	case "bacula-sd":
		return "bacula-sd"
	}
	return spec.svc
}
