package translators

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTranslateOSSECGolden(t *testing.T) {
	for _, name := range []string{"alerts.log", "alerts.json"} {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "ossec", name))
			if err != nil {
				t.Fatal(err)
			}
			evs, err := TranslateOSSEC("", body)
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if err := idsInvariants(SourceOSSEC, evs, nil); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "ossec/"+name, evs)
		})
	}
}

// TestTranslateOSSECBothForms checks that an alert reads the same from
// alerts.log and alerts.json.
func TestTranslateOSSECBothForms(t *testing.T) {
	read := func(name string) []Event {
		body, err := os.ReadFile(filepath.Join("testdata", "ossec", name))
		if err != nil {
			t.Fatal(err)
		}
		evs, err := TranslateOSSEC("", body)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	byID := map[string]Event{}
	for _, ev := range read("alerts.log") {
		byID[ev.ID] = ev
	}
	for _, j := range read("alerts.json") {
		t.Run(j.ID, func(t *testing.T) {
			l, ok := byID[j.ID]
			if !ok {
				t.Fatalf("alerts.log has no alert %s", j.ID)
			}
			if got, want := j.Node, l.Node; got != want {
				t.Errorf("node %q, alerts.log says %q", got, want)
			}
			if got, want := j.Time, l.Time; !got.Equal(want) {
				t.Errorf("time %s, alerts.log says %s", got, want)
			}
			if got, want := j.Post.Text, l.Post.Text; got != want {
				t.Errorf("text %q, alerts.log says %q", got, want)
			}
			if got, want := j.Post.Severity, l.Post.Severity; got != want {
				t.Errorf("severity %s, alerts.log says %s", got, want)
			}
			if got, want := j.Post.Thread, l.Post.Thread; got != want {
				t.Errorf("thread %q, alerts.log says %q", got, want)
			}
			if got, want := strings.Join(j.Aliases, " "), strings.Join(l.Aliases, " "); got != want {
				t.Errorf("aliases %q, alerts.log says %q", got, want)
			}
		})
	}
}

func TestTranslateOSSEC(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantNode  string
		wantAlias string
		wantText  string
		wantSev   Severity
	}{
		{"local host", "** Alert 1510376401.0: - syslog,errors,\n2017 Nov 11 00:00:01 ix->/var/log/messages\nRule: 1005 (level 5) -> 'Syslogd restarted.'\nNov 11 00:00:01 ix syslogd[72090]: restart\n",
			"ix", "", "An error was logged on this server", SeverityInfo},
		{"agent", "** Alert 1510376417.172: - syslog,smtpd,\n2017 Nov 11 00:00:17 (junction) 192.168.17.17->/var/log/maillog\nRule: 53508 (level 5) -> 'Server TLS certificate verification failed.'\nNov 11 00:00:16 junction smtpd[86532]: smtp-out: Server certificate verification failed on session 99fc1afc58067419\n",
			"junction", "192.168.17.17", "A security alert was raised on this server", SeverityInfo},
		{"mail flag, user line", "** Alert 1510376428.465: mail  - syslog,sudo\n2017 Nov 11 00:00:28 ubnt->/var/log/syslog-ng/messages\nRule: 5402 (level 3) -> 'Successful sudo to ROOT executed'\nUser: root\nNov  5 15:35:03 ubnt sudo:     root : TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/usr/bin/vtysh.pl -c show ip route summary json\n",
			"ubnt", "", "Someone used administrator rights on this server", SeverityInfo},
		{"json, classic", `{"rule":{"level":3,"comment":"Login session opened.","sidid":5501,"group":"pam,syslog,authentication_success,"},"id":"1510376428.758","TimeStamp":1510376428000,"decoder":"pam","location":"/var/log/syslog-ng/messages","full_log":"Nov  5 15:35:03 ubnt sudo: pam_unix(sudo:session): session opened for user root by (uid=0)","hostname":"ubnt","program_name":"sudo"}`,
			"ubnt", "", "Someone logged in to this server", SeverityInfo},
		{"json, agent in hostname", `{"rule":{"level":5,"comment":"Server TLS certificate verification failed.","sidid":53508,"group":"syslog,smtpd,"},"id":"1510376417.172","TimeStamp":1510376417000,"decoder":"smtpd","location":"(junction) 192.168.17.17->/var/log/maillog","full_log":"x","hostname":"(junction) 192.168.17.17->/var/log/maillog","program_name":"smtpd"}`,
			"junction", "192.168.17.17", "A security alert was raised on this server", SeverityInfo},
		{"json, documented newer layout", `{"timestamp":"2026-06-28T12:00:00.000+0000","rule":{"level":5,"description":"SSHD authentication success.","id":"5715","groups":["syslog","sshd","authentication_success"]},"agent":{"id":"001","name":"agent01"},"manager":{"name":"ossec-manager"},"id":"1234567890.12345","full_log":"Jun 28 12:00:00 agent01 sshd[1234]: Accepted publickey for user","decoder":{"name":"sshd"},"location":"/var/log/auth.log"}`,
			"agent01", "", "Someone logged in to this server", SeverityInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateOSSEC("", []byte(tt.body))
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
			if got, want := strings.Join(ev.Aliases, " "), tt.wantAlias; got != want {
				t.Errorf("aliases %q, want %q", got, want)
			}
			if got, want := ev.Post.Text, tt.wantText; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
			if got, want := ev.Post.Severity, tt.wantSev; got != want {
				t.Errorf("severity %s, want %s", got, want)
			}
			if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
				t.Errorf("time %s", ev.Time)
			}
			checkPlain(t, evs)
		})
	}
}

func TestTranslateOSSECBadInput(t *testing.T) {
	const good = "** Alert 1510376401.0: - syslog,errors,\n2017 Nov 11 00:00:01 ix->/var/log/messages\nRule: 1005 (level 5) -> 'Syslogd restarted.'\nNov 11 00:00:01 ix syslogd[72090]: restart\n\n"
	tests := []struct {
		name     string
		body     string
		wantLine int
		wantMsg  string
	}{
		{"text before the first block", "hello\n" + good, 1, "neither an alerts.json object"},
		{"bad alert id", "** Alert soon: - syslog,\n2017 Nov 11 00:00:01 ix->/var/log/messages\nRule: 1 (level 5) -> 'x'\n", 1, "alert id"},
		{"no groups", "** Alert 1510376401.0: syslog\n2017 Nov 11 00:00:01 ix->/var/log/messages\nRule: 1 (level 5) -> 'x'\n", 1, "groups"},
		{"bad date", good + "** Alert 1510376402.0: - syslog,\n2017 Nov 41 00:00:01 ix->/var/log/messages\nRule: 1 (level 5) -> 'x'\n", 7, "date"},
		{"no Rule line", good + "** Alert 1510376402.0: - syslog,\n2017 Nov 11 00:00:01 ix->/var/log/messages\nNov 11 log\n", 8, "Rule"},
		{"level out of range", good + "** Alert 1510376402.0: - syslog,\n2017 Nov 11 00:00:01 ix->/var/log/messages\nRule: 1 (level 99) -> 'x'\n", 8, "level"},
		{"only the header", good + "** Alert 1510376402.0: - syslog,\n", 6, "date line"},
		{"no host", "** Alert 1510376401.0: - syslog,\n2017 Nov 11 00:00:01 /var/log/messages\nRule: 1 (level 5) -> 'x'\n", 1, "names no agent"},
		{"json without rule", `{"id":"1.2"}`, 1, "no rule.sidid"},
		{"json, bad TimeStamp", `{"rule":{"sidid":1},"id":"1.2","TimeStamp":-5,"hostname":"ix"}`, 1, "TimeStamp"},
		{"json, bad JSON", `{"rule":{"sidid":1},`, 1, "not an OSSEC alerts.json object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateOSSEC("", []byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if evs != nil {
				t.Errorf("events with an error")
			}
			if got, want := pe.Source, SourceOSSEC; got != want {
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

func FuzzTranslateOSSEC(f *testing.F) {
	idsSeeds(f, filepath.Join("testdata", "ossec", "alerts.json"))
	b, err := os.ReadFile(filepath.Join("testdata", "ossec", "alerts.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, block := range strings.SplitAfter(string(b), "\n\n") {
		f.Add([]byte(block))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		idsCheck(t, SourceOSSEC, func() ([]Event, error) {
			return TranslateOSSEC("", body)
		})
	})
}
