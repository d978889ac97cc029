package translators

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// nagiosHTTP reads a captured notification POST: its content type and body.
func nagiosHTTP(t *testing.T, rel string) (contentType string, body []byte) {
	t.Helper()
	body = readShared(t, rel)
	headers := readShared(t, strings.TrimSuffix(rel, ".body")+".headers.txt")
	for _, line := range strings.Split(string(headers), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			contentType = strings.TrimSpace(v)
		}
	}
	return contentType, body
}

// nagiosEnv reads an env file of NAGIOS_* macros, KEY=VALUE a line.
func nagiosEnv(t *testing.T, rel string) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readShared(t, rel)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// nagiosEnvForm encodes macros the way `fleetfeed notify nagios` posts them.
func nagiosEnvForm(env map[string]string) []byte {
	form := url.Values{}
	for k, v := range env {
		form.Set(k, v)
	}
	return []byte(form.Encode())
}

func sharedGlob(t *testing.T, pattern string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(sharedTestdata, pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no shared testdata matches %s", pattern)
	}
	var rels []string
	for _, p := range paths {
		rel, err := filepath.Rel(sharedTestdata, p)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	return rels
}

func TestNagiosGoldenHTTP(t *testing.T) {
	for _, rel := range sharedGlob(t, "nagios/http/*.body") {
		name := strings.TrimSuffix(filepath.Base(rel), ".body")
		t.Run(name, func(t *testing.T) {
			ct, body := nagiosHTTP(t, rel)
			evs, err := TranslateNagios(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			checkPlain(t, evs)
			checkGolden(t, "nagios/http-"+name, evs)
		})
	}
}

func TestNagiosGoldenEnv(t *testing.T) {
	for _, rel := range sharedGlob(t, "nagios/env/*.env") {
		name := strings.TrimSuffix(filepath.Base(rel), ".env")
		t.Run(name, func(t *testing.T) {
			env := nagiosEnv(t, rel)
			evs, err := TranslateNagiosMacros(env)
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			checkGolden(t, "nagios/env-"+name, evs)

			// `fleetfeed notify nagios` posts the same macros as a form.
			posted, err := TranslateNagios("application/x-www-form-urlencoded", nagiosEnvForm(env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(posted, evs) {
				t.Fatalf("posted macros give\n%+v\nthe macros give\n%+v", posted, evs)
			}
		})
	}
}

// The decoded webhook posts, sent as JSON objects, read like the forms.
func TestNagiosJSONLikeForm(t *testing.T) {
	var posts []struct {
		SourceFile string            `json:"source_file"`
		Form       map[string]string `json:"form"`
	}
	if err := json.Unmarshal(readShared(t, "nagios/webhook-posts.decoded.json"), &posts); err != nil {
		t.Fatal(err)
	}
	if len(posts) == 0 {
		t.Fatal("no posts")
	}
	for _, p := range posts {
		t.Run(p.SourceFile, func(t *testing.T) {
			ct, body := nagiosHTTP(t, "nagios/http/"+p.SourceFile)
			want, err := TranslateNagios(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(p.Form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TranslateNagios("application/json", js)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("JSON gives\n%+v\nform gives\n%+v", got, want)
			}
		})
	}
}

// The env dumps and the webhook posts are of the same notifications.
func TestNagiosMacrosMatchShortForm(t *testing.T) {
	for _, tc := range []struct{ env, body string }{
		{"1795629090137692616-service-PROBLEM", "req002"},
		{"1795629106331454393-service-RECOVERY", "req003"},
		{"1795629110224563741-service-PROBLEM", "req004"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			fromEnv, err := TranslateNagiosMacros(nagiosEnv(t, "nagios/env/"+tc.env+".env"))
			if err != nil {
				t.Fatal(err)
			}
			ct, body := nagiosHTTP(t, "nagios/http/"+tc.body+".body")
			fromForm, err := TranslateNagios(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := Sentence(fromEnv[0].Post.Text, fromEnv[0].Post.Tags), Sentence(fromForm[0].Post.Text, fromForm[0].Post.Tags); got != want {
				t.Fatalf("macros say %q, form says %q", got, want)
			}
			if got, want := fromEnv[0].ID, fromForm[0].ID; got != want {
				t.Fatalf("macros id %q, form id %q", got, want)
			}
			if !reflect.DeepEqual(fromEnv, fromForm) {
				t.Fatalf("macros give\n%+v\nform gives\n%+v", fromEnv, fromForm)
			}
		})
	}
}

// nagiosOne translates a captured post that gives one event.
func nagiosOne(t *testing.T, req string) Event {
	t.Helper()
	ct, body := nagiosHTTP(t, "nagios/http/"+req+".body")
	evs, err := TranslateNagios(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Post == nil {
		t.Fatalf("%s: %d events, want one with a post", req, len(evs))
	}
	return evs[0]
}

func TestNagiosThreads(t *testing.T) {
	for _, tc := range []struct {
		name, opener, closer string
		flapping             bool
	}{
		{"service problem and recovery", "req004", "req006", false},
		{"host down and up", "req010", "req012", false},
		{"flapping start and stop", "req011", "req013", true},
		{"maintenance start and end", "req007", "req008", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, close := nagiosOne(t, tc.opener), nagiosOne(t, tc.closer)
			if got, want := close.Post.Thread, open.Post.Thread; got != want || got == "" {
				t.Fatalf("closing thread %q, opening thread %q", got, want)
			}
			if got, want := open.Post.Opens, true; got != want {
				t.Fatalf("opener Opens = %v", got)
			}
			if got, want := open.Post.Closes, false; got != want {
				t.Fatalf("opener Closes = %v", got)
			}
			if got, want := close.Post.Closes, true; got != want {
				t.Fatalf("closer Closes = %v", got)
			}
			if got, want := close.Post.Opens, false; got != want {
				t.Fatalf("closer Opens = %v", got)
			}
			if got, want := open.Post.Flapping, tc.flapping; got != want {
				t.Fatalf("opener Flapping = %v, want %v", got, want)
			}
			if got, want := close.Post.Flapping, false; got != want {
				t.Fatalf("closer Flapping = %v", got)
			}
		})
	}
}

func TestNagiosAcknowledgementRepliesToProblem(t *testing.T) {
	problem, ack := nagiosOne(t, "req004"), nagiosOne(t, "req005")
	if got, want := ack.Post.Thread, problem.Post.Thread; got != want {
		t.Fatalf("thread %q, want %q", got, want)
	}
	if ack.Post.Opens || ack.Post.Closes {
		t.Fatalf("acknowledgement Opens %v Closes %v, want neither", ack.Post.Opens, ack.Post.Closes)
	}
	if got, want := ack.Post.Text, "alice is looking into the high load"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if got, want := ack.Post.Details["comment"], "Looking into the java process, restarting app"; got != want {
		t.Fatalf("comment %v, want %q", got, want)
	}
}

func TestNagiosIDs(t *testing.T) {
	seen := map[string]string{}
	for _, rel := range sharedGlob(t, "nagios/http/*.body") {
		ct, body := nagiosHTTP(t, rel)
		first, err := TranslateNagios(ct, body)
		if err != nil {
			t.Fatal(err)
		}
		again, err := TranslateNagios(ct, body)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := again[0].ID, first[0].ID; got != want {
			t.Fatalf("%s: id %q the second time, %q the first", rel, got, want)
		}
		if !strings.HasPrefix(first[0].ID, "nagios:") {
			t.Fatalf("%s: id %q", rel, first[0].ID)
		}
		if other, dup := seen[first[0].ID]; dup {
			t.Fatalf("%s and %s share id %q", rel, other, first[0].ID)
		}
		seen[first[0].ID] = rel
	}
}

func TestNagiosDetails(t *testing.T) {
	ev := nagiosOne(t, "req002")
	if got, want := ev.Node, "web01"; got != want {
		t.Fatalf("node %q, want %q", got, want)
	}
	if got, want := strings.Join(ev.Aliases, ","), "web01.example.com,192.0.2.10"; got != want {
		t.Fatalf("aliases %q, want %q", got, want)
	}
	if got, want := ev.Time.Unix(), int64(1795629090); got != want {
		t.Fatalf("time %d, want %d", got, want)
	}
	if got, want := ev.Health, Severity(""); got != want {
		t.Fatalf("health %q for a service, want none", got)
	}
	d := ev.Post.Details
	if got, want := d["long_output"], "Top processes:\njava (pid 2211) 180% CPU\nnode (pid 3100) 40% CPU"; got != want {
		t.Fatalf("long_output %q, want %q", got, want)
	}
	if got, want := d["output"], "WARNING - load average: 6.21, 5.80, 4.10"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	perf, ok := d["perfdata"].([]map[string]any)
	if !ok || len(perf) != 3 {
		t.Fatalf("perfdata %#v, want three values", d["perfdata"])
	}
	if got, want := perf[0]["label"], "load1"; got != want {
		t.Fatalf("label %v, want %v", got, want)
	}
	if got, want := perf[0]["value"], 6.21; got != want {
		t.Fatalf("value %v, want %v", got, want)
	}
	if got, want := perf[0]["crit"], "8"; got != want {
		t.Fatalf("crit %v, want %v", got, want)
	}
	if got, want := d["attempt"], int64(3); got != want {
		t.Fatalf("attempt %#v, want %#v", got, want)
	}
	if got, want := nagiosOne(t, "req010").Health, SeverityCritical; got != want {
		t.Fatalf("host down health %q, want %q", got, want)
	}
	if got, want := nagiosOne(t, "req012").Health, SeverityOK; got != want {
		t.Fatalf("host up health %q, want %q", got, want)
	}
}

// nagiosForm builds a short-key form from pairs.
func nagiosForm(pairs ...string) []byte {
	form := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		form.Set(pairs[i], pairs[i+1])
	}
	return []byte(form.Encode())
}

func TestNagiosSentences(t *testing.T) {
	base := []string{"host", "db1", "timet", "1795629090"}
	for _, tc := range []struct {
		name     string
		pairs    []string
		text     string
		tags     string
		severity Severity
	}{
		{"unknown state", []string{"type", "PROBLEM", "service", "Load", "state", "UNKNOWN"},
			"Monitoring cannot run the load check right now", "warning unknown nagios load", SeverityWarning},
		{"disk critical", []string{"type", "PROBLEM", "service", "Root Partition", "state", "CRITICAL"},
			"The disk is almost full", "critical nagios disk", SeverityCritical},
		{"http down", []string{"type", "PROBLEM", "service", "HTTP", "state", "CRITICAL"},
			"The website is not answering", "critical nagios http", SeverityCritical},
		{"ping down", []string{"type", "PROBLEM", "service", "PING", "state", "CRITICAL"},
			"The server is not reachable", "critical nagios network", SeverityCritical},
		{"swap", []string{"type", "PROBLEM", "service", "Swap", "state", "WARNING"},
			"The server is running low on memory", "warning nagios memory", SeverityWarning},
		{"ssh", []string{"type", "RECOVERY", "service", "SSH", "state", "OK"},
			"Remote login works again", "ok nagios ssh", SeverityOK},
		{"users", []string{"type", "PROBLEM", "service", "Current Users", "state", "WARNING"},
			"Unusually many people are logged in", "warning nagios users", SeverityWarning},
		{"procs", []string{"type", "PROBLEM", "service", "Total Procs", "state", "WARNING"},
			"The number of running programs is unusual", "warning nagios processes", SeverityWarning},
		{"state from its id", []string{"type", "PROBLEM", "service", "Load", "stateid", "2"},
			"The server is under very heavy load", "critical nagios load", SeverityCritical},
		{"database check by a word of its name", []string{"type", "PROBLEM", "service", "mysql_replication_lag", "state", "CRITICAL"},
			"The database is not answering", "critical nagios database", SeverityCritical},
		{"check of no known kind", []string{"type", "PROBLEM", "service", "Queue_Length", "state", "WARNING"},
			"The Queue Length check reports a problem", "warning nagios queue_length", SeverityWarning},
		{"check of no known kind recovers", []string{"type", "RECOVERY", "service", "Queue_Length", "state", "OK"},
			"The Queue Length check is back to normal", "ok nagios queue_length", SeverityOK},
		{"check named like a path", []string{"type", "PROBLEM", "service", "/srv/queue", "state", "CRITICAL"},
			"One of the server's checks reports a serious problem", "critical nagios srv_queue", SeverityCritical},
		{"host unreachable", []string{"kind", "host", "type", "PROBLEM", "state", "UNREACHABLE"},
			"The server cannot be reached because of a network problem", "critical nagios", SeverityCritical},
		{"host acknowledged", []string{"kind", "host", "type", "ACKNOWLEDGEMENT", "state", "DOWN", "author", "Bob Smith"},
			"Bob Smith is looking into why the server is not reachable", "acknowledged nagios", SeverityInfo},
		{"ack author from ackauthor", []string{"type", "ACKNOWLEDGEMENT", "service", "Disk", "state", "WARNING", "ackauthor", "dave"},
			"dave is looking into the low disk space", "acknowledged nagios disk", SeverityInfo},
		{"ack by an odd name", []string{"type", "ACKNOWLEDGEMENT", "service", "Disk", "state", "WARNING", "author", "<script>"},
			"Someone is looking into the low disk space", "acknowledged nagios disk", SeverityInfo},
		{"host flapping", []string{"type", "FLAPPINGSTART", "state", "UP"},
			"The server keeps going up and down", "flapping nagios", SeverityWarning},
		{"flapping stops on a problem", []string{"type", "FLAPPINGSTOP", "service", "Disk", "state", "CRITICAL"},
			"The disk space check has stopped switching between good and bad, but still reports a problem", "flapping nagios disk", SeverityCritical},
		{"flapping disabled", []string{"type", "FLAPPINGDISABLED", "service", "Disk", "state", "OK"},
			"Monitoring stopped watching the disk space check for switching between good and bad", "flapping nagios disk", SeverityInfo},
		{"host maintenance", []string{"kind", "host", "type", "DOWNTIMESTART", "state", "UP"},
			"Planned maintenance has started on this server", "maintenance nagios", SeverityInfo},
		{"host maintenance cancelled", []string{"kind", "host", "type", "DOWNTIMECANCELLED", "state", "UP"},
			"Planned maintenance on this server was cancelled", "maintenance nagios", SeverityInfo},
		{"note with a path", []string{"type", "CUSTOM", "service", "Load", "author", "carol", "comment", "cleaning /var/log tonight"},
			"carol sent a note about the load check", "note nagios load", SeverityInfo},
		{"note about the host", []string{"type", "CUSTOM", "author", "carol", "comment", "Rebooting at noon"},
			`carol writes: "Rebooting at noon"`, "note nagios", SeverityInfo},
		{"a long note", []string{"type", "CUSTOM", "author", "carol", "comment", strings.Repeat("very ", 30) + "long"},
			"carol sent a note about this server", "note nagios", SeverityInfo},
		{"lower-case type", []string{"type", "recovery", "service", "Load", "state", "OK"},
			"Load is back to normal", "ok nagios load", SeverityOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := TranslateNagios("application/x-www-form-urlencoded", nagiosForm(append(base, tc.pairs...)...))
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			p := evs[0].Post
			if got, want := p.Text, tc.text; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
			if got, want := strings.Join(p.Tags, " "), tc.tags; got != want {
				t.Fatalf("tags %q, want %q", got, want)
			}
			if got, want := p.Severity, tc.severity; got != want {
				t.Fatalf("severity %q, want %q", got, want)
			}
		})
	}
}

// Names and comments from the payload never push a sentence past its
// length: the sentence falls back to a shorter one.
func TestNagiosLongNamesFallBack(t *testing.T) {
	author := strings.Repeat("x", 32)
	evs, err := TranslateNagios("", nagiosForm("host", "h", "type", "ACKNOWLEDGEMENT",
		"service", "Abcdefghij Klmnopqrst Uvwxyzabcd Efghijk", "author", author))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	if got, want := evs[0].Post.Text, author+" is looking into the problem with the Abcdefghij Klmnopqrst Uvwxyzabcd Efghijk check"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	comment := strings.TrimSpace(strings.Repeat("words ", 15))
	evs, err = TranslateNagios("", nagiosForm("host", "h", "type", "CUSTOM",
		"service", "Queue Length Abcdefghijk", "author", author, "comment", comment))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	if got, want := evs[0].Post.Text, "Someone sent a note about one of the server's checks"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if got, want := evs[0].Post.Details["comment"], comment; got != want {
		t.Fatalf("comment %q, want %q", got, want)
	}
}

// nagiosHostile are names and comments a sentence must not repeat.
var nagiosHostile = []string{
	"null", "nil", "%s", "{{.Name}}", "/etc/passwd", "see /var/log/syslog", "10 GB", "512 bytes",
	"CRITICAL - disk full", "load average: 5.1", "sid:2100498", "#urgent", "Puppet::Type",
	"File[/tmp/x]", "rta=1ms", "<b>bold</b>", "\u202ealice", "a\nb\tc", "perfdata",
	strings.Repeat("long ", 60), "\xff\xfe", "",
}

// Whatever a payload names its author, comment or service, the sentence
// stays plain.
func TestNagiosHostileNames(t *testing.T) {
	for _, typ := range []string{"PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT", "CUSTOM", "FLAPPINGSTART", "DOWNTIMESTART"} {
		for i, h := range nagiosHostile {
			for _, field := range []string{"author", "comment", "service"} {
				pairs := []string{"host", "web01", "type", typ, "state", "CRITICAL", "service", "Queue", "author", "carol", "comment", "fine"}
				for j := 0; j < len(pairs); j += 2 {
					if pairs[j] == field {
						pairs[j+1] = h
					}
				}
				evs, err := TranslateNagios("", nagiosForm(pairs...))
				if err != nil {
					t.Fatalf("%s %s %d: %v", typ, field, i, err)
				}
				checkPlain(t, evs)
			}
		}
	}
}

// A command that posts its values unencoded still gets them.
func TestNagiosLenientForm(t *testing.T) {
	body := "type=PROBLEM&host=web01&service=Load&state=WARNING&longoutput=java 180% CPU&perfdata=load1=6.21;4;8;0&extra=ignored"
	evs, err := TranslateNagios("application/x-www-form-urlencoded", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := evs[0].Post.Text, "Experiencing high load"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if got, want := evs[0].Post.Details["long_output"], "java 180% CPU"; got != want {
		t.Fatalf("long_output %q, want %q", got, want)
	}
	if got, want := evs[0].Post.Details["perfdata_raw"], "load1=6.21;4;8;0"; got != want {
		t.Fatalf("perfdata_raw %q, want %q", got, want)
	}
}

// A JSON object may give numbers as numbers.
func TestNagiosJSONNumbers(t *testing.T) {
	evs, err := TranslateNagios("application/json", []byte(`{"type":"PROBLEM","host":"web01","service":"Load","stateid":1,"timet":1795629090,"problemid":2,"notificationnumber":1,"flag":true,"nested":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := evs[0].ID, "nagios:web01:Load:PROBLEM:2:1:1795629090"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
	if got, want := evs[0].Time.Unix(), int64(1795629090); got != want {
		t.Fatalf("time %d, want %d", got, want)
	}
	if got, want := evs[0].Post.Text, "Experiencing high load"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
}

func TestNagiosBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		msg               string
	}{
		{"empty", "", nil, "empty body"},
		{"blank", "application/x-www-form-urlencoded", []byte(" \n\t"), "empty body"},
		{"not a form", "text/plain", []byte("hello world"), "not form-encoded or JSON"},
		{"broken JSON", "application/json", []byte(`{"type":`), "not a JSON object"},
		{"JSON that is not an object", "", []byte(`["PROBLEM"]`), "not a JSON object"},
		{"JSON content type, form body", "application/json", nagiosForm("type", "PROBLEM", "host", "h"), "not JSON"},
		{"empty JSON array", "", []byte(`[]`), "empty JSON array"},
		{"no type", "", nagiosForm("host", "web01", "service", "Load"), "missing notification type"},
		{"unknown type", "", nagiosForm("type", "FOO", "host", "web01"), `unknown notification type "FOO"`},
		{"no host", "", nagiosForm("type", "PROBLEM", "service", "Load"), "missing host"},
		{"blank host", "", nagiosForm("type", "PROBLEM", "host", "  "), "missing host"},
		{"long host", "", nagiosForm("type", "PROBLEM", "host", strings.Repeat("h", 256)), "longer than 255"},
		{"service without a name", "", nagiosForm("kind", "service", "type", "PROBLEM", "host", "web01"), "missing service"},
		{"unknown kind", "", nagiosForm("kind", "router", "type", "PROBLEM", "host", "web01"), `unknown kind "router"`},
		{"macros without a host", "", nagiosForm("NAGIOS_NOTIFICATIONTYPE", "PROBLEM", "NAGIOS_SERVICEDESC", "Load"), "missing host"},
		{"second of two bad", "", []byte(`[{"type":"PROBLEM","host":"a"},{"type":"PROBLEM"}]`), "notification 2: missing host"},
		{"the daemon's log", "text/plain", readShared(t, "nagios/nagios.log"), "not a JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := TranslateNagios(tc.contentType, tc.body)
			nagiosCheckParseError(t, evs, err, SourceNagios, tc.msg)
		})
	}
	t.Run("no macros", func(t *testing.T) {
		evs, err := TranslateNagiosMacros(nil)
		nagiosCheckParseError(t, evs, err, SourceNagios, "no NAGIOS_ macros")
	})
	t.Run("macros with an unknown type", func(t *testing.T) {
		evs, err := TranslateNagiosMacros(map[string]string{"NAGIOS_NOTIFICATIONTYPE": "BOGUS", "NAGIOS_HOSTNAME": "h"})
		nagiosCheckParseError(t, evs, err, SourceNagios, `unknown notification type "BOGUS"`)
	})
}

func nagiosCheckParseError(t *testing.T, evs []Event, err error, source, msg string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *ParseError", err, err)
	}
	if got, want := pe.Source, source; got != want {
		t.Fatalf("source %q, want %q", got, want)
	}
	if !strings.Contains(pe.Msg, msg) {
		t.Fatalf("message %q, want it to say %q", pe.Msg, msg)
	}
	if evs != nil {
		t.Fatalf("%d events with the error, want none", len(evs))
	}
}

func TestNagiosPerfdata(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
		want     string // the parsed values as JSON
	}{
		{"load", "load1=6.21;4;8;0 load5=5.80;4;8;0", true,
			`[{"crit":"8","label":"load1","min":"0","value":6.21,"warn":"4"},{"crit":"8","label":"load5","min":"0","value":5.8,"warn":"4"}]`},
		{"disk", "/=11201MB;41943;47185;0;52428", true,
			`[{"crit":"47185","label":"/","max":"52428","min":"0","uom":"MB","value":11201,"warn":"41943"}]`},
		{"quoted label", "'Packet loss'=0%;20;60;0 'it''s'=1", true,
			`[{"crit":"60","label":"Packet loss","min":"0","uom":"%","value":0,"warn":"20"},{"label":"it's","value":1}]`},
		{"ranges and unknown value", "time=U;@10:20;~:30", true,
			`[{"crit":"~:30","label":"time","warn":"@10:20"}]`},
		{"output by mistake", "PING OK - Packet loss = 0%, RTA = 0.05 ms", false, ``},
		{"not a number", "x=NaN", false, ``},
		{"too big", "x=1e999", false, ``},
		{"unclosed quote", "'x=1", false, ``},
		{"empty", "", false, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, ok := monPerfdata(tc.in)
			if got, want := ok, tc.ok; got != want {
				t.Fatalf("ok %v, want %v (%v)", got, want, vals)
			}
			if !ok {
				return
			}
			b, err := json.Marshal(vals)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(b), tc.want; got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func FuzzTranslateNagios(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(sharedTestdata, "nagios/http/*.body"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add("application/x-www-form-urlencoded", b)
		}
	}
	envs, _ := filepath.Glob(filepath.Join(sharedTestdata, "nagios/env/*.env"))
	for _, p := range envs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		env := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				env[k] = v
			}
		}
		f.Add("application/x-www-form-urlencoded", nagiosEnvForm(env))
		if js, err := json.Marshal(env); err == nil {
			f.Add("application/json", js)
		}
	}
	f.Add("", []byte(`[{"type":"CUSTOM","host":"h","author":"a","comment":"c"}]`))
	for _, h := range nagiosHostile {
		f.Add("", nagiosForm("type", "CUSTOM", "host", "h", "service", h, "author", h, "comment", h))
	}
	f.Add("", []byte("type=ACKNOWLEDGEMENT&host=h&service=x&author=%E2%80%AE&perfdata='a b'=1;2;3"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		evs, err := TranslateNagios(contentType, body)
		nagiosCheckInvariants(t, SourceNagios, evs, err)
		again, _ := TranslateNagios(contentType, body)
		if !reflect.DeepEqual(again, evs) {
			t.Fatalf("a second translation differs")
		}
	})
}

// nagiosCheckInvariants holds for every translation by a monitoring
// translator, whatever the input.
func nagiosCheckInvariants(t *testing.T, source string, evs []Event, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T), want a *ParseError", err, err)
		}
		if pe.Source != source || pe.Msg == "" {
			t.Fatalf("parse error %+v", pe)
		}
		if evs != nil {
			t.Fatalf("events with an error")
		}
		return
	}
	checkPlain(t, evs)
	ids := map[string]bool{}
	for _, ev := range evs {
		if ev.Source != source || ev.Post == nil {
			t.Fatalf("event %+v", ev)
		}
		if !strings.HasPrefix(ev.ID, map[string]string{SourceNagios: "nagios:", SourceIcinga2: "icinga2:"}[source]) || len(ev.ID) > 200 {
			t.Fatalf("id %q", ev.ID)
		}
		if ids[ev.ID] {
			t.Fatalf("id %q twice in one payload", ev.ID)
		}
		ids[ev.ID] = true
		if ev.Post.Opens && ev.Post.Closes {
			t.Fatalf("post both opens and closes: %+v", ev.Post)
		}
		if ev.Post.Thread == "" {
			t.Fatalf("post without a thread: %+v", ev.Post)
		}
		if ev.Health != "" && !ev.Health.Valid() {
			t.Fatalf("health %q", ev.Health)
		}
	}
	if _, err := json.Marshal(evs); err != nil {
		t.Fatalf("events do not marshal: %v", err)
	}
}
