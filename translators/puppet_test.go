package translators

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// puppetFile is a report file of shared/testdata/puppet and the content
// type it arrives with.
type puppetFile struct{ name, ct string }

func puppetReports(t testing.TB) []puppetFile {
	t.Helper()
	var out []puppetFile
	for _, pat := range []struct{ glob, ct string }{
		{"*.http-post-body.yaml", "application/x-yaml"},
		{"*.last_run_report.yaml", ""},
		{"*.last_run_report.json", "application/json"},
		{"*.pretty.json", ""},
	} {
		files, err := filepath.Glob(filepath.Join(sharedTestdata, "puppet", pat.glob))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			out = append(out, puppetFile{filepath.Base(f), pat.ct})
		}
	}
	if len(out) == 0 {
		t.Fatal("no Puppet reports in shared testdata")
	}
	return out
}

func translatePuppetFile(t *testing.T, name, ct string) []Event {
	t.Helper()
	evs, err := TranslatePuppet(ct, readShared(t, "puppet/"+name))
	if err != nil {
		t.Fatalf("TranslatePuppet(%s): %v", name, err)
	}
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%s: %d events, want %d", name, got, want)
	}
	return evs
}

func TestTranslatePuppetGolden(t *testing.T) {
	for _, f := range puppetReports(t) {
		t.Run(f.name, func(t *testing.T) {
			evs := translatePuppetFile(t, f.name, f.ct)
			checkPlain(t, evs)
			checkGolden(t, "puppet/"+f.name, evs)
		})
	}
}

func TestTranslatePuppetRuns(t *testing.T) {
	tests := []struct {
		file     string
		text     string
		tags     string
		severity Severity
		health   Severity
		opens    bool
		closes   bool
	}{
		{
			file:     "01-changed.http-post-body.yaml",
			text:     "Puppet created the login message, a folder and a settings file, and ran a command on this server",
			tags:     "puppet changed",
			severity: SeverityInfo,
			health:   SeverityOK,
			closes:   true,
		},
		{
			file:     "03-failed.http-post-body.yaml",
			text:     "Puppet could not create a settings file or run a command on this server, so 1 more step was skipped",
			tags:     "puppet fail",
			severity: SeverityCritical,
			health:   SeverityCritical,
			opens:    true,
		},
		{
			file:     "04-noop.http-post-body.yaml",
			text:     "Puppet found that the login message and a settings file are not set up as intended on this server",
			tags:     "puppet drift",
			severity: SeverityWarning,
			health:   SeverityWarning,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev := translatePuppetFile(t, tt.file, "application/x-yaml")[0]
			p := ev.Post
			if p == nil {
				t.Fatal("no post")
			}
			if got, want := p.Text, tt.text; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
			if got, want := strings.Join(p.Tags, " "), tt.tags; got != want {
				t.Fatalf("tags %q, want %q", got, want)
			}
			if got, want := p.Severity, tt.severity; got != want {
				t.Fatalf("severity %q, want %q", got, want)
			}
			if got, want := ev.Health, tt.health; got != want {
				t.Fatalf("health %q, want %q", got, want)
			}
			if got, want := p.Opens, tt.opens; got != want {
				t.Fatalf("opens %v, want %v", got, want)
			}
			if got, want := p.Closes, tt.closes; got != want {
				t.Fatalf("closes %v, want %v", got, want)
			}
			if tt.opens || tt.closes {
				if got, want := p.Thread, "puppet:run"; got != want {
					t.Fatalf("thread %q, want %q", got, want)
				}
			}
			if got, want := ev.Node, "web01.example.com"; got != want {
				t.Fatalf("node %q, want %q", got, want)
			}
			if got, want := ev.Source, SourcePuppet; got != want {
				t.Fatalf("source %q, want %q", got, want)
			}
		})
	}
}

func TestTranslatePuppetIdentity(t *testing.T) {
	ev := translatePuppetFile(t, "03-failed.http-post-body.yaml", "application/x-yaml")[0]
	if got, want := ev.ID, "puppet:web01.example.com:2c50b6f3-fde5-4442-8f9a-26231f0bef9a"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
	if got, want := ev.Time, time.Date(2026, 11, 25, 17, 43, 42, 110068599, time.UTC); !got.Equal(want) {
		t.Fatalf("time %v, want %v", got, want)
	}
	d := ev.Post.Details
	for k, want := range map[string]any{
		"status":                "failed",
		"environment":           "production",
		"puppet_version":        "7.23.0",
		"configuration_version": int64(1795628621),
		"transaction_uuid":      "2c50b6f3-fde5-4442-8f9a-26231f0bef9a",
		"run_seconds":           0.029036502,
		"change_count":          int64(1),
	} {
		if got := d[k]; got != want {
			t.Fatalf("details[%q] = %#v, want %#v", k, got, want)
		}
	}
	if got, want := d["resource_counts"].(map[string]any)["failed"], int64(2); got != want {
		t.Fatalf("failed resources %#v, want %#v", got, want)
	}
}

// A skipped resource has evaluation_time null, and an exec's
// desired_value is a list: both must come through into the details.
func TestTranslatePuppetResourceDetails(t *testing.T) {
	ev := translatePuppetFile(t, "03-failed.http-post-body.yaml", "")[0]
	byTitle := map[string]map[string]any{}
	for _, r := range ev.Post.Details["resources"].([]any) {
		m := r.(map[string]any)
		byTitle[m["title"].(string)] = m
	}
	tests := []struct {
		title, typ, outcome string
	}{
		{"/srv/shop/missing-dir/child.conf", "File", "failed"},
		{"run-migration", "Exec", "failed"},
		{"/srv/shop/after-migration.txt", "File", "skipped"},
		{"/srv/shop/ok.txt", "File", "changed"},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			r := byTitle[tt.title]
			if r == nil {
				t.Fatalf("not in details: %v", byTitle)
			}
			if got, want := r["type"], tt.typ; got != want {
				t.Fatalf("type %v, want %v", got, want)
			}
			if got, want := r["outcome"], tt.outcome; got != want {
				t.Fatalf("outcome %v, want %v", got, want)
			}
		})
	}
	change := byTitle["run-migration"]["changes"].([]any)[0].(map[string]any)
	if got, want := change["property"], "returns"; got != want {
		t.Fatalf("property %v, want %v", got, want)
	}
	if got, want := change["previous_value"], "notrun"; got != want {
		t.Fatalf("previous value %v, want %v", got, want)
	}
	desired, ok := change["desired_value"].([]any)
	if !ok || len(desired) != 1 || desired[0] != "0" {
		t.Fatalf("desired value %#v, want [\"0\"]", change["desired_value"])
	}
	msgs, _ := byTitle["/srv/shop/after-migration.txt"]["messages"].([]any)
	if got, want := len(msgs), 1; got != want || msgs[0] != "Skipping because of failed dependencies" {
		t.Fatalf("skipped resource messages %q, want the skip warning", msgs)
	}
	errs, _ := ev.Post.Details["errors"].([]any)
	if len(errs) == 0 {
		t.Fatal("no error messages in details")
	}
}

// The same run as Puppet POSTs it (YAML) and as the agent stores it (JSON,
// compact or pretty) must give the same event, byte for byte.
func TestTranslatePuppetFormatsAgree(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"changed", []string{"06-changed-json.http-post-body.yaml", "06-changed-json.last_run_report.json", "06-changed-json.last_run_report.pretty.json"}},
		{"failed", []string{"07-failed-json.http-post-body.yaml", "07-failed-json.last_run_report.json", "07-failed-json.last_run_report.pretty.json"}},
		{"changed sentence", []string{"01-changed.http-post-body.yaml", "06-changed-json.last_run_report.json"}},
		{"failed sentence", []string{"03-failed.http-post-body.yaml", "07-failed-json.last_run_report.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first []byte
			var firstText string
			for _, f := range tt.files {
				ev := translatePuppetFile(t, f, "")[0]
				if ev.Post == nil {
					t.Fatalf("%s: no post", f)
				}
				b, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first, firstText = b, ev.Post.Text
					continue
				}
				if got, want := ev.Post.Text, firstText; got != want {
					t.Fatalf("%s: text %q, want %q", f, got, want)
				}
				// Runs 01/03 and 06/07 are different runs: only the
				// sentence must agree.
				if !strings.HasSuffix(tt.name, "sentence") && string(b) != string(first) {
					t.Fatalf("%s differs from %s:\n%s\n%s", f, tt.files[0], b, first)
				}
			}
		})
	}
}

func TestTranslatePuppetUnchanged(t *testing.T) {
	// The noop report with its pending changes taken out is a plain
	// unchanged run.
	body := string(readShared(t, "puppet/04-noop.http-post-body.yaml"))
	body = strings.Replace(body, "noop_pending: true", "noop_pending: false", 1)
	body = strings.ReplaceAll(body, "status: noop", "status: success")
	evs, err := TranslatePuppet("application/x-yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
	ev := evs[0]
	// The post is kept only when it ends an open failure.
	if ev.Post == nil || !ev.Post.OnlyIfOpen || !ev.Post.Closes {
		t.Fatalf("post %+v for an unchanged run, want one that only ends a failure", ev.Post)
	}
	if got, want := ev.Health, SeverityOK; got != want {
		t.Fatalf("health %q, want %q", got, want)
	}
	if got, want := ev.ID, "puppet:web01.example.com:923a57e4-01f0-4148-b22f-bd4035326ddc"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
}

// puppetRun is a small JSON report for the cases the captured runs do not
// cover.
func puppetRun(status string, resources string) []byte {
	return []byte(`{"host":"db1.example.com","time":"2026-01-02T03:04:05.000000000+00:00",
"configuration_version":"abc123","status":"` + status + `","noop":false,"noop_pending":false,
"transaction_completed":true,"report_format":12,"environment":"production",
"logs":[{"level":"err","message":"Could not retrieve catalog from remote server: Error 500","source":"Puppet"}],
"resource_statuses":{` + resources + `}}`)
}

func puppetResourceJSON(typ, title, extra string) string {
	return `"` + typ + `[` + title + `]":{"resource_type":"` + typ + `","title":"` + title + `",
"containment_path":["Stage[main]","Roles::Database","Profile::Postgres","` + typ + `[` + title + `]"],
"time":"2026-01-02T03:04:05+00:00",` + extra + `}`
}

func TestTranslatePuppetSentences(t *testing.T) {
	installed := `"changed":true,"events":[{"property":"ensure","previous_value":"purged","desired_value":"present","status":"success"}]`
	started := `"changed":true,"events":[{"property":"ensure","previous_value":"stopped","desired_value":"running","status":"success"}]`
	failed := `"failed":true,"events":[{"property":"ensure","previous_value":"absent","desired_value":"file","status":"failure"}]`
	content := `"changed":true,"events":[{"property":"content","status":"success"}]`
	tests := []struct {
		name, status, resources, text string
	}{
		{
			"install and start", "changed",
			puppetResourceJSON("Package", "postgresql-15", installed) + "," + puppetResourceJSON("Service", "postgresql", started),
			"Puppet installed the postgresql-15 package and started the postgresql service on this server",
		},
		{
			"web server settings", "changed",
			puppetResourceJSON("File", "/etc/nginx/nginx.conf", content) + "," + puppetResourceJSON("File", "/etc/nginx/sites-enabled/shop", content),
			"Puppet updated the web server's settings on this server",
		},
		{
			"a name that does not read plainly", "changed",
			puppetResourceJSON("Package", "nil", installed),
			"Puppet installed a software package on this server",
		},
		{
			"one failure", "failed",
			puppetResourceJSON("File", "/etc/ssh/sshd_config", failed),
			"Puppet could not create the remote login settings on this server",
		},
		{
			"run that failed before any resource", "failed", "",
			"Puppet could not fetch this server's configuration, so it changed nothing",
		},
		{
			"only a notify message", "changed",
			puppetResourceJSON("Notify", "hello", content), "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslatePuppet("", puppetRun(tt.status, tt.resources))
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			got := ""
			if p := evs[0].Post; p != nil && !p.OnlyIfOpen {
				got = p.Text
			}
			if want := tt.text; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
			if got, want := strings.Join(evs[0].Classes, " "), "profile::postgres roles::database"; tt.resources != "" && got != want {
				t.Fatalf("classes %q, want %q", got, want)
			}
			if got, want := evs[0].ID, "puppet:db1.example.com:abc123@2026-01-02T03:04:05Z"; got != want {
				t.Fatalf("id %q, want %q", got, want)
			}
		})
	}
}

// Older agents tag every object and symbol with its Ruby class and write
// times unquoted: the tags are ignored.
func TestTranslatePuppetRubyTags(t *testing.T) {
	body := `--- !ruby/object:Puppet::Transaction::Report
  host: app2.example.com
  time: 2013-05-24 10:42:40.123456 +02:00
  configuration_version: 1369384960
  kind: apply
  status: !ruby/sym changed
  report_format: 3
  metrics:
    changes: !ruby/object:Puppet::Util::Metric
      name: changes
      values:
        - - total
          - Total
          - 2
  resource_statuses:
    "Package[nginx]": !ruby/object:Puppet::Resource::Status
      resource_type: Package
      title: nginx
      changed: true
      containment_path: &path
        - Stage[main]
        - Role::Frontend_web
        - Package[nginx]
      events:
        - !ruby/object:Puppet::Transaction::Event
          property: ensure
          previous_value: !ruby/sym absent
          desired_value: !ruby/sym present
          status: !ruby/sym success
    "Service[nginx]": !ruby/object:Puppet::Resource::Status
      resource_type: Service
      title: nginx
      changed: true
      containment_path: *path
      events:
        - !ruby/object:Puppet::Transaction::Event
          name: !ruby/sym restarted
          status: !ruby/sym success
`
	evs, err := TranslatePuppet("application/x-yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	checkPlain(t, evs)
	ev := evs[0]
	if got, want := ev.Post.Text, "Puppet installed the nginx package and restarted the nginx service on this server"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if got, want := ev.Time, time.Date(2013, 5, 24, 8, 42, 40, 123456000, time.UTC); !got.Equal(want) {
		t.Fatalf("time %v, want %v", got, want)
	}
	if got, want := strings.Join(ev.Classes, " "), "role::frontend_web"; got != want {
		t.Fatalf("classes %q, want %q", got, want)
	}
	if got, want := ev.ID, "puppet:app2.example.com:1369384960@2013-05-24T08:42:40.123456Z"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
}

// Many changes are summed up to fit one sentence: by kind when naming
// them all is too long, and as a count with the first few named when even
// that is too long.
func TestTranslatePuppetManyChanges(t *testing.T) {
	content := `"changed":true,"events":[{"property":"content","status":"success"}]`
	created := `"changed":true,"events":[{"property":"ensure","previous_value":"absent","desired_value":"file","status":"success"}]`
	started := `"changed":true,"events":[{"property":"ensure","previous_value":"stopped","desired_value":"running","status":"success"}]`
	removed := `"changed":true,"events":[{"property":"ensure","previous_value":"present","desired_value":"absent","status":"success"}]`
	var packages, mixed []string
	for _, name := range []string{"nginx", "redis-server", "postgresql-15", "php8.2-fpm", "memcached", "haproxy", "varnish", "rabbitmq-server"} {
		packages = append(packages, puppetResourceJSON("Package", name, content))
		mixed = append(mixed, puppetResourceJSON("Service", name, started))
	}
	for i, ext := range []string{"yaml", "sh", "log", "pem", "key", "html", "sql", "zip", "jar", "txt"} {
		packages = append(packages, puppetResourceJSON("File", "/srv/app/conf"+string(rune('a'+i))+".yaml", content))
		mixed = append(mixed, puppetResourceJSON("File", "/srv/app/file."+ext, created))
	}
	for _, typ := range []string{"User", "Group", "Cron", "Mount", "Host", "Sshkey", "Yumrepo", "Firewall", "Vcsrepo"} {
		mixed = append(mixed, puppetResourceJSON(typ, "x", removed))
	}
	tests := []struct {
		name, resources, text string
	}{
		{"by kind", strings.Join(packages, ","), "Puppet updated 10 settings files and 8 software packages on this server"},
		{"counted", strings.Join(mixed, ","), "Puppet updated 27 things on this server: the user group x, the haproxy service, "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslatePuppet("", puppetRun("changed", tt.resources))
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if got, want := evs[0].Post.Text, tt.text; !strings.HasPrefix(got, want) {
				t.Fatalf("text %q, want it to start %q", got, want)
			}
		})
	}
}

// Events with status noop make a drift post even when the report does not
// say noop_pending.
func TestTranslatePuppetNoopEvents(t *testing.T) {
	pending := `"out_of_sync":true,"events":[{"property":"ensure","previous_value":"stopped","desired_value":"running","status":"noop"}]`
	evs, err := TranslatePuppet("application/json", puppetRun("unchanged", puppetResourceJSON("Service", "nginx", pending)))
	if err != nil {
		t.Fatal(err)
	}
	p := evs[0].Post
	if p == nil {
		t.Fatal("no post")
	}
	if got, want := p.Text, "Puppet found that the nginx service is not set up as intended on this server"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if got, want := strings.Join(p.Tags, " "), "puppet drift"; got != want {
		t.Fatalf("tags %q, want %q", got, want)
	}
	if got, want := evs[0].Health, SeverityWarning; got != want {
		t.Fatalf("health %q, want %q", got, want)
	}
}

func TestTranslatePuppetBadInput(t *testing.T) {
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	deepYAML := "host: web1\nstatus: changed\nx: " + strings.Repeat("[", 200) + strings.Repeat("]", 200)
	laughs := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"host: web1\nstatus: changed\n"
	tests := []struct {
		name, ct, body, msg string
	}{
		{"empty", "", "", "empty body"},
		{"blank", "application/x-yaml", " \n\t\n", "empty body"},
		{"garbage", "", "\x00\x01\x02 not: [a report", "not a YAML report"},
		{"broken JSON", "application/json", `{"host": "web1", `, "not a JSON report"},
		{"JSON array", "", `[{"host":"web1","status":"changed"}]`, "not a Puppet report"},
		{"JSON scalar", "application/json", `"web1"`, "not a Puppet report"},
		{"YAML list", "application/x-yaml", "- host: web1\n", "not a Puppet report"},
		{"YAML without host", "application/x-yaml", "--- !ruby/object:Puppet::Transaction::Report\nstatus: changed\nresource_statuses: {}\n", "names no host"},
		{"JSON without host", "", `{"status":"failed","host":""}`, "names no host"},
		{"host with spaces", "", `{"status":"failed","host":"web 1"}`, "not a node name"},
		{"not a report", "", `{"host":"web1","colour":"blue"}`, "not a Puppet report"},
		{"run summary", "", string(readShared(t, "puppet/01-changed.last_run_summary.yaml")), "not a Puppet report"},
		{"huge nested JSON", "", deep, "nested more than"},
		{"nested YAML", "", deepYAML, "nested more than"},
		{"huge nested YAML", "", strings.Repeat("- ", 20000) + "x", "not a YAML report"},
		{"billion laughs", "application/x-yaml", laughs, "aliases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslatePuppet(tt.ct, []byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *ParseError", err, err)
			}
			if got, want := pe.Source, SourcePuppet; got != want {
				t.Fatalf("source %q, want %q", got, want)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("message %q, want it to say %q", pe.Msg, tt.msg)
			}
			if evs != nil {
				t.Fatalf("events %v with an error", evs)
			}
		})
	}
}

// Through Translate, the content type's parameters do not matter.
func TestTranslatePuppetDispatch(t *testing.T) {
	evs, err := Translate(Input{
		Source:      SourcePuppet,
		ContentType: "application/x-yaml; charset=utf-8",
		Body:        readShared(t, "puppet/01-changed.http-post-body.yaml"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 1; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
}

func FuzzTranslatePuppet(f *testing.F) {
	for _, r := range puppetReports(f) {
		b, err := os.ReadFile(filepath.Join(sharedTestdata, "puppet", r.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.ct, b)
	}
	f.Add("", []byte(`{"host":"h","status":"failed","resource_statuses":{"Exec[x]":{"failed":true}}}`))
	f.Add("application/x-yaml", []byte("host: h\nstatus: changed\nresource_statuses:\n  Package[nginx]:\n    changed: true\n"))
	f.Add("", []byte("a: &a [1]\nb: [*a, *a]\nhost: h\nnoop_pending: true\n"))
	f.Add("", puppetRun("changed", puppetResourceJSON("Package", "nginx",
		`"changed":true,"events":[{"property":"ensure","previous_value":"purged","desired_value":["1.2"],"status":"success"}]`)+","+
		puppetResourceJSON("Service", "nginx", `"failed_to_restart":true,"events":[{"name":"restarted","status":"failure"}]`)))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		evs, err := TranslatePuppet(ct, body)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Source != SourcePuppet || pe.Msg == "" {
				t.Fatalf("error %v (%T), want a *ParseError from puppet", err, err)
			}
			if evs != nil {
				t.Fatalf("events with an error")
			}
			return
		}
		if got, want := len(evs), 1; got != want {
			t.Fatalf("%d events, want %d", got, want)
		}
		ev := evs[0]
		if !strings.HasPrefix(ev.ID, "puppet:") || len(ev.ID) > 200 {
			t.Fatalf("id %q", ev.ID)
		}
		if !ev.Health.Valid() {
			t.Fatalf("health %q", ev.Health)
		}
		if p := ev.Post; p != nil && (p.Text == "" || !p.Severity.Valid()) {
			t.Fatalf("post %+v", p)
		}
		checkPlain(t, evs)
		if _, err := json.Marshal(evs); err != nil {
			t.Fatalf("events do not marshal: %v", err)
		}
	})
}
