package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
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

const lbRuleYAML = `
rules:
  - name: lb-after-httpd
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
	rs, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine := &rules.Engine{}
	engine.SetRules(rs)
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		reloadRules(ctx, reload, path, engine, slog.New(slog.DiscardHandler))
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
	serve := func(ctx context.Context, rulesFile string, out io.Writer) int {
		return Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", freeAddr(t),
			"--stomp-listen", freeAddr(t), "--stomp-passcode", "pw", "--ingest-token", "tok",
			"--rules", rulesFile, "--rules-key", filepath.Join(dir, "client.key"), "--rules-key-name", "rules"},
			strings.NewReader(""), io.Discard, out)
	}
	var out bytes.Buffer
	if code := serve(context.Background(), bad, &out); code == 0 || !strings.Contains(out.String(), "--rules") {
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
