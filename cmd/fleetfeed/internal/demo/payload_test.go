package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"fleetfeed/translators"
)

// testNow is a fixed time for the builders.
var testNow = time.Date(2026, 11, 25, 17, 50, 0, 0, time.UTC)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// translate feeds p to the real translators as the ingest endpoint does.
func translate(t *testing.T, p Payload) []translators.Event {
	t.Helper()
	evs, err := translators.Translate(translators.Input{Source: p.Source, ContentType: p.ContentType, Body: p.Body})
	if err != nil {
		t.Fatalf("translate %s payload for %s: %v\n%s", p.Source, p.Node, err, clip(p.Body))
	}
	return evs
}

// translateOne is translate for a payload that must give one event.
func translateOne(t *testing.T, p Payload) translators.Event {
	t.Helper()
	evs := translate(t, p)
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%s payload for %s gave %d events, want %d", p.Source, p.Node, got, want)
	}
	return evs[0]
}

func clip(b []byte) string {
	if len(b) > 3000 {
		return string(b[:3000]) + "…"
	}
	return string(b)
}

// server returns the first server of a role in the default fleet.
func server(t *testing.T, role string) Server {
	t.Helper()
	for _, s := range NewFleet(DefaultSize, 1) {
		if s.Role == role {
			return s
		}
	}
	t.Fatalf("no %s server", role)
	return Server{}
}

func hasTag(d *translators.Draft, tag string) bool {
	return d != nil && slices.Contains(d.Tags, tag)
}

// checkSentence holds a post to the design's rule: one sentence under
// MaxSentence with its hashtags and the role hashtag the pipeline adds.
func checkSentence(t *testing.T, s Server, d *translators.Draft) {
	t.Helper()
	full := translators.Sentence(d.Text, append(slices.Clone(d.Tags), s.Role))
	if n := utf8.RuneCountInString(full); n > translators.MaxSentence {
		t.Errorf("%q is %d characters, more than %d", full, n, translators.MaxSentence)
	}
	if d.Text == "" {
		t.Error("empty sentence")
	}
}

func TestPuppetReport(t *testing.T) {
	web := server(t, "frontend_web")
	for _, tc := range []struct {
		name   string
		status PuppetStatus
		tag    string // "" for no post
		health translators.Severity
	}{
		{name: "unchanged", status: PuppetUnchanged, health: translators.SeverityOK},
		{name: "changed", status: PuppetChanged, tag: "changed", health: translators.SeverityOK},
		{name: "failed", status: PuppetFailed, tag: "fail", health: translators.SeverityCritical},
		{name: "noop", status: PuppetNoop, tag: "drift", health: translators.SeverityWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PuppetReport(web, tc.status, 0, newRand(1), testNow)
			if got, want := p.Source, translators.SourcePuppet; got != want {
				t.Errorf("Source = %q, want %q", got, want)
			}
			if got, want := p.ContentType, "application/x-yaml"; got != want {
				t.Errorf("ContentType = %q, want %q", got, want)
			}
			ev := translateOne(t, p)
			if got, want := ev.Node, web.Name; got != want {
				t.Errorf("Node = %q, want %q", got, want)
			}
			if !slices.Contains(ev.Classes, "roles::frontend_web") {
				t.Errorf("Classes = %v, want roles::frontend_web among them", ev.Classes)
			}
			if got, want := ev.Health, tc.health; got != want {
				t.Errorf("Health = %q, want %q", got, want)
			}
			if tc.tag == "" {
				if ev.Post != nil && !ev.Post.OnlyIfOpen {
					t.Fatalf("an unchanged run posts %q", ev.Post.Text)
				}
				return
			}
			if ev.Post == nil {
				t.Fatal("no post")
			}
			if !hasTag(ev.Post, tc.tag) || !hasTag(ev.Post, "puppet") {
				t.Errorf("tags %v, want puppet and %s", ev.Post.Tags, tc.tag)
			}
			checkSentence(t, web, ev.Post)
		})
	}
}

// A frontend web server's package upgrade restarts httpd.
func TestPuppetReportRestartsHttpd(t *testing.T) {
	web := server(t, "frontend_web")
	rep := decodeReport(t, PuppetReport(web, PuppetChanged, 0, newRand(2), testNow))
	if got, want := rep["status"], "changed"; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
	st, _ := rep["resource_statuses"].(map[string]any)["Service[httpd]"].(map[string]any)
	if st == nil {
		t.Fatal("no Service[httpd] in resource_statuses")
	}
	if got, want := st["changed"], true; got != want {
		t.Errorf("Service[httpd] changed = %v, want %v", got, want)
	}
	evs, _ := st["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["name"] != "refresh" {
		t.Errorf("Service[httpd] events = %v, want one refresh", evs)
	}
	path, _ := st["containment_path"].([]any)
	if got, want := len(path), 3; got != want || path[1] != "Profile::Apache" {
		t.Errorf("containment_path = %v, want [Stage[main] Profile::Apache Service[httpd]]", path)
	}
}

func TestPuppetFailedThenFixed(t *testing.T) {
	t.Parallel()
	s := server(t, "frontend_web")
	for c := range PuppetChanges(s) {
		t.Run(strings.ReplaceAll(changeKinds[c], " ", "_"), func(t *testing.T) {
			r := newRand(uint64(c))
			failed := translateOne(t, PuppetReport(s, PuppetFailed, c, r, testNow))
			fixed := translateOne(t, PuppetReport(s, PuppetChanged, c, r, testNow.Add(30*time.Minute)))
			if failed.Post == nil || fixed.Post == nil {
				t.Fatalf("posts %v and %v, want both", failed.Post, fixed.Post)
			}
			if !hasTag(failed.Post, "fail") || !failed.Post.Opens {
				t.Errorf("failed run: tags %v, opens %v; want fail, opens", failed.Post.Tags, failed.Post.Opens)
			}
			if !hasTag(fixed.Post, "changed") || !fixed.Post.Closes {
				t.Errorf("fixing run: tags %v, closes %v; want changed, closes", fixed.Post.Tags, fixed.Post.Closes)
			}
			if got, want := fixed.Post.Thread, failed.Post.Thread; got != want || got == "" {
				t.Errorf("threads %q and %q, want the same", want, got)
			}
			if failed.ID == fixed.ID {
				t.Errorf("both runs have the event id %s", failed.ID)
			}
			checkSentence(t, s, failed.Post)
			checkSentence(t, s, fixed.Post)
		})
	}
}

// The changes of every role translate, whatever the run made of them. A
// role's own software is in changes 1 (its settings, checked by its own
// command) and 4 (its restart), so every role tries those; the other
// changes depend only on the operating system, so one role of each tries
// them. (The Puppet translator is slow under the race detector, so the
// test does not try every combination.)
func TestPuppetReportsTranslate(t *testing.T) {
	t.Parallel()
	type run struct {
		change int
		status PuppetStatus
	}
	perOS := map[string]bool{}
	for i, spec := range roleSpecs {
		s := server(t, spec.role)
		runs := []run{{1, PuppetFailed}, {4, PuppetFailed}}
		if !perOS[spec.os.name] {
			perOS[spec.os.name] = true
			// Each OS fails them all; the noop runs are shared out.
			for k, c := range []int{0, 2, 3, 5, 6, 7} {
				runs = append(runs, run{c, PuppetFailed})
				if k%3 == len(perOS)-1 {
					runs = append(runs, run{c, PuppetNoop})
				}
			}
		}
		if i%2 == 0 {
			runs = append(runs, run{i % len(changeKinds), PuppetNoop})
		}
		t.Run(spec.role, func(t *testing.T) {
			r := newRand(9)
			ids := map[string]bool{}
			for _, run := range runs {
				ev := translateOne(t, PuppetReport(s, run.status, run.change, r, testNow))
				if ids[ev.ID] {
					t.Errorf("event id %s repeats", ev.ID)
				}
				ids[ev.ID] = true
				if !slices.Contains(ev.Classes, "roles::"+s.Role) {
					t.Errorf("%s run of change %d: classes %v lack roles::%s", run.status, run.change, ev.Classes, s.Role)
				}
				tag := map[PuppetStatus]string{PuppetFailed: "fail", PuppetNoop: "drift"}[run.status]
				if !hasTag(ev.Post, tag) {
					t.Errorf("%s run of change %d: post %+v, want tag %s", run.status, run.change, ev.Post, tag)
					continue
				}
				checkSentence(t, s, ev.Post)
			}
		})
	}
}

// What report-format-12.schema.json requires, at each level.
var (
	reportRequired = []string{"host", "time", "resource_statuses", "configuration_version", "report_format",
		"puppet_version", "status", "transaction_completed", "noop", "noop_pending", "environment"}
	logRequired    = []string{"level", "message", "source", "tags", "time"}
	statusRequired = []string{"resource_type", "title", "change_count", "out_of_sync_count", "tags", "events",
		"skipped", "containment_path", "corrective_change"}
	eventRequired = []string{"audited", "property", "message", "name", "status", "time", "corrective_change"}
)

func decodeReport(t *testing.T, p Payload) map[string]any {
	t.Helper()
	if !bytes.HasPrefix(p.Body, []byte("--- !ruby/object:Puppet::Transaction::Report\n")) {
		t.Fatalf("report does not open with Puppet's YAML header:\n%s", clip(p.Body))
	}
	var rep map[string]any
	if err := yaml.Unmarshal(p.Body, &rep); err != nil {
		t.Fatalf("report is not YAML: %v", err)
	}
	return rep
}

func requireKeys(t *testing.T, what string, m any, keys []string) {
	t.Helper()
	mm, ok := m.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want a mapping", what, m)
	}
	for _, k := range keys {
		if _, ok := mm[k]; !ok {
			t.Errorf("%s lacks %s", what, k)
		}
	}
}

func TestPuppetReportShape(t *testing.T) {
	t.Parallel()
	db := server(t, "database")
	r := newRand(4)
	for i, st := range []PuppetStatus{PuppetUnchanged, PuppetChanged, PuppetFailed, PuppetNoop} {
		for _, c := range []int{i, 4 + i} {
			rep := decodeReport(t, PuppetReport(db, st, c, r, testNow))
			requireKeys(t, "report", rep, reportRequired)
			for _, l := range rep["logs"].([]any) {
				requireKeys(t, "log", l, logRequired)
			}
			for ref, s := range rep["resource_statuses"].(map[string]any) {
				requireKeys(t, ref, s, statusRequired)
				for _, e := range s.(map[string]any)["events"].([]any) {
					requireKeys(t, ref+" event", e, eventRequired)
				}
			}
			checkPast(t, rep)
			if got, want := rep["noop"], st == PuppetNoop; got != want {
				t.Errorf("%s run: noop = %v, want %v", st, got, want)
			}
			if got, want := rep["status"], map[PuppetStatus]string{PuppetNoop: "unchanged"}[st]; want != "" && got != want {
				t.Errorf("%s run: status = %v, want %v", st, got, want)
			}
		}
	}
}

// checkPast checks that the report's run began before it ended, at
// testNow, and that nothing in it happened later.
func checkPast(t *testing.T, rep map[string]any) {
	t.Helper()
	parse := func(what string, v any) time.Time {
		s, _ := v.(string)
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("%s %q: %v", what, s, err)
		}
		return tm
	}
	start := parse("time", rep["time"])
	if !start.Before(testNow) || start.Before(testNow.Add(-2*time.Minute)) {
		t.Errorf("the run began at %v, want in the two minutes before %v", start, testNow)
	}
	for _, l := range rep["logs"].([]any) {
		if at := parse("log time", l.(map[string]any)["time"]); at.After(testNow) || at.Before(start) {
			t.Errorf("log at %v, outside the run (%v to %v)", at, start, testNow)
		}
	}
}

var uuidLine = regexp.MustCompile(`(?m)^transaction_uuid: ([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$`)

func TestPuppetReportUnique(t *testing.T) {
	t.Parallel()
	s := server(t, "frontend_web")
	r := newRand(11)
	seen := map[string]bool{}
	for i := range 60 {
		m := uuidLine.FindSubmatch(PuppetReport(s, PuppetUnchanged, 0, r, testNow).Body)
		if m == nil {
			t.Fatalf("report %d has no transaction_uuid line", i)
		}
		if seen[string(m[1])] {
			t.Fatalf("transaction_uuid %s repeats", m[1])
		}
		seen[string(m[1])] = true
	}
}

func TestNagiosIncident(t *testing.T) {
	web := server(t, "frontend_web")
	r := newRand(5)
	steps := []struct {
		n      Notification
		tag    string
		opens  bool
		closes bool
	}{
		{Notification{Type: NagiosProblem, Service: "Load", State: "WARNING", LastState: "OK", Number: 1, ProblemID: 41}, "warning", true, false},
		{Notification{Type: NagiosProblem, Service: "Load", State: "CRITICAL", LastState: "WARNING", Number: 2, ProblemID: 41}, "critical", true, false},
		{Notification{Type: NagiosAcknowledgement, Service: "Load", State: "CRITICAL", LastState: "CRITICAL", Number: 2, ProblemID: 41, Author: "alice", Comment: "Looking into it"}, "acknowledged", false, false},
		{Notification{Type: NagiosRecovery, Service: "Load", State: "OK", LastState: "CRITICAL", Number: 3, ProblemID: 41}, "ok", false, true},
	}
	var thread string
	ids := map[string]bool{}
	for i, st := range steps {
		t.Run(st.n.Type+"_"+st.n.State, func(t *testing.T) {
			p := NagiosNotification(web, st.n, r, testNow.Add(time.Duration(i)*time.Minute))
			if got, want := p.ContentType, "application/x-www-form-urlencoded"; got != want {
				t.Errorf("ContentType = %q, want %q", got, want)
			}
			ev := translateOne(t, p)
			if got, want := ev.Node, web.Short; got != want {
				t.Errorf("Node = %q, want %q", got, want)
			}
			if !slices.Contains(ev.Aliases, web.Name) {
				t.Errorf("Aliases = %v, want %s among them", ev.Aliases, web.Name)
			}
			if ids[ev.ID] {
				t.Errorf("event id %s repeats", ev.ID)
			}
			ids[ev.ID] = true
			d := ev.Post
			if !hasTag(d, st.tag) || !hasTag(d, "nagios") {
				t.Errorf("tags %v, want nagios and %s", d.Tags, st.tag)
			}
			if d.Opens != st.opens || d.Closes != st.closes {
				t.Errorf("opens %v closes %v, want %v %v", d.Opens, d.Closes, st.opens, st.closes)
			}
			if thread == "" {
				thread = d.Thread
			}
			if got, want := d.Thread, thread; got != want || got == "" {
				t.Errorf("thread %q, want %q", got, want)
			}
			checkSentence(t, web, d)
		})
	}
}

// The form carries exactly the short keys of the captured notifications.
func TestNagiosNotificationKeys(t *testing.T) {
	web := server(t, "frontend_web")
	for _, tc := range []struct {
		name string
		n    Notification
		keys string
	}{
		{"service", Notification{Type: NagiosProblem, Service: "Disk", State: "WARNING", LastState: "OK", Number: 1, ProblemID: 2},
			"kind type host hostalias hostaddress service state stateid statetype attempt maxattempts laststate output longoutput perfdata author comment ackauthor ackcomment notificationnumber problemid lastproblemid downtime percentchange longdatetime timet contact"},
		{"host", Notification{Type: NagiosProblem, State: "DOWN", LastState: "DOWN", Number: 1, ProblemID: 4},
			"kind type host hostalias hostaddress state stateid statetype attempt laststate output longoutput author comment notificationnumber problemid downtime timet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := string(NagiosNotification(web, tc.n, newRand(1), testNow).Body)
			var keys []string
			for _, kv := range strings.Split(body, "&") {
				k, _, _ := strings.Cut(kv, "=")
				keys = append(keys, k)
			}
			if got, want := strings.Join(keys, " "), tc.keys; got != want {
				t.Errorf("keys\n%s\nwant\n%s", got, want)
			}
			v, err := url.ParseQuery(body)
			if err != nil {
				t.Fatalf("not a form: %v", err)
			}
			if got := v.Get("output"); strings.ContainsAny(got, "`~$&|'\"<>") {
				t.Errorf("output %q holds characters Nagios strips", got)
			}
			if got, want := v.Get("timet"), "1795629000"; got != want {
				t.Errorf("timet = %s, want %s", got, want)
			}
		})
	}
}

// Every check of every role, in each state, makes a post.
func TestNagiosChecksTranslate(t *testing.T) {
	for _, spec := range roleSpecs {
		s := server(t, spec.role)
		for _, check := range NagiosChecks(s) {
			t.Run(spec.role+"/"+strings.ReplaceAll(check, " ", "_"), func(t *testing.T) {
				r := newRand(6)
				for _, tc := range []struct{ typ, state, last, tag string }{
					{NagiosProblem, "WARNING", "OK", "warning"},
					{NagiosProblem, "CRITICAL", "OK", "critical"},
					{NagiosRecovery, "OK", "CRITICAL", "ok"},
				} {
					ev := translateOne(t, NagiosNotification(s, Notification{Type: tc.typ, Service: check, State: tc.state, LastState: tc.last, Number: 1, ProblemID: 9}, r, testNow))
					if !hasTag(ev.Post, tc.tag) {
						t.Errorf("%s %s: tags %v, want %s", tc.typ, tc.state, ev.Post.Tags, tc.tag)
					}
					checkSentence(t, s, ev.Post)
				}
			})
		}
	}
}

// Host outages, flapping and maintenance each read as one thread.
func TestNagiosThreads(t *testing.T) {
	db := server(t, "database")
	for _, tc := range []struct {
		name        string
		open, close Notification
		tag         string
	}{
		{"host down", Notification{Type: NagiosProblem, State: "DOWN", LastState: "DOWN", Number: 1, ProblemID: 12},
			Notification{Type: NagiosRecovery, State: "UP", LastState: "DOWN", Number: 2}, "critical"},
		{"flapping", Notification{Type: NagiosFlappingStart, Service: "Disk", State: "OK", LastState: "CRITICAL", ProblemID: 13, LastProblemID: 12},
			Notification{Type: NagiosFlappingStop, Service: "Disk", State: "OK", LastState: "OK", LastProblemID: 13}, "flapping"},
		{"maintenance", Notification{Type: NagiosDowntimeStart, State: "UP", LastState: "UP", LastProblemID: 14, Author: "bob", Comment: "Kernel upgrade and reboot"},
			Notification{Type: NagiosDowntimeEnd, State: "UP", LastState: "UP", LastProblemID: 14, Author: "bob", Comment: "Kernel upgrade and reboot"}, "maintenance"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := newRand(7)
			open := translateOne(t, NagiosNotification(db, tc.open, r, testNow))
			closed := translateOne(t, NagiosNotification(db, tc.close, r, testNow.Add(10*time.Minute)))
			if !open.Post.Opens || !closed.Post.Closes {
				t.Errorf("opens %v, closes %v; want both", open.Post.Opens, closed.Post.Closes)
			}
			if got, want := closed.Post.Thread, open.Post.Thread; got != want {
				t.Errorf("threads %q and %q, want the same", want, got)
			}
			if !hasTag(open.Post, tc.tag) {
				t.Errorf("tags %v, want %s", open.Post.Tags, tc.tag)
			}
			checkSentence(t, db, open.Post)
			checkSentence(t, db, closed.Post)
		})
	}
}

func TestSuricataAlerts(t *testing.T) {
	web := server(t, "frontend_web")
	for _, tc := range []struct {
		name   string
		attack Attack
		lines  int
	}{
		{"web one", AttackWeb, 1},
		{"web three", AttackWeb, 3},
		{"ssh two", AttackSSH, 2},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			p := SuricataAlerts(web, tc.attack, "203.0.113.7", tc.lines, newRand(8), testNow)
			if got, want := p.ContentType, "application/x-ndjson"; got != want {
				t.Errorf("ContentType = %q, want %q", got, want)
			}
			sc := bufio.NewScanner(bytes.NewReader(p.Body))
			sc.Buffer(nil, 1<<20)
			n := 0
			for sc.Scan() {
				n++
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("line %d is not JSON: %v", n, err)
				}
				if got, want := rec["event_type"], "alert"; got != want {
					t.Errorf("event_type = %v, want %v", got, want)
				}
				pp, _ := rec["payload_printable"].(string)
				if tc.attack == AttackWeb && !strings.HasPrefix(pp, "GET /") {
					t.Errorf("payload_printable %q is not an HTTP request", pp)
				}
				if ts, _ := rec["timestamp"].(string); !strings.HasSuffix(ts, "+0000") {
					t.Errorf("timestamp %q, want Suricata's +0000 offset", ts)
				}
			}
			if got, want := n, tc.lines; got != want {
				t.Fatalf("%d lines, want %d", got, want)
			}
			evs := translate(t, p)
			if got, want := len(evs), tc.lines; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			ids := map[string]bool{}
			for _, ev := range evs {
				if got, want := ev.Node, web.Name; got != want {
					t.Errorf("Node = %q, want %q", got, want)
				}
				if !hasTag(ev.Post, "security") || !hasTag(ev.Post, "suricata") {
					t.Errorf("tags %v, want security and suricata", ev.Post.Tags)
				}
				if ids[ev.ID] {
					t.Errorf("event id %s repeats", ev.ID)
				}
				ids[ev.ID] = true
				checkSentence(t, web, ev.Post)
			}
		})
	}
}

func TestFail2ban(t *testing.T) {
	for _, role := range []string{"frontend_web", "bastion", "mail_relay"} {
		s := server(t, role)
		t.Run(role, func(t *testing.T) {
			r := newRand(10)
			for i := range 4 { // apache-auth bans come now and then on web servers
				b := newBan(s, "203.0.113.7", i+1, r, testNow)
				ban := translateOne(t, Fail2banBan(s, b, r))
				unban := translateOne(t, Fail2banUnban(s, b))
				if got, want := ban.Node, s.Name; got != want {
					t.Errorf("Node = %q, want %q", got, want)
				}
				if !hasTag(ban.Post, "security") || !ban.Post.Opens {
					t.Errorf("%s ban: tags %v opens %v; want security, opens", b.Jail, ban.Post.Tags, ban.Post.Opens)
				}
				if !unban.Post.Closes {
					t.Errorf("%s unban does not close its thread", b.Jail)
				}
				if got, want := unban.Post.Thread, ban.Post.Thread; got != want {
					t.Errorf("threads %q and %q, want the same", want, got)
				}
				checkSentence(t, s, ban.Post)
				checkSentence(t, s, unban.Post)
			}
		})
	}
}
