package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/rules"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
	"fleetfeed/web"
)

// fileRules is a rules file loaded into an engine, as serve wires it.
type fileRules struct {
	path   string
	engine *rules.Engine
	mu     sync.Mutex
	at     time.Time
	err    error
}

var _ web.RulesAdmin = (*fileRules)(nil)

func (f *fileRules) Path() string            { return f.path }
func (f *fileRules) Source() ([]byte, error) { return os.ReadFile(f.path) }
func (f *fileRules) Rules() []rules.Status   { return f.engine.Statuses() }
func (f *fileRules) LastReload() (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at, f.err
}

func (f *fileRules) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs, err := rules.Load(f.path)
	f.at, f.err = time.Now(), err
	if err == nil {
		f.engine.SetRules(rs)
	}
	return err
}

// oneLB answers every RPC for one load balancer and records the replies
// the engine posts.
type oneLB struct{ posted chan translators.Event }

func (oneLB) Do(context.Context, rpc.Call) (*rpc.Result, error) {
	return &rpc.Result{Stats: rpc.Stats{Targets: []string{"lb1"}, Responded: 1, OK: 1}}, nil
}

func (oneLB) Discover(context.Context, rpc.Call) (*rpc.Discovery, error) {
	return &rpc.Discovery{Nodes: []string{"lb1"}}, nil
}

func (l oneLB) Ingest(_ context.Context, evs []translators.Event) (*feed.IngestResult, error) {
	for _, ev := range evs {
		l.posted <- ev
	}
	return &feed.IngestResult{}, nil
}

const adminRulesYAML = `rules:
  - name: lb-after-httpd
    description: Refresh the load balancers after a web server restarts
    match:
      source: puppet
      roles: [roles::frontend_web]
      facts: ["datacenter==ams1"]
      resource: Service[httpd]
      restart: true
    run:
      agent: puppet
      action: runonce
      filter:
        class: [roles::frontend_lb]
    cooldown: 10m
    max_runs: 6
    per: 1h
`

func rulesServer(t *testing.T) (*httptest.Server, *web.Server, *fileRules, chan translators.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(adminRulesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	posted := make(chan translators.Event, 4)
	fr := &fileRules{path: path, engine: &rules.Engine{Client: oneLB{posted}, Poster: oneLB{posted}}}
	if err := fr.Reload(); err != nil {
		t.Fatal(err)
	}
	ts, s := peopleServer(t, func(s *web.Server) { s.Rules = fr })
	fr.engine.Nodes = s.Nodes
	for name, role := range map[string]people.Role{"admin": people.RoleAdmin, "operator": people.RoleOperator, "viewer": people.RoleViewer} {
		addUser(t, s, name, role)
	}
	return ts, s, fr, posted
}

func TestAdminRulesPageShowsAndReloadsTheRules(t *testing.T) {
	ts, s, fr, posted := rulesServer(t)
	admin := login(t, ts.URL, "admin")
	page := admin.page("/admin/rules")
	mustContain(t, "rules page", page,
		`<a href="/admin/rules" aria-current="page">Rules</a>`,
		"rules.yaml</code>",
		"<h3 id=\"rule-lb-after-httpd\">lb-after-httpd</h3>",
		"Refresh the load balancers after a web server restarts",
		"<li>posts from puppet</li>",
		"<li>about a server with the role frontend_web</li>",
		"<li>about a server whose fact datacenter is ams1</li>",
		"<li>where Puppet restarted or started Service[httpd]</li>",
		"<li>servers with the class roles::frontend_lb</li>",
		"run Puppet (puppet runonce)",
		"<li>at most once every 10 minutes</li>",
		"<li>at most 6 runs in any 1 hour</li>",
		"not since the server started; 0 runs in the last 1 hour, of at most 6",
		`<button type="submit">Reload rules</button>`,
		"max_runs: 6", // the file itself
	)

	// A run shows as the last run, with its reply.
	if _, err := s.Nodes.Upsert(context.Background(), "web01", nodes.Profile{Facts: map[string]any{"datacenter": "ams1"}}); err != nil {
		t.Fatal(err)
	}
	fr.engine.Handle(context.Background(), &feed.Post{ID: 1, Node: "web01", Source: "puppet", Tags: []string{"frontend_web"},
		Details: []byte(`{"resources":[{"type":"Service","title":"httpd","changes":[{"status":"success","message":"Triggered 'refresh' from 1 event"}]}]}`)})
	select {
	case ev := <-posted:
		if got, want := ev.Post.Text, "Refresh the load balancers after a web server restarts: 1 server was asked to run Puppet and it did"; got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rule did not run")
	}
	mustContain(t, "rules page after a run", admin.page("/admin/rules"),
		"just now</time>; 1 run in the last 1 hour, of at most 6",
		"<dd>Refresh the load balancers after a web server restarts: 1 server was asked to run Puppet and it did</dd>")

	// A changed file takes effect on reload.
	changed := strings.ReplaceAll(adminRulesYAML, "lb-after-httpd", "lb-refresh")
	if err := os.WriteFile(fr.path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := admin.submit("/admin/rules", "/admin/rules/reload", nil)
	if got, want := resp.Header.Get("Location"), "/admin/rules?reloaded=ok"; got != want {
		t.Fatalf("reload goes to %q, want %q", got, want)
	}
	page = admin.page("/admin/rules?reloaded=ok")
	mustContain(t, "after a reload", page, "The rules file is reloaded: 1 rule in use.", ">lb-refresh</h3>")
	if strings.Contains(page, "lb-after-httpd") || strings.Contains(page, "no longer loads") {
		t.Fatalf("the old rule or an error is still shown:\n%s", page)
	}
	if rs := fr.engine.Rules(); len(rs) != 1 || rs[0].Name != "lb-refresh" {
		t.Fatalf("rules in use: %v", rs)
	}

	// A broken file keeps the rules in use, and the page says why.
	broken := strings.Replace(changed, `facts: ["datacenter==ams1"]`, `facts: ["datacenter==ams1", "nonsense"]`, 1)
	if err := os.WriteFile(fr.path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	resp = admin.submit("/admin/rules", "/admin/rules/reload", nil)
	if got, want := resp.Header.Get("Location"), "/admin/rules?reloaded=failed"; got != want {
		t.Fatalf("reload goes to %q, want %q", got, want)
	}
	page = admin.page("/admin/rules?reloaded=failed")
	mustContain(t, "after a broken reload", page,
		"The rules file did not load, so the rules in use have not changed.",
		"The rules file no longer loads",
		"line 2: rule 1 (lb-refresh): facts: &#34;nonsense&#34;",
		">lb-refresh</h3>")
	if rs := fr.engine.Rules(); len(rs) != 1 || rs[0].Name != "lb-refresh" {
		t.Fatalf("rules in use after a broken file: %v", rs)
	}
}

func TestAdminRulesPageIsForAdminsOnly(t *testing.T) {
	ts, _, fr, _ := rulesServer(t)
	if err := os.WriteFile(fr.path, []byte(strings.ReplaceAll(adminRulesYAML, "lb-after-httpd", "changed")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"viewer", "operator"} {
		c := login(t, ts.URL, name)
		if status, body := c.get("/admin/rules"); status != http.StatusForbidden {
			t.Errorf("%s: GET /admin/rules: %d, want 403: %s", name, status, body)
		}
		resp, body := c.post("/admin/rules/reload", url.Values{"csrf": {c.csrf("/settings")}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: POST /admin/rules/reload: %d, want 403: %s", name, resp.StatusCode, body)
		}
		if strings.Contains(c.page("/"), `href="/admin/rules"`) {
			t.Errorf("%s is offered the rules page", name)
		}
	}
	if status, _ := newClient(t, ts.URL).get("/admin/rules"); status != http.StatusSeeOther {
		t.Errorf("anonymous GET /admin/rules: %d, want 303 to /login", status)
	}
	// Without its CSRF token, even an administrator's reload is refused.
	admin := login(t, ts.URL, "admin")
	if resp, body := admin.post("/admin/rules/reload", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /admin/rules/reload without a CSRF token: %d, want 403: %s", resp.StatusCode, body)
	}
	if rs := fr.engine.Rules(); len(rs) != 1 || rs[0].Name != "lb-after-httpd" {
		t.Fatalf("a refused reload changed the rules: %v", rs)
	}
}

func TestAdminRulesPageWithoutARulesFile(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "admin", people.RoleAdmin)
	admin := login(t, ts.URL, "admin")
	page := admin.page("/admin/rules")
	mustContain(t, "rules page without rules", page, "No rules file is configured", "fleetfeed serve --rules rules.yaml")
	if strings.Contains(page, "Reload rules") {
		t.Errorf("the page offers to reload no file")
	}
	resp, body := admin.post("/admin/rules/reload", url.Values{"csrf": {admin.csrf("/admin/rules")}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no rules file") {
		t.Errorf("reload without a file: %d: %s", resp.StatusCode, body)
	}
}
