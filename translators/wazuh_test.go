package translators

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTranslateWazuhGolden(t *testing.T) {
	for _, rel := range idsSharedInputs(t, "wazuh", nil) {
		t.Run(rel, func(t *testing.T) {
			evs, err := TranslateWazuh("application/json", readShared(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if err := idsInvariants(SourceWazuh, evs, nil); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, rel, evs)
		})
	}
}

const wazuhLine = `{"timestamp":"2020-04-17T00:17:53.159+0000","rule":{"level":5,"description":"sshd: authentication failed.","id":"5716","firedtimes":72,"mail":false,"groups":["syslog","sshd","authentication_failed"]},"agent":{"id":"001","name":"Debian","ip":"10.0.1.50"},"manager":{"name":"wazuh-manager"},"id":"1587082673.77856","full_log":"Apr 17 00:17:52 ip-10-0-1-50 sshd[5330]: Failed password for root from 49.88.112.73 port 36679 ssh2","predecoder":{"program_name":"sshd","timestamp":"Apr 17 00:17:52","hostname":"ip-10-0-1-50"},"decoder":{"parent":"sshd","name":"sshd"},"data":{"srcip":"49.88.112.73","srcport":"36679","dstuser":"root"},"location":"/var/log/auth.log"}`

func TestTranslateWazuh(t *testing.T) {
	level := func(l string) string { return strings.Replace(wazuhLine, `"level":5`, `"level":`+l, 1) }
	groups := func(g string) string {
		return strings.Replace(wazuhLine, `["syslog","sshd","authentication_failed"]`, g, 1)
	}
	tests := []struct {
		name     string
		body     string
		wantText string
		wantTags string
		wantSev  Severity
	}{
		{"auth failed", wazuhLine,
			"Someone at 49.88.112.73 failed to log in to this server", "notice security wazuh bruteforce", SeverityInfo},
		{"level 7", level("7"),
			"Someone at 49.88.112.73 failed to log in to this server", "warning security wazuh bruteforce", SeverityWarning},
		{"level 11", level("11"),
			"Someone at 49.88.112.73 failed to log in to this server", "warning security wazuh bruteforce", SeverityWarning},
		{"level 12", level("12"),
			"Someone at 49.88.112.73 failed to log in to this server", "critical security wazuh bruteforce", SeverityCritical},
		{"level as string", level(`"13"`),
			"Someone at 49.88.112.73 failed to log in to this server", "critical security wazuh bruteforce", SeverityCritical},
		{"rule id as number", strings.Replace(wazuhLine, `"id":"5716"`, `"id":5716`, 1),
			"Someone at 49.88.112.73 failed to log in to this server", "notice security wazuh bruteforce", SeverityInfo},
		{"brute force", groups(`["syslog","sshd","authentication_failures"]`),
			"Someone at 49.88.112.73 tried many times to log in to this server by guessing passwords", "notice security wazuh bruteforce", SeverityInfo},
		{"file changed", groups(`["ossec","syscheck","syscheck_entry_modified","syscheck_file"]`),
			"A watched file on this server was changed", "notice security wazuh integrity", SeverityInfo},
		{"rootcheck", groups(`["ossec","rootcheck"]`),
			"A check for hidden malicious software found something suspicious on this server", "notice security wazuh malware", SeverityInfo},
		{"unknown group", groups(`["local"]`),
			"A security alert was raised on this server", "notice security wazuh", SeverityInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateWazuh("", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			ev := evs[0]
			if got, want := ev.Node, "Debian"; got != want {
				t.Errorf("node %q, want %q", got, want)
			}
			if got, want := strings.Join(ev.Aliases, " "), "10.0.1.50"; got != want {
				t.Errorf("aliases %q, want %q", got, want)
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
			if got, want := ev.Time, time.Date(2020, 4, 17, 0, 17, 53, 159000000, time.UTC); !got.Equal(want) {
				t.Errorf("time %s, want %s", got, want)
			}
			if got, want := ev.ID, "wazuh:Debian:1587082673.77856"; got != want {
				t.Errorf("id %q, want %q", got, want)
			}
			checkPlain(t, evs)
		})
	}
}

func TestTranslateWazuhAlertsLog(t *testing.T) {
	body := `** Alert 1571166477.30198: - syslog,sshd,invalid_login,authentication_failed,pci_dss_10.2.4,pci_dss_10.2.5,pci_dss_10.6.1,gpg13_7.1,gdpr_IV_35.7.d,gdpr_IV_32.2,hipaa_164.312.b,nist_800_53_AU.14,nist_800_53_AC.7,nist_800_53_AU.6,
2019 Oct 15 21:09:56 (agent) any->/var/log/secure
Rule: 5710 (level 5) -> 'sshd: Attempt to login using a non-existent user'
Src IP: 203.0.113.9
Oct 15 21:07:56 linux-agent sshd[29205]: Invalid user blimey from 203.0.113.9 port 48928
`
	evs, err := TranslateWazuh("", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
	if got, want := evs[0].Source, SourceWazuh; got != want {
		t.Errorf("source %q, want %q", got, want)
	}
	if got, want := evs[0].Node, "agent"; got != want {
		t.Errorf("node %q, want %q", got, want)
	}
	if len(evs[0].Aliases) != 0 {
		t.Errorf("aliases %v: a dynamic agent (any) has no fixed address", evs[0].Aliases)
	}
	if got, want := evs[0].Post.Text, "Someone at 203.0.113.9 tried to log in to this server with a user name that does not exist"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	checkPlain(t, evs)
}

func TestTranslateWazuhBadInput(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantLine int
		wantMsg  string
	}{
		{"not JSON", wazuhLine + "\n" + `{"rule":`, 2, "not a Wazuh alert"},
		{"not an object", "\n" + `["a"]`, 2, "JSON object"},
		{"neither layout", `{"foo":1}`, 1, "no rule.level"},
		{"no agent", `{"rule":{"level":3,"id":"1"}}`, 1, "names no agent"},
		{"bad level", strings.Replace(wazuhLine, `"level":5`, `"level":"high"`, 1), 1, "number"},
		{"bad timestamp", strings.Replace(wazuhLine, `2020-04-17T00`, `2020-04-17X00`, 1), 1, "timestamp"},
		{"alerts.log without Rule", "** Alert 1571166477.30198: - syslog,\n2019 Oct 15 21:09:56 web01->/var/log/secure\nOct 15 log line\n", 3, "Rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateWazuh("", []byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if evs != nil {
				t.Errorf("events with an error")
			}
			if got, want := pe.Source, SourceWazuh; got != want {
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

func FuzzTranslateWazuh(f *testing.F) {
	idsSeeds(f,
		filepath.Join(sharedTestdata, "wazuh/wazuh-4x-alerts.from-wazuh-dashboard-plugins.jsonl"),
		filepath.Join(sharedTestdata, "wazuh/wazuh-5.0-ecs-rootcheck-alert.json"),
	)
	f.Add([]byte("** Alert 1571166477.30198: - syslog,sshd,\n2019 Oct 15 21:09:56 (agent) any->/var/log/secure\nRule: 5710 (level 5) -> 'x'\nSrc IP: 203.0.113.9\nlog\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		idsCheck(t, SourceWazuh, func() ([]Event, error) {
			return TranslateWazuh("", body)
		})
	})
}
