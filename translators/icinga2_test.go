package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// icingaPretty reads the one-event-per-type file, an object of events keyed
// by a name, into a JSON array of its events in file order.
func icingaPretty(t testing.TB, b []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var events []json.RawMessage
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the name
			t.Fatal(err)
		}
		var ev json.RawMessage
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	out, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIcinga2GoldenStream(t *testing.T) {
	evs, err := TranslateIcinga2("application/json", readShared(t, "icinga2/events-stream.raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	checkGolden(t, "icinga2/events-stream", evs)
}

func TestIcinga2GoldenPretty(t *testing.T) {
	evs, err := TranslateIcinga2("application/json", icingaPretty(t, readShared(t, "icinga2/events-one-per-type.pretty.json")))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	checkGolden(t, "icinga2/events-one-per-type", evs)
}

func TestIcinga2GoldenHTTP(t *testing.T) {
	for _, rel := range sharedGlob(t, "icinga2/http/*.body") {
		name := strings.TrimSuffix(filepath.Base(rel), ".body")
		t.Run(name, func(t *testing.T) {
			ct, body := nagiosHTTP(t, rel)
			evs, err := TranslateIcinga2(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			checkPlain(t, evs)
			checkGolden(t, "icinga2/http-"+name, evs)
		})
	}
}

// The stream, read as a reader would hear it: a state change and its
// notification post once; soft states, check results and comments not at
// all.
func TestIcinga2StreamStory(t *testing.T) {
	evs, err := TranslateIcinga2("", readShared(t, "icinga2/events-stream.raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, Sentence(ev.Post.Text, ev.Post.Tags))
	}
	want := []string{
		"Experiencing high load #warning #icinga #load",
		"The server is under very heavy load #critical #icinga #load",
		"alice is looking into the high load #acknowledged #icinga #load",
		"Load is back to normal #ok #icinga #load",
		"The load check keeps switching between good and bad #flapping #icinga #load",
		"Planned maintenance has started for the load check #maintenance #icinga #load",
		`carol writes: "Heads up: migrating this VM tonight" #note #icinga #load`,
		"The server is not reachable #critical #icinga",
		"The server is reachable again #ok #icinga",
		`carol writes: "Heads up: migrating this VM tonight" #note #icinga #load`,
		"The server is under very heavy load #critical #icinga #load",
		"Planned maintenance has started on this server #maintenance #icinga",
		"Planned maintenance on this server has ended #maintenance #icinga",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// icingaOne translates one event given as JSON.
func icingaOne(t *testing.T, js string) []Event {
	t.Helper()
	evs, err := TranslateIcinga2("application/json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	return evs
}

func TestIcinga2Events(t *testing.T) {
	// crOf is a check result going from state before (of type
	// beforeType) to the HARD state after.
	crOf := func(before, beforeType, after string) string {
		return `"check_result":{"output":"CRITICAL - load average: 15.70\nTop: java","performance_data":["load1=15.70;4;8;0"],"state":` + after +
			`,"vars_before":{"attempt":1,"state":` + before + `,"state_type":` + beforeType + `},"vars_after":{"attempt":1,"state":` + after + `,"state_type":1}}`
	}
	for _, tc := range []struct {
		name, js string
		text     string // "" for no event
		thread   string
		opens    bool
		closes   bool
	}{
		{"check result", `{"type":"CheckResult","host":"h","service":"load","timestamp":1795629327.04,` + crOf("0", "1", "2") + `}`,
			"", "", false, false},
		{"soft state change", `{"type":"StateChange","host":"h","service":"load","state":2,"state_type":0,"timestamp":1795629327.04,` + crOf("0", "1", "2") + `}`,
			"", "", false, false},
		{"hard state change", `{"type":"StateChange","host":"h","service":"load","state":2,"state_type":1,"timestamp":1795629327.04,` + crOf("2", "0", "2") + `}`,
			"The server is under very heavy load", "check:svc:load", true, false},
		{"recovery from a hard problem", `{"type":"StateChange","host":"h","service":"load","state":0,"state_type":1,"timestamp":1795629327.04,` + crOf("2", "1", "0") + `}`,
			"Load is back to normal", "check:svc:load", false, true},
		{"recovery from a soft problem", `{"type":"StateChange","host":"h","service":"load","state":0,"state_type":1,"timestamp":1795629327.04,` + crOf("2", "0", "0") + `}`,
			"", "", false, false},
		{"host down", `{"type":"StateChange","host":"h","state":1,"state_type":1,"timestamp":1795629327.04}`,
			"The server is not reachable", "check:host", true, false},
		{"host notification from its check result", `{"type":"Notification","host":"h","notification_type":"PROBLEM","timestamp":1795629327.04,` + crOf("0", "1", "2") + `}`,
			"The server is not reachable", "check:host", true, false},
		{"flapping ends", `{"type":"Flapping","host":"h","service":"load","is_flapping":false,"state":0,"state_type":1,"timestamp":1795629327.04}`,
			"The load check has stopped switching between good and bad", "check:svc:load", false, true},
		{"acknowledgement set", `{"type":"AcknowledgementSet","host":"h","service":"disk","author":"alice","comment":"on it","state":1,"state_type":1,"timestamp":1795629327.04}`,
			"alice is looking into the low disk space", "check:svc:disk", false, false},
		{"downtime added", `{"type":"DowntimeAdded","downtime":{"host_name":"h","author":"bob","start_time":1795629358,"end_time":1795629364,"fixed":true},"timestamp":1795629327.04}`,
			"", "", false, false},
		{"downtime removed before it began", `{"type":"DowntimeRemoved","downtime":{"host_name":"h","author":"bob","trigger_time":0},"timestamp":1795629327.04}`,
			"", "", false, false},
		{"downtime removed after it began", `{"type":"DowntimeRemoved","downtime":{"host_name":"h","service_name":"http","author":"bob","trigger_time":1795629000},"timestamp":1795629327.04}`,
			"Planned maintenance for the website check has ended", "maintenance:svc:http", false, true},
		{"comment", `{"type":"CommentAdded","comment":{"host_name":"h","text":"x"},"timestamp":1795629327.04}`,
			"", "", false, false},
		{"a type of a later version", `{"type":"ObjectCreated","object_type":"Host","object_name":"h"}`,
			"", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := icingaOne(t, tc.js)
			if tc.text == "" {
				if len(evs) != 0 {
					t.Fatalf("%d events, want none: %+v", len(evs), evs[0].Post)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d events, want one", len(evs))
			}
			p := evs[0].Post
			if got, want := p.Text, tc.text; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
			if got, want := p.Thread, tc.thread; got != want {
				t.Fatalf("thread %q, want %q", got, want)
			}
			if got, want := p.Opens, tc.opens; got != want {
				t.Fatalf("opens %v, want %v", got, want)
			}
			if got, want := p.Closes, tc.closes; got != want {
				t.Fatalf("closes %v, want %v", got, want)
			}
		})
	}
}

func TestIcinga2StateChangeAndNotificationShareID(t *testing.T) {
	evs := icingaOne(t, `[
		{"type":"StateChange","host":"h","service":"load","state":1,"state_type":1,"timestamp":1795629339.0689},
		{"type":"Notification","host":"h","service":"load","notification_type":"PROBLEM","users":["ops"],"check_result":{"state":1},"timestamp":1795629339.069428},
		{"type":"Notification","host":"h","service":"load","notification_type":"PROBLEM","users":["boss"],"check_result":{"state":1},"timestamp":1795629339.069501}
	]`)
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
	if got, want := evs[0].ID, "icinga2:h:load:PROBLEM:WARNING:1795629339"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
	if got, want := evs[0].Time.Format("15:04:05.000000"), "17:55:39.068900"; got != want {
		t.Fatalf("time %s, want %s", got, want)
	}
}

// Icinga says FLAPPINGEND where Nagios says FLAPPINGSTOP.
func TestIcinga2FlappingEndIsFlappingStop(t *testing.T) {
	ct, body := nagiosHTTP(t, "icinga2/http/req001.body")
	evs, err := TranslateIcinga2(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	nagios, err := TranslateNagios("", nagiosForm("host", "web01", "service", "Load", "type", "FLAPPINGSTOP", "state", "OK"))
	if err != nil {
		t.Fatal(err)
	}
	ip, np := evs[0].Post, nagios[0].Post
	if got, want := ip.Text, np.Text; got != want {
		t.Fatalf("icinga says %q, nagios %q", got, want)
	}
	if got, want := ip.Thread, np.Thread; got != want {
		t.Fatalf("icinga thread %q, nagios %q", got, want)
	}
	if !ip.Closes || ip.Opens || ip.Flapping {
		t.Fatalf("FLAPPINGEND opens %v closes %v flapping %v, want it to close", ip.Opens, ip.Closes, ip.Flapping)
	}
	if got, want := ip.Details["type"], "FLAPPINGSTOP"; got != want {
		t.Fatalf("type %v, want %v", got, want)
	}
	if got, want := ip.Details["notification_type"], "FLAPPINGEND"; got != want {
		t.Fatalf("notification_type %v, want %v", got, want)
	}
}

// Nagios and Icinga about the same service of the same server share the
// thread, so a recovery from either closes a problem from the other.
func TestIcinga2ThreadsMatchNagios(t *testing.T) {
	icinga := icingaOne(t, `{"type":"StateChange","host":"web01","service":"load","state":2,"state_type":1,"timestamp":1795629339}`)
	nagios := nagiosOne(t, "req006")
	if got, want := icinga[0].Post.Thread, nagios.Post.Thread; got != want {
		t.Fatalf("icinga thread %q, nagios %q", got, want)
	}
}

func TestIcinga2FormDetails(t *testing.T) {
	ct, body := nagiosHTTP(t, "icinga2/http/req004.body")
	evs, err := TranslateIcinga2(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if got, want := ev.Node, "web01.example.com"; got != want {
		t.Fatalf("node %q, want %q", got, want)
	}
	if got, want := strings.Join(ev.Aliases, ","), "web01,192.0.2.10"; got != want {
		t.Fatalf("aliases %q, want %q", got, want)
	}
	if got, want := ev.Post.Details["output"], "OK - load average: 0.52, 2.10, 4.01"; got != want {
		t.Fatalf("output %v, want %v", got, want)
	}
}

func TestIcinga2BadInput(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		line                    int
		msg                     string
	}{
		{"empty", "", "", 0, "empty body"},
		{"not a form", "text/plain", "hello world", 0, "not form-encoded or JSON"},
		{"JSON content type, other body", "application/json", "hello", 0, "not JSON"},
		{"broken JSON", "", `{"type":`, 1, "not JSON"},
		{"broken third line", "", "{\"type\":\"CheckResult\"}\n{\"type\":\"CheckResult\"}\n{\"type\":\n", 3, "not JSON"},
		{"no type", "", `{"foo":1}`, 0, "no type"},
		{"no type on line 2", "", "{\"type\":\"CheckResult\"}\n{\"foo\":1}\n", 2, "no type"},
		{"a number", "", `[1]`, 0, "not a JSON object"},
		{"wrong field type", "", `{"type":"StateChange","host":"h","state":"CRITICAL"}`, 0, "not an Icinga 2 event"},
		{"unknown notification type", "", `{"type":"Notification","host":"h","notification_type":"FOO"}`, 0, `unknown notification type "FOO"`},
		{"no notification type", "", `{"type":"Notification","host":"h"}`, 0, "missing notification type"},
		{"state change without a host", "", `{"type":"StateChange","service":"load","state":2,"state_type":1}`, 0, "missing host"},
		{"downtime without its object", "", `{"type":"DowntimeTriggered","host":"h"}`, 0, "missing downtime"},
		{"flapping without is_flapping", "", `{"type":"Flapping","host":"h"}`, 0, "is_flapping"},
		{"array element", "", `[{"type":"CheckResult"},{"type":"Notification","host":"h"}]`, 0, "event 2: missing notification type"},
		{"form without a host", "", "notification_type=PROBLEM&service_name=load", 0, "missing host"},
		{"form without a type", "", "host_name=h", 0, "missing notification type"},
		{"form with an unknown type", "", "notification_type=WHATEVER&host_name=h", 0, `unknown notification type "WHATEVER"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := TranslateIcinga2(tc.contentType, []byte(tc.body))
			nagiosCheckParseError(t, evs, err, SourceIcinga2, tc.msg)
			if got, want := err.(*ParseError).Line, tc.line; got != want {
				t.Fatalf("line %d, want %d (%v)", got, want, err)
			}
		})
	}
}

// icingaQuote is s as a JSON string.
func icingaQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Whatever the event stream names its author, comment or service, the
// sentence stays plain.
func TestIcinga2HostileNames(t *testing.T) {
	for _, h := range nagiosHostile {
		for _, js := range []string{
			`{"type":"AcknowledgementSet","host":"h","service":%s,"author":%s,"comment":%s,"state":2,"timestamp":1}`,
			`{"type":"Notification","notification_type":"CUSTOM","host":"h","service":%s,"author":%s,"text":%s,"timestamp":1}`,
			`{"type":"DowntimeTriggered","downtime":{"host_name":"h","service_name":%s,"author":%s,"comment":%s},"timestamp":1}`,
		} {
			body := []byte(fmt.Sprintf(js, icingaQuote(h), icingaQuote(h), icingaQuote(h)))
			evs, err := TranslateIcinga2("application/json", body)
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			checkPlain(t, evs)
		}
	}
}

func FuzzTranslateIcinga2(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(sharedTestdata, "icinga2/events-stream.raw.jsonl")); err == nil {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				f.Add("application/json", line)
			}
		}
		f.Add("", b[:len(b)/3])
	}
	if b, err := os.ReadFile(filepath.Join(sharedTestdata, "icinga2/events-one-per-type.pretty.json")); err == nil {
		f.Add("application/json", icingaPretty(f, b))
	}
	for _, h := range nagiosHostile {
		q := icingaQuote(h)
		f.Add("", []byte(fmt.Sprintf(`{"type":"Notification","notification_type":"CUSTOM","host":"h","service":%s,"author":%s,"text":%s}`, q, q, q)))
	}
	paths, _ := filepath.Glob(filepath.Join(sharedTestdata, "icinga2/http/*.body"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add("application/x-www-form-urlencoded", b)
		}
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		evs, err := TranslateIcinga2(contentType, body)
		nagiosCheckInvariants(t, SourceIcinga2, evs, err)
		again, _ := TranslateIcinga2(contentType, body)
		if !reflect.DeepEqual(again, evs) {
			t.Fatalf("a second translation differs")
		}
	})
}
