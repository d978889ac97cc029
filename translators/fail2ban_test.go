package translators

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// f2bNotInput names the files in shared/testdata/fail2ban that fail2ban
// does not send.
var f2bNotInput = map[string]string{
	"fail2ban/action.d-social-webhook.conf": "the action that made the POSTs",
	"fail2ban/jail.local":                   "the jail configuration",
	"fail2ban/auth.log.input":               "sshd's log that fail2ban read",
	"fail2ban/webhook-posts.decoded.json":   "the POSTs, decoded for people",
}

// f2bContentType reads the Content-Type of a captured POST from its
// .headers.txt file.
func f2bContentType(t *testing.T, rel string) string {
	t.Helper()
	h := readShared(t, strings.TrimSuffix(rel, ".body")+".headers.txt")
	for _, line := range strings.Split(string(h), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			return mediaType(v)
		}
	}
	t.Fatalf("%s: no Content-Type", rel)
	return ""
}

func TestTranslateFail2banGolden(t *testing.T) {
	for _, rel := range idsSharedInputs(t, "fail2ban", f2bNotInput) {
		if strings.HasSuffix(rel, ".headers.txt") {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			ct, node := "", "web01.example.com"
			if strings.HasSuffix(rel, ".body") {
				ct, node = f2bContentType(t, rel), ""
			}
			evs, err := TranslateFail2ban(ct, readShared(t, rel), node)
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if err := idsInvariants(SourceFail2ban, evs, nil); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, rel, evs)
		})
	}
}

func TestTranslateFail2banForms(t *testing.T) {
	tests := []struct {
		name       string
		ct         string
		body       string
		node       string
		wantNode   string
		wantText   string
		wantSev    Severity
		wantOpens  bool
		wantCloses bool
		wantTime   time.Time
	}{
		{"ban", "application/x-www-form-urlencoded",
			"event=ban&jail=sshd&ip=203.0.113.7&failures=3&time=1795628984.0&bantime=8&host=vm&short_host=vm",
			"", "vm", "Blocked 203.0.113.7 from remote login for 8 seconds after 3 failed attempts", SeverityWarning, true, false,
			time.Date(2026, 11, 25, 17, 49, 44, 0, time.UTC)},
		{"unban ends when the ban was due to", "application/x-www-form-urlencoded",
			"event=unban&jail=sshd&ip=203.0.113.7&failures=3&time=1795628984.0&bantime=8&host=vm",
			"", "vm", "Lifted the block on 203.0.113.7 for remote login", SeverityOK, false, true,
			time.Date(2026, 11, 25, 17, 49, 52, 0, time.UTC)},
		{"no host: node argument", "",
			"event=ban&jail=nginx-http-auth&ip=198.51.100.23&failures=5&bantime=600",
			"web01", "web01", "Blocked 198.51.100.23 from the website for 10 minutes after 5 failed attempts", SeverityWarning, true, false, time.Time{}},
		{"banned for good", "",
			"event=ban&jail=postfix-sasl&ip=198.51.100.23&bantime=-1&host=mail01",
			"", "mail01", "Blocked 198.51.100.23 from e-mail for good after repeated failed attempts", SeverityWarning, true, false, time.Time{}},
		{"recidive", "",
			"event=ban&jail=recidive&ip=198.51.100.23&failures=5&bantime=604800&host=mail01",
			"", "mail01", "Blocked 198.51.100.23 from every service for 1 week after 5 failed attempts", SeverityWarning, true, false, time.Time{}},
		{"restored", "",
			"event=ban&jail=sshd&ip=203.0.113.7&restored=1&bantime=600&host=vm",
			"", "vm", "Blocked 203.0.113.7 from remote login again after a restart", SeverityWarning, true, false, time.Time{}},
		{"start", "application/x-www-form-urlencoded", "event=start&jail=sshd&host=vm",
			"", "vm", "Started protecting remote login from repeated failed attempts", SeverityInfo, false, false, time.Time{}},
		{"stop", "application/x-www-form-urlencoded", "event=stop&jail=vsftpd&host=vm",
			"", "vm", "Stopped protecting file transfer from repeated failed attempts", SeverityInfo, false, false, time.Time{}},
		{"json", "application/json", `{"event":"ban","jail":"sshd","ip":"2001:db8::7","failures":3,"bantime":3600,"time":1795628984,"fq-hostname":"web01.example.com"}`,
			"", "web01.example.com", "Blocked 2001:db8::7 from remote login for 1 hour after 3 failed attempts", SeverityWarning, true, false,
			time.Date(2026, 11, 25, 17, 49, 44, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateFail2ban(tt.ct, []byte(tt.body), tt.node)
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
			if got, want := ev.Post.Severity, tt.wantSev; got != want {
				t.Errorf("severity %s, want %s", got, want)
			}
			if got, want := ev.Post.Opens, tt.wantOpens; got != want {
				t.Errorf("opens %v, want %v", got, want)
			}
			if got, want := ev.Post.Closes, tt.wantCloses; got != want {
				t.Errorf("closes %v, want %v", got, want)
			}
			if got, want := ev.Time, tt.wantTime; !got.Equal(want) {
				t.Errorf("time %s, want %s", got, want)
			}
			checkPlain(t, evs)
		})
	}
}

// TestTranslateFail2banThread checks that an unban closes the thread its
// ban opened, in both forms.
func TestTranslateFail2banThread(t *testing.T) {
	one := func(ct, body, node string) Event {
		t.Helper()
		evs, err := TranslateFail2ban(ct, []byte(body), node)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		return evs[0]
	}
	ban := one("", "event=ban&jail=sshd&ip=203.0.113.7&time=1795628984.0&bantime=8&host=web01", "")
	unban := one("", "event=unban&jail=sshd&ip=203.0.113.7&time=1795628984.0&bantime=8&host=web01", "")
	if got, want := unban.Post.Thread, ban.Post.Thread; got != want || got == "" {
		t.Errorf("unban thread %q, ban thread %q", got, want)
	}
	if ban.ID == unban.ID {
		t.Errorf("ban and unban share id %q", ban.ID)
	}
	logBan := one("", "2026-11-25 17:49:44,787 fail2ban.actions        [26147]: NOTICE  [sshd] Ban 203.0.113.7", "web01")
	logUnban := one("", "2026-11-25 17:49:52,008 fail2ban.actions        [26147]: NOTICE  [sshd] Unban 203.0.113.7", "web01")
	if got, want := logBan.Post.Thread, ban.Post.Thread; got != want {
		t.Errorf("log ban thread %q, form ban thread %q", got, want)
	}
	if got, want := logUnban.Post.Thread, logBan.Post.Thread; got != want {
		t.Errorf("log unban thread %q, log ban thread %q", got, want)
	}
	other := one("", "event=ban&jail=sshd&ip=198.51.100.23&host=web01", "")
	if other.Post.Thread == ban.Post.Thread {
		t.Errorf("two addresses share thread %q", ban.Post.Thread)
	}
}

func TestTranslateFail2banLog(t *testing.T) {
	evs, err := TranslateFail2ban("text/plain", readShared(t, "fail2ban/fail2ban.log"), "web01")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Post.Text)
	}
	want := []string{
		"Started protecting remote login from repeated failed attempts",
		"Blocked 203.0.113.7 from remote login after repeated failed attempts",
		"Lifted the block on 203.0.113.7 for remote login",
		"Blocked 203.0.113.7 from remote login after repeated failed attempts",
		"Lifted the block on 203.0.113.7 for remote login",
		"Stopped protecting remote login from repeated failed attempts",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Fatalf("got\n%s\nwant\n%s", g, w)
	}
	if got, want := evs[1].Time, time.Date(2026, 11, 25, 17, 49, 44, 787000000, time.UTC); !got.Equal(want) {
		t.Errorf("time %s, want %s", got, want)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.ID] {
			t.Errorf("id %q twice", ev.ID)
		}
		seen[ev.ID] = true
	}
}

func TestTranslateFail2banBadInput(t *testing.T) {
	const logLine = "2026-11-25 17:49:44,787 fail2ban.actions        [26147]: NOTICE  [sshd] Ban 203.0.113.7"
	tests := []struct {
		name     string
		ct       string
		body     string
		node     string
		wantLine int
		wantMsg  string
	}{
		{"log without node", "", logLine, "", 1, "fail2ban log lines name no server: pass ?node=NAME"},
		{"log, bad line", "", logLine + "\n\nnot a log line", "web01", 3, "not a fail2ban.log line"},
		{"log, another logger", "", "2026-11-25 17:49:44,787 sshd[1]: Failed password", "web01", 1, "not fail2ban's"},
		{"form without event", "application/x-www-form-urlencoded", "jail=sshd&host=vm", "", 0, "no event"},
		{"form, unknown event", "application/x-www-form-urlencoded", "event=reload&jail=sshd&host=vm", "", 0, "not one of start, stop, ban, unban"},
		{"form, ban without ip", "application/x-www-form-urlencoded", "event=ban&jail=sshd&host=vm", "", 0, "without an ip"},
		{"form without host or node", "application/x-www-form-urlencoded", "event=ban&jail=sshd&ip=203.0.113.7", "", 0, "pass ?node=NAME"},
		{"form, bad time", "application/x-www-form-urlencoded", "event=ban&jail=sshd&ip=203.0.113.7&host=vm&time=now", "", 0, "time"},
		{"form, bad escape", "application/x-www-form-urlencoded", "event=ban&jail=%zz", "", 0, "not a form"},
		{"json, bad", "application/json", `{"event":`, "", 0, "JSON object"},
		{"neither", "", "hello world", "", 1, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateFail2ban(tt.ct, []byte(tt.body), tt.node)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if evs != nil {
				t.Errorf("events with an error")
			}
			if got, want := pe.Source, SourceFail2ban; got != want {
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

func FuzzTranslateFail2ban(f *testing.F) {
	idsSeeds(f, filepath.Join(sharedTestdata, "fail2ban/fail2ban.log"))
	for _, n := range []string{"001", "002", "003", "004", "005", "006"} {
		idsSeeds(f, filepath.Join(sharedTestdata, "fail2ban/http/req"+n+".body"))
	}
	f.Add([]byte(`{"event":"ban","jail":"sshd","ip":"2001:db8::7","failures":3,"bantime":3600,"host":"web01"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"", "application/x-www-form-urlencoded", "application/json"} {
			for _, node := range []string{"", "web01"} {
				idsCheck(t, SourceFail2ban, func() ([]Event, error) {
					return TranslateFail2ban(ct, body, node)
				})
			}
		}
	})
}
