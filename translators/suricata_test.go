package translators

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suriNotInput names the files in shared/testdata/suricata that are not
// something Suricata posts.
var suriNotInput = map[string]string{
	"suricata/suricata-etc-schema.json":           "the EVE JSON schema",
	"suricata/suricata-etc-classification.config": "the rule classes (idsClasses follows it)",
}

func TestTranslateSuricataGolden(t *testing.T) {
	for _, rel := range idsSharedInputs(t, "suricata", suriNotInput) {
		t.Run(rel, func(t *testing.T) {
			evs, err := TranslateSuricata("application/json", readShared(t, rel), "")
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if err := idsInvariants(SourceSuricata, evs, nil); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, rel, evs)
		})
	}
}

// TestSuricataClassesFollowConfig checks idsClasses against Suricata's own
// classification.config: every class known, with its priority.
func TestSuricataClassesFollowConfig(t *testing.T) {
	b := readShared(t, "suricata/suricata-etc-classification.config")
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "config classification:")
		if !ok {
			continue
		}
		f := strings.Split(rest, ",")
		if len(f) != 3 {
			t.Fatalf("line %q", line)
		}
		name, desc, prio := strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), strings.TrimSpace(f[2])
		n++
		t.Run(name, func(t *testing.T) {
			c := idsLookupClass(name)
			if c == nil {
				t.Fatalf("class %q unknown", name)
			}
			if got, want := idsLookupClass(desc), c; got != want {
				t.Fatalf("description %q finds %v, want %v", desc, got, want)
			}
			if got, want := fmt.Sprint(c.prio), prio; got != want {
				t.Fatalf("priority %s, want %s", got, want)
			}
			if got := utf8Len(c.phrase + " was blocked, coming from ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"); got > idsMaxPlain-45 {
				// Room for "#critical #security #suricata #web_attack".
				t.Logf("phrase %q is long (%d); the address will be left out", c.phrase, got)
			}
		})
	}
	if got, want := n, len(idsClasses); got != want {
		t.Fatalf("classification.config has %d classes, idsClasses %d", got, want)
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

const suriAlertLine = `{"timestamp":"2021-01-27T01:28:11.488362+0100","flow_id":1805461738637437,"in_iface":"enp6s0","event_type":"alert","src_ip":"81.2.69.143","src_port":80,"dest_ip":"10.31.64.240","dest_port":47592,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2100498,"rev":7,"signature":"GPL ATTACK_RESPONSE id check returned root","category":"Potentially Bad Traffic","severity":2},"app_proto":"http"}`

func TestTranslateSuricata(t *testing.T) {
	withHost := strings.Replace(suriAlertLine, `"in_iface"`, `"host":"sensor1.example.com","in_iface"`, 1)
	blocked := strings.Replace(suriAlertLine, `"action":"allowed"`, `"action":"blocked"`, 1)
	critical := strings.Replace(suriAlertLine, `"severity":2`, `"severity":1`, 1)
	low := strings.Replace(suriAlertLine, `"severity":2`, `"severity":3`, 1)
	web := strings.Replace(suriAlertLine, `"category":"Potentially Bad Traffic"`, `"category":"Web Application Attack"`, 1)
	webBlocked := strings.Replace(web, `"action":"allowed"`, `"action":"blocked"`, 1)
	brute := strings.Replace(suriAlertLine, `GPL ATTACK_RESPONSE id check returned root`, `ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack`, 1)
	tests := []struct {
		name     string
		body     string
		node     string
		wantNode string
		wantText string
		wantTags string
		wantSev  Severity
	}{
		{"node from dest_ip", suriAlertLine, "", "10.31.64.240",
			"Potentially harmful network traffic was seen, coming from 81.2.69.143", "warning security suricata", SeverityWarning},
		{"node argument", suriAlertLine, "ids1", "ids1",
			"Potentially harmful network traffic was seen, coming from 81.2.69.143", "warning security suricata", SeverityWarning},
		{"host field wins", withHost, "ids1", "sensor1.example.com",
			"Potentially harmful network traffic was seen, coming from 81.2.69.143", "warning security suricata", SeverityWarning},
		{"blocked", blocked, "", "10.31.64.240",
			"Potentially harmful network traffic was blocked, coming from 81.2.69.143", "warning security suricata", SeverityWarning},
		{"priority 1", critical, "", "10.31.64.240",
			"Potentially harmful network traffic was seen, coming from 81.2.69.143", "critical security suricata", SeverityCritical},
		{"priority 3", low, "", "10.31.64.240",
			"Potentially harmful network traffic was seen, coming from 81.2.69.143", "notice security suricata", SeverityInfo},
		{"web attack blocked", webBlocked, "", "10.31.64.240",
			"A known attack against the website was blocked, coming from 81.2.69.143", "warning security suricata web_attack", SeverityWarning},
		{"brute force", brute, "", "10.31.64.240",
			"Password guessing was seen, coming from 81.2.69.143", "warning security suricata bruteforce", SeverityWarning},
		{"fast.log", `07/13/2016-22:42:07.573103  [**] [1:2100498:7] GPL ATTACK_RESPONSE id check returned root [**] [Classification: Potentially Bad Traffic] [Priority: 2] {6} 82.165.177.154:80 -> 10.16.1.11:54186`, "", "10.16.1.11",
			"Potentially harmful network traffic was seen, coming from 82.165.177.154", "warning security suricata", SeverityWarning},
		{"fast.log dropped", `07/13/2016-22:42:07.573103  [Drop] [**] [1:2100498:7] GPL ATTACK_RESPONSE id check returned root [**] [Classification: Potentially Bad Traffic] [Priority: 2] {TCP} 82.165.177.154:80 -> 10.16.1.11:54186`, "", "10.16.1.11",
			"Potentially harmful network traffic was blocked, coming from 82.165.177.154", "warning security suricata", SeverityWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateSuricata("", []byte(tt.body), tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			ev := evs[0]
			if got, want := ev.Node, tt.wantNode; got != want {
				t.Errorf("node %q, want %q", got, want)
			}
			if got, want := ev.Post.Text, tt.wantText; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
			if got, want := strings.Join(ev.Post.Tags, " "), tt.wantTags; got != want {
				t.Errorf("tags %q, want %q", got, want)
			}
			if got, want := ev.Post.Severity, tt.wantSev; got != want {
				t.Errorf("severity %s, want %s", got, want)
			}
			if len(ev.Aliases) != 0 {
				t.Errorf("aliases %v: a network alert's addresses are not the sensor's", ev.Aliases)
			}
			checkPlain(t, evs)
		})
	}
}

func TestTranslateSuricataTime(t *testing.T) {
	evs, err := TranslateSuricata("", []byte(suriAlertLine), "")
	if err != nil {
		t.Fatal(err)
	}
	// "+0100" has no colon: RFC 3339 parsing would fail.
	if got, want := evs[0].Time, time.Date(2021, 1, 27, 0, 28, 11, 488362000, time.UTC); !got.Equal(want) {
		t.Fatalf("time %s, want %s", got, want)
	}
	fast, err := TranslateSuricata("", []byte(`08/02/2014-10:50:25.823699  [**] [1:6:1] (null) [**] [Classification: (null)] [Priority: 3] {TCP} 0000:0000:0000:0000:0000:0000:0000:0001:3000 -> 0000:0000:0000:0000:0000:0000:0000:0001:56508`), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fast[0].Time, time.Date(2014, 8, 2, 10, 50, 25, 823699000, time.UTC); !got.Equal(want) {
		t.Fatalf("fast.log time %s, want %s", got, want)
	}
	if got, want := fast[0].Node, "::1"; got != want {
		t.Fatalf("fast.log node %q, want %q", got, want)
	}
}

func TestTranslateSuricataIDs(t *testing.T) {
	other := strings.Replace(suriAlertLine, `"signature_id":2100498`, `"signature_id":2100499`, 1)
	body := suriAlertLine + "\n" + suriAlertLine + "\n" + other + "\n"
	evs, err := TranslateSuricata("", []byte(body), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 3; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
	if got, want := evs[1].ID, evs[0].ID; got != want {
		t.Errorf("the same line twice: ids %q and %q", want, got)
	}
	if evs[2].ID == evs[0].ID {
		t.Errorf("two signatures share id %q", evs[0].ID)
	}
	if got, want := evs[0].Post.Thread, evs[1].Post.Thread; got != want {
		t.Errorf("repeats in threads %q and %q", got, want)
	}
	if evs[2].Post.Thread == evs[0].Post.Thread {
		t.Errorf("two signatures share thread %q", evs[0].Post.Thread)
	}
	if !strings.HasPrefix(evs[0].ID, "suricata:") {
		t.Errorf("id %q", evs[0].ID)
	}
	// Same line, another sensor: another event.
	evs2, err := TranslateSuricata("", []byte(suriAlertLine), "ids2")
	if err != nil {
		t.Fatal(err)
	}
	if evs2[0].ID == evs[0].ID {
		t.Errorf("two sensors share id %q", evs[0].ID)
	}
}

func TestTranslateSuricataEventTypes(t *testing.T) {
	const head = `{"timestamp":"2016-06-08T20:01:52.875791+0000","flow_id":841252990914572,"src_ip":"188.40.238.250","src_port":80,"dest_ip":"10.16.1.11","dest_port":59908,"proto":"TCP",`
	tests := []struct {
		name     string
		rest     string
		wantText string // "" for no post
		wantSev  Severity
	}{
		{"flow", `"event_type":"flow","flow":{"pkts_toserver":1}}`, "", ""},
		{"dns", `"event_type":"dns","dns":{"type":"answer"}}`, "", ""},
		{"stats", `"event_type":"stats","stats":{"uptime":10}}`, "", ""},
		{"unknown type", `"event_type":"quic","quic":{}}`, "", ""},
		{"fileinfo plain", `"event_type":"fileinfo","fileinfo":{"filename":"eicar.com","stored":false,"size":68}}`, "", ""},
		{"fileinfo stored", `"event_type":"fileinfo","fileinfo":{"filename":"eicar.com","stored":true,"file_id":3,"size":68}}`,
			"A file that crossed the network was kept for inspection, coming from 188.40.238.250", SeverityInfo},
		{"fileinfo flagged", `"event_type":"fileinfo","fileinfo":{"filename":"eicar.com","sid":[2000001],"stored":false,"size":68}}`,
			"A file flagged as suspicious crossed the network, coming from 188.40.238.250", SeverityWarning},
		{"anomaly", `"event_type":"anomaly","anomaly":{"type":"decode","event":"decoder.udp.pkt_too_small"}}`,
			"Malformed network packets were seen, coming from 188.40.238.250", SeverityInfo},
		{"drop", `"event_type":"drop","drop":{"len":60}}`,
			"Network traffic was blocked, coming from 188.40.238.250", SeverityInfo},
		{"drop with alert", `"event_type":"drop","drop":{"len":60},"alert":{"action":"blocked","gid":1,"signature_id":1,"rev":1,"signature":"x","category":"Attempted Administrator Privilege Gain","severity":1}}`,
			"An attempt to gain administrator access was blocked, coming from 188.40.238.250", SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateSuricata("", []byte(head+tt.rest), "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantText == "" {
				if len(evs) != 0 {
					t.Fatalf("%d events, want none: %+v", len(evs), evs[0].Post)
				}
				return
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			if got, want := evs[0].Post.Text, tt.wantText; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
			if got, want := evs[0].Post.Severity, tt.wantSev; got != want {
				t.Errorf("severity %s, want %s", got, want)
			}
			checkPlain(t, evs)
		})
	}
}

func TestTranslateSuricataBadInput(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		node     string
		wantLine int
		wantMsg  string
	}{
		{"not JSON", suriAlertLine + "\n\n{\"event_type\":", "", 3, "not a Suricata EVE record"},
		{"no event_type", `{"timestamp":"2021-01-27T01:28:11.488362+0100"}`, "", 1, "no event_type"},
		{"alert without alert", `{"event_type":"alert","dest_ip":"192.0.2.1"}`, "", 1, "without an alert section"},
		{"bad timestamp", strings.Replace(suriAlertLine, "2021-01-27T01", "2021-13-27T01", 1), "", 1, "timestamp"},
		{"wrong type", strings.Replace(suriAlertLine, `"src_port":80`, `"src_port":"eighty"`, 1), "", 1, "src_port"},
		{"not fast.log", suriAlertLine + "\nhello world", "", 2, "not an alert_fast line"},
		{"fast.log without addresses", `07/13/2016-22:42:07.573103  [**] [1:2100498:7] msg [**] [Priority: 2] {6}`, "", 1, "addresses"},
		{"no node", `{"event_type":"anomaly","anomaly":{"type":"decode","event":"x"}}`, "", 1, "pass ?node=NAME"},
		{"bad node argument", suriAlertLine, "a\nb", 0, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateSuricata("", []byte(tt.body), tt.node)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if evs != nil {
				t.Errorf("events with an error")
			}
			if got, want := pe.Source, SourceSuricata; got != want {
				t.Errorf("source %q, want %q", got, want)
			}
			if got, want := pe.Line, tt.wantLine; got != want {
				t.Errorf("line %d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(pe.Msg, tt.wantMsg) {
				t.Errorf("message %q lacks %q", pe.Msg, tt.wantMsg)
			}
		})
	}
}

func FuzzTranslateSuricata(f *testing.F) {
	idsSeeds(f,
		filepath.Join(sharedTestdata, "suricata/beats-eve-small.jsonl"),
		filepath.Join(sharedTestdata, "suricata/beats-eve-6.0-alert.jsonl"),
		filepath.Join(sharedTestdata, "suricata/suricata-verify-output-eve-fileinfo.eve.json"),
		filepath.Join(sharedTestdata, "suricata/docs-examples/eve-json-format.examples.jsonl"),
		filepath.Join(sharedTestdata, "snort/suricata-verify-http2-files.fast.log.head3"),
	)
	f.Add([]byte(`{"event_type":"alert","host":{"name":"s1"},"alert":{"signature_id":1,"severity":1},"src_ip":"fe80::1%eth0"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, node := range []string{"", "sensor1"} {
			idsCheck(t, SourceSuricata, func() ([]Event, error) {
				return TranslateSuricata("", body, node)
			})
		}
	})
}

// BenchmarkTranslateSuricataAlerts measures alert lines end to end; the
// target is 30,000 events a second.
func BenchmarkTranslateSuricataAlerts(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		sb.WriteString(strings.Replace(suriAlertLine, `"flow_id":1805461738637437`, fmt.Sprintf(`"flow_id":%d`, i), 1))
		sb.WriteByte('\n')
	}
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		evs, err := TranslateSuricata("", body, "")
		if err != nil || len(evs) != 1000 {
			b.Fatal(err, len(evs))
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
}
