package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fleetfeed/cmd/fleetfeed/internal/demo"
	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
	"fleetfeed/rpc/rules"
	"fleetfeed/translators"
)

// lbRuleYAML is the README's classic example, word for word.
const lbRuleYAML = `
rules:
  - name: lb-after-httpd
    description: Refresh the load balancers after a web server restarts
    match:
      source: puppet
      roles: [roles::frontend_web]
      resource: Service[httpd]
      restart: true
    run:
      agent: puppet
      action: runonce
      filter:
        class: [roles::frontend_lb]
      timeout: 20s
    cooldown: 1h
`

// The classic example, end to end on the embedded broker: httpd restarts
// on a frontend web server, so Puppet runs on exactly the load balancers,
// the run is posted in the report's thread, and a second restart within
// the cooldown does nothing.
func TestRuleRunsPuppetOnLoadBalancersAfterHTTPDRestart(t *testing.T) {
	isLB := func(i int) bool { return i%3 == 0 }
	f := rpctest.NewFleet(t, rpctest.Options{Count: 7, Facts: func(i int, id string) (map[string]any, []string) {
		facts, _ := agent.DemoFacts(i, id)
		if isLB(i) {
			return facts, []string{"roles::frontend_lb", "profile::haproxy"}
		}
		return facts, []string{"roles::frontend_web", "profile::apache"}
	}})
	var lbs []string
	for i, id := range f.Identities() {
		if isLB(i) {
			lbs = append(lbs, id)
		}
	}
	slices.Sort(lbs)
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pipeline := &feed.Pipeline{DB: db, Hub: feed.NewHub()}
	audit := &rpc.SQLiteAuditLog{DB: db}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, err := rpc.NewClient(ctx, f.Dial(t), rpc.ClientConfig{
		Collective: rpctest.Collective, CallerID: rpctest.CallerID,
		Signer:  &rpc.Signer{Name: rpctest.ClientName, Key: f.ClientKey},
		Trusted: f.Trusted, DDLs: agent.BuiltinDDLs(), Audit: audit,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	rs, err := rules.Parse([]byte(lbRuleYAML))
	if err != nil {
		t.Fatal(err)
	}
	watch := pipeline.Hub.Subscribe(256)
	defer watch.Close()
	engine := &rules.Engine{Hub: pipeline.Hub, Client: client, Poster: pipeline}
	engine.SetRules(rs)
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	}()
	waitUntil(t, "the engine subscribes", func() bool { return pipeline.Hub.Len() == 2 })

	passed := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, a := range f.Sim.Agents() {
			m[a.Identity()] = a.Stats().Passed
		}
		return m
	}
	before := passed()
	web := demo.Server{Name: "web01.shop.example.com", Short: "web01", Role: "frontend_web", Classes: []string{"roles::frontend_web"}}
	r := rand.New(rand.NewPCG(1, 2))
	report := func() {
		t.Helper()
		p := demo.PuppetReport(web, demo.PuppetChanged, 1, r, time.Now()) // settings changed, httpd restarted
		evs, err := translators.TranslatePuppet("application/x-yaml", p.Body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.Ingest(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	report()

	var trigger, reply *feed.Post
	deadline := time.After(rpctest.Wait)
	for reply == nil {
		select {
		case n := <-watch.C():
			if n.Kind != feed.NoticeUpdate {
				continue
			}
			switch n.Post.Source {
			case translators.SourcePuppet:
				trigger = n.Post
			case rules.Source:
				reply = n.Post
			}
		case <-deadline:
			t.Fatal("no post of the rule's run")
		}
	}
	if trigger == nil || reply.InReplyTo != trigger.ID || reply.NodeID != trigger.NodeID {
		t.Fatalf("reply %+v does not answer the report %+v", reply, trigger)
	}
	var d struct {
		Targets []string `json:"targets"`
		OK      int      `json:"ok"`
	}
	if err := json.Unmarshal(reply.Details, &d); err != nil {
		t.Fatal(err)
	}
	slices.Sort(d.Targets)
	if !slices.Equal(d.Targets, lbs) || d.OK != len(lbs) {
		t.Fatalf("ran on %v (%d ok), want the load balancers %v; post %q", d.Targets, d.OK, lbs, reply.Text)
	}
	if got, want := reply.Text, "Refresh the load balancers after a web server restarts: "+
		"3 servers were asked to run Puppet and all 3 did it"; got != want || !slices.Contains(reply.Tags, "rule") {
		t.Fatalf("reply %q %v, want %q #rule", got, reply.Tags, want)
	}
	after := passed()
	for id, n := range after {
		if got, want := n > before[id], slices.Contains(lbs, id); got != want {
			t.Fatalf("agent %s ran a request: %v, want %v", id, got, want)
		}
	}
	thread, err := db.Thread(ctx, trigger.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(thread, func(p *feed.Post) bool { return p.ID == reply.ID }) {
		t.Fatalf("the rule's post is not in the report's thread")
	}

	// The load balancers' Puppet runs report in, each linked to the
	// rule's post.
	waitUntil(t, "the rule waits for the load balancers' reports", func() bool {
		xs, err := db.Expecting(ctx, reply.ID)
		return err == nil && len(xs) == len(lbs)
	})
	for i, id := range lbs {
		lb := demo.Server{Name: id, Short: strings.SplitN(id, ".", 2)[0], Role: "frontend_lb", Classes: []string{"roles::frontend_lb"}}
		evs, err := translators.TranslatePuppet("application/x-yaml", demo.PuppetReport(lb, demo.PuppetChanged, i, r, time.Now()).Body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.Ingest(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	caused, err := db.CausedBy(ctx, reply.ID)
	if err != nil {
		t.Fatal(err)
	}
	var causedNodes []string
	for _, c := range caused {
		if c.Source != translators.SourcePuppet {
			t.Fatalf("caused post %+v is not a Puppet report", c)
		}
		causedNodes = append(causedNodes, c.Node)
	}
	if len(caused) != len(lbs) || slices.Contains(causedNodes, trigger.Node) {
		t.Fatalf("the rule's post caused the posts of %v, want the %d load balancers'", causedNodes, len(lbs))
	}

	// Within the cooldown, another restart does not fire the rule.
	report()
	time.Sleep(500 * time.Millisecond)
	for {
		select {
		case n := <-watch.C():
			if n.Post.Source == rules.Source {
				t.Fatalf("the rule ran again within its cooldown: %q", n.Post.Text)
			}
			continue
		default:
		}
		break
	}
	for id, n := range passed() {
		if n != after[id] {
			t.Fatalf("agent %s ran a request within the cooldown", id)
		}
	}
	entries, err := audit.List(ctx, rpc.AuditPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries.Entries) != 1 || entries.Entries[0].Via != "rule=lb-after-httpd" || entries.Entries[0].Action != "runonce" {
		t.Fatalf("audit log %+v", entries.Entries)
	}
}

func TestReloadRulesKeepsTheOldOnesWhenTheFileIsBad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(lbRuleYAML)
	engine := &rules.Engine{}
	admin := &rulesAdmin{path: path, engine: engine, logger: slog.New(slog.DiscardHandler)}
	if err := admin.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		reloadRules(ctx, reload, admin)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	names := func() []string {
		var out []string
		for _, r := range engine.Rules() {
			out = append(out, r.Name)
		}
		return out
	}

	write(strings.ReplaceAll(lbRuleYAML, "lb-after-httpd", "renamed"))
	reload <- syscall.SIGHUP
	waitUntil(t, "the renamed rule", func() bool { return slices.Equal(names(), []string{"renamed"}) })
	write("rules: [{name: broken}]")
	reload <- syscall.SIGHUP
	reload <- syscall.SIGHUP // handled once the first is done
	if got, want := names(), []string{"renamed"}; !slices.Equal(got, want) {
		t.Fatalf("rules %v after a bad file, want %v", got, want)
	}
	// The page learns why, whether SIGHUP or its button reloaded.
	if _, err := admin.LastReload(); !errors.Is(err, rules.ErrInvalid) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("last reload error %v, want the invalid rule's line", err)
	}
}

func TestServeWithRules(t *testing.T) {
	dir := t.TempDir()
	var kout, kerr bytes.Buffer
	if code := Main(context.Background(), []string{"keygen", "rules", "--dir", dir}, nil, &kout, &kerr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, kerr.String())
	}
	good, bad := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(lbRuleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("rules: [{name: broken}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLEETFEED_ADMIN_PASSWORD", "correct horse battery staple")
	addr := freeAddr(t)
	serve := func(ctx context.Context, rulesFile string, out io.Writer) int {
		return Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", addr,
			"--stomp-listen", freeAddr(t), "--stomp-passcode", "pw", "--ingest-token", "tok", "--admin-user", "boss",
			"--rules", rulesFile, "--rules-key", filepath.Join(dir, "client.key"), "--rules-key-name", "rules"},
			strings.NewReader(""), io.Discard, out)
	}
	var out bytes.Buffer
	if code := serve(context.Background(), bad, &out); code == 0 || !strings.Contains(out.String(), "--rules") ||
		!strings.Contains(out.String(), "line 1") {
		t.Fatalf("a bad rules file: exit %d: %s", code, out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var log lockedBuffer
	go func() { done <- serve(ctx, good, &log) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, log.String())
		}
	}()
	waitUntil(t, "rules loaded", func() bool { return strings.Contains(log.String(), "rules loaded") })
	waitUntil(t, "serving", func() bool { return strings.Contains(log.String(), "fleetfeed is serving") })

	// The administrators' page shows the rules and reloads the file, as
	// SIGHUP does.
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d: %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	post := func(from, path string, form url.Values) string {
		t.Helper()
		m := csrfRe.FindStringSubmatch(get(from))
		if m == nil {
			t.Fatalf("%s has no CSRF token", from)
		}
		form.Set("csrf", html.UnescapeString(m[1]))
		resp, err := c.PostForm(base+path, form) // follows the redirect
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post("/login", "/login", url.Values{"name": {"boss"}, "password": {"correct horse battery staple"}, "next": {"/"}})
	page := get("/admin/rules")
	for _, want := range []string{"lb-after-httpd", "Reload rules", "where Puppet restarted or started Service[httpd]",
		"servers with the class roles::frontend_lb", "at most once every 1 hour", "not since the server started"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Fatalf("the rules page does not say %q:\n%s", want, page)
		}
	}
	renamed := strings.NewReplacer("lb-after-httpd", "renamed", "Refresh the load balancers", "Update the load balancers").
		Replace(lbRuleYAML)
	if err := os.WriteFile(good, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	page = post("/admin/rules", "/admin/rules/reload", url.Values{})
	if !strings.Contains(page, "The rules file is reloaded: 1 rule in use.") || !strings.Contains(page, "renamed") ||
		!strings.Contains(page, "Update the load balancers") || strings.Contains(page, "lb-after-httpd") {
		t.Fatalf("after a reload:\n%s", page)
	}
	if err := os.WriteFile(good, []byte("rules:\n  - name: broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	page = post("/admin/rules", "/admin/rules/reload", url.Values{})
	for _, want := range []string{"did not load", "line 2: rule 1 (broken)", "<h3 id=\"rule-renamed\">renamed</h3>"} {
		if !strings.Contains(page, want) {
			t.Fatalf("after reloading a broken file the page does not say %q:\n%s", want, page)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
