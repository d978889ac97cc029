package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// idsSharedInputs lists the files under shared testdata folder dir (paths
// relative to the shared folder), except those skip names: files there that
// are not translator input. A new file is an input until said otherwise, so
// it fails its golden test until reviewed.
func idsSharedInputs(t *testing.T, dir string, skip map[string]string) []string {
	t.Helper()
	root := filepath.Join(sharedTestdata, dir)
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(sharedTestdata, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := skip[rel]; !ok {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list shared testdata: %v", err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no inputs under %s", root)
	}
	return out
}

// idsInvariants is what every result of an IDS translator must satisfy,
// whatever the input: an error is a *ParseError of the source with no
// events; events are complete, plain and marshal to JSON.
func idsInvariants(source string, evs []Event, err error) error {
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return fmt.Errorf("error %v (%T) is not a *ParseError", err, err)
		}
		if pe.Source != source || pe.Line < 0 || pe.Msg == "" {
			return fmt.Errorf("parse error %+v: want source %s, a line ≥ 0 and a message", pe, source)
		}
		if !utf8.ValidString(pe.Msg) {
			return fmt.Errorf("parse error message %q is not UTF-8", pe.Msg)
		}
		if evs != nil {
			return fmt.Errorf("%d events returned with an error", len(evs))
		}
		return nil
	}
	for i, ev := range evs {
		if !strings.HasPrefix(ev.ID, source+":") || len(ev.ID) > idsMaxID || !idsPrintable(ev.ID) {
			return fmt.Errorf("event %d: id %q", i, ev.ID)
		}
		if ev.Source != source {
			return fmt.Errorf("event %d: source %q", i, ev.Source)
		}
		if ev.Node == "" || len(ev.Node) > 255 || !idsPrintable(ev.Node) || strings.TrimSpace(ev.Node) != ev.Node {
			return fmt.Errorf("event %d: node %q", i, ev.Node)
		}
		p := ev.Post
		if p == nil {
			return fmt.Errorf("event %d: no post", i)
		}
		if p.Text == "" || strings.ContainsAny(p.Text, "<>{}[]#\"'\\\n\r\t") || !utf8.ValidString(p.Text) {
			return fmt.Errorf("event %d: text %q", i, p.Text)
		}
		if n := utf8.RuneCountInString(Sentence(p.Text, p.Tags)); n > idsMaxPlain {
			return fmt.Errorf("event %d: %q with tags is %d characters", i, p.Text, n)
		}
		if !p.Severity.Valid() {
			return fmt.Errorf("event %d: severity %q", i, p.Severity)
		}
		if len(p.Tags) < 3 || p.Tags[1] != "security" || p.Tags[2] != source {
			return fmt.Errorf("event %d: tags %v", i, p.Tags)
		}
		for _, tag := range p.Tags {
			if Tag(tag) != tag {
				return fmt.Errorf("event %d: tag %q is not normalized", i, tag)
			}
		}
		if len(p.Thread) > idsMaxID {
			return fmt.Errorf("event %d: thread %q", i, p.Thread)
		}
		if _, err := json.Marshal(ev); err != nil {
			return fmt.Errorf("event %d does not marshal: %v", i, err)
		}
	}
	return nil
}

// idsCheck runs a translator twice on the same input and checks the
// invariants and that both runs agree.
func idsCheck(t *testing.T, source string, run func() ([]Event, error)) {
	t.Helper()
	evs, err := run()
	if err := idsInvariants(source, evs, err); err != nil {
		t.Fatal(err)
	}
	again, err2 := run()
	if (err == nil) != (err2 == nil) {
		t.Fatalf("second run: error %v, first run: %v", err2, err)
	}
	a, _ := json.Marshal(evs)
	b, _ := json.Marshal(again)
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs on the same input differ:\n%s\n%s", a, b)
	}
}

// idsSeeds adds every line of the given files (and each whole file) to a
// fuzz corpus.
func idsSeeds(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(b)
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				f.Add(append([]byte(nil), l...))
			}
		}
	}
}

// idsDetailsText is an event's Details as JSON without HTML escaping, to
// look for what an attacker sent.
func idsDetailsText(t *testing.T, evs []Event) string {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ev.Post.Details); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestIDSKeepsMarkupInDetails(t *testing.T) {
	const (
		script = `<script>alert(1)</script>`
		img    = `<img src=x onerror=alert(1)>`
	)
	// Suricata's JSON writer escapes "/" in strings.
	jsonScript := strings.ReplaceAll(script, "/", `\/`)
	tests := []struct {
		name string
		run  func() ([]Event, error)
	}{
		{"suricata eve", func() ([]Event, error) {
			return TranslateSuricata("", []byte(`{"timestamp":"2024-03-01T10:00:00.000000+0000","flow_id":1,"event_type":"alert","src_ip":"198.51.100.7","src_port":4444,"dest_ip":"192.0.2.10","dest_port":80,"proto":"TCP","alert":{"action":"blocked","gid":1,"signature_id":2000001,"rev":1,"signature":"ET WEB_SERVER `+jsonScript+`","category":"`+img+`","severity":1},"http":{"hostname":"www.example.com","url":"\/?q=`+jsonScript+`","http_user_agent":"`+img+`"},"payload_printable":"GET \/?q=`+jsonScript+` `+img+`"}`), "")
		}},
		{"suricata fast", func() ([]Event, error) {
			return TranslateSuricata("", []byte(`03/01/2024-10:00:00.000000  [**] [1:2000001:1] `+script+` `+img+` [**] [Classification: `+img+`] [Priority: 1] {TCP} 198.51.100.7:4444 -> 192.0.2.10:80`), "web01")
		}},
		{"snort json", func() ([]Event, error) {
			return TranslateSnort("", []byte(`{ "timestamp" : "03/01-10:00:00.000000", "msg" : "`+script+`", "class" : "`+img+`", "rule" : "1:1000001:1", "src_ap" : "198.51.100.7:4444", "dst_ap" : "192.0.2.10:80", "action" : "`+img+`", "proto" : "TCP" }`), "web01")
		}},
		{"wazuh", func() ([]Event, error) {
			return TranslateWazuh("", []byte(`{"timestamp":"2024-03-01T10:00:00.000+0000","rule":{"level":12,"description":"`+script+`","id":"31106","groups":["web","accesslog","attack"]},"agent":{"id":"001","name":"web01","ip":"192.0.2.10"},"id":"1709287200.1","full_log":"GET /?q=`+script+` `+img+`","data":{"srcip":"`+img+`","url":"/?q=`+script+`"}}`))
		}},
		{"ossec", func() ([]Event, error) {
			return TranslateOSSEC("", []byte("** Alert 1709287200.1: - web,accesslog,attack,\n2024 Mar 01 10:00:00 (web01) 192.0.2.10->/var/log/nginx/access.log\nRule: 31106 (level 12) -> '"+script+"'\nSrc IP: "+img+"\nGET /?q="+script+" "+img+"\n"))
		}},
		{"fail2ban", func() ([]Event, error) {
			return TranslateFail2ban("application/x-www-form-urlencoded", []byte("event=ban&jail="+script+"&ip="+img+"&failures=3&bantime=600&host=web01&matches="+img), "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			text := evs[0].Post.Text
			for _, bad := range []string{"<", ">", "script", "onerror", "alert(1)", "img"} {
				if strings.Contains(text, bad) {
					t.Errorf("text %q holds %q", text, bad)
				}
			}
			det := idsDetailsText(t, evs)
			for _, want := range []string{script, img} {
				if !strings.Contains(det, want) {
					t.Errorf("details lost %q: %s", want, det)
				}
			}
			checkPlain(t, evs)
		})
	}
}

func TestIDSParseTime(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"2021-01-27T01:28:11.488362+0100", "2021-01-27T00:28:11.488362Z"},
		{"2018-07-05T15:01:09.820360-0400", "2018-07-05T19:01:09.82036Z"},
		{"2020-04-17T00:17:53.159+0000", "2020-04-17T00:17:53.159Z"},
		{"2026-01-16T00:00:40Z", "2026-01-16T00:00:40Z"},
		{"2009-11-24T21:27:09.534255", "2009-11-24T21:27:09.534255Z"},
		{"2024-03-01T10:00:00+01:00", "2024-03-01T09:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := idsParseTime(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := got.Format("2006-01-02T15:04:05.999999999Z07:00"), tt.want; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
	if _, err := idsParseTime("yesterday"); err == nil {
		t.Fatal("no error for a time that is not one")
	}
}

func TestIDSPrioritySeverity(t *testing.T) {
	tests := []struct {
		prio int
		want Severity
		tag  string
	}{
		{1, SeverityCritical, "critical"},
		{2, SeverityWarning, "warning"},
		{3, SeverityInfo, "notice"},
		{4, SeverityInfo, "notice"},
		{0, SeverityWarning, "warning"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.prio), func(t *testing.T) {
			if got, want := idsPrioritySeverity(tt.prio), tt.want; got != want {
				t.Fatalf("severity %s, want %s", got, want)
			}
			if got, want := idsSeverityTag(tt.want), tt.tag; got != want {
				t.Fatalf("tag %s, want %s", got, want)
			}
		})
	}
}

func TestIDSLevelSeverity(t *testing.T) {
	tests := []struct {
		level int
		want  Severity
	}{
		{0, SeverityInfo}, {3, SeverityInfo}, {6, SeverityInfo},
		{7, SeverityWarning}, {10, SeverityWarning}, {11, SeverityWarning},
		{12, SeverityCritical}, {15, SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.level), func(t *testing.T) {
			if got, want := idsLevelSeverity(tt.level), tt.want; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

func TestIDSIDIsCapped(t *testing.T) {
	long := strings.Repeat("x", 300)
	id := idsID(SourceSuricata, long, "1")
	if got, want := id, idsID(SourceSuricata, long, "1"); got != want {
		t.Fatalf("not stable: %q, %q", got, want)
	}
	if len(id) > idsMaxID || !strings.HasPrefix(id, "suricata:") {
		t.Fatalf("id %q", id)
	}
	if got, other := id, idsID(SourceSuricata, long, "2"); got == other {
		t.Fatalf("two different keys share id %q", got)
	}
	if got, want := idsID(SourceSuricata, "a\x00b"), idsID(SourceSuricata, "a\x00b"); got != want || strings.ContainsRune(got, 0) {
		t.Fatalf("control characters: %q", got)
	}
}

// TestIDSLongAddressesFit checks that the longest IPv6 address still leaves
// a sentence short enough: it is dropped from the sentence when needed.
func TestIDSLongAddressesFit(t *testing.T) {
	const v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
	tests := []struct {
		name   string
		source string
		run    func() ([]Event, error)
	}{
		{"wazuh", SourceWazuh, func() ([]Event, error) {
			return TranslateWazuh("", []byte(`{"rule":{"level":15,"id":"5710","groups":["sshd","invalid_login","authentication_failed"]},"agent":{"name":"web01"},"data":{"srcip":"`+v6+`"}}`))
		}},
		{"ossec", SourceOSSEC, func() ([]Event, error) {
			return TranslateOSSEC("", []byte("** Alert 1709287200.1: - sshd,invalid_login,\n2024 Mar 01 10:00:00 web01->/var/log/secure\nRule: 5710 (level 15) -> 'x'\nSrc IP: "+v6+"\nlog\n"))
		}},
		{"fail2ban", SourceFail2ban, func() ([]Event, error) {
			return TranslateFail2ban("", []byte("event=ban&jail=asterisk-iptables&ip="+v6+"&failures=999999&bantime=86399&host=pbx01"), "")
		}},
		{"suricata", SourceSuricata, func() ([]Event, error) {
			return TranslateSuricata("", []byte(`{"event_type":"alert","src_ip":"`+v6+`","dest_ip":"2001:db8::1","alert":{"signature_id":1,"category":"A computer looking up its public address","severity":1}}`+"\n"+
				`{"event_type":"alert","src_ip":"`+v6+`","dest_ip":"2001:db8::1","alert":{"signature_id":2,"category":"Device Retrieving External IP Address Detected","severity":1,"action":"blocked"}}`), "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.run()
			if err := idsInvariants(tt.source, evs, err); err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				t.Fatal("no events")
			}
			checkPlain(t, evs)
		})
	}
}

// TestIDSErrorsAreUTF8 pins a fuzzer finding: an error quoting bytes that
// are not UTF-8 must still be UTF-8.
func TestIDSErrorsAreUTF8(t *testing.T) {
	tests := []struct {
		name string
		run  func() ([]Event, error)
	}{
		{"ossec level", func() ([]Event, error) { return TranslateOSSEC("", []byte("{\"rule\":{\"level\":\"\xff\"}}")) }},
		{"wazuh level", func() ([]Event, error) { return TranslateWazuh("", []byte("{\"rule\":{\"level\":\"\xff\"}}")) }},
		{"suricata time", func() ([]Event, error) {
			return TranslateSuricata("", []byte("{\"event_type\":\"alert\",\"timestamp\":\"\xff\",\"alert\":{}}"), "s1")
		}},
		{"snort rule", func() ([]Event, error) { return TranslateSnort("", []byte("{\"rule\":\"\xff\"}"), "s1") }},
		{"fail2ban event", func() ([]Event, error) { return TranslateFail2ban("", []byte("event=%ff&host=x"), "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error %q is not UTF-8", err)
			}
		})
	}
}
