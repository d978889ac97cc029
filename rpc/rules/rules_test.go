package rules_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/rules"
	"fleetfeed/translators"
)

const restartDetails = `{"resources":[
 {"type":"File","title":"/etc/httpd/conf.d/shop.conf","outcome":"changed","changes":[{"status":"success","property":"content"}]},
 {"type":"Service","title":"httpd","outcome":"changed","changes":[{"status":"success","message":"Triggered 'refresh' from 1 event"}]}]}`

const startDetails = `{"resources":[{"type":"Service","title":"httpd","outcome":"changed",
 "changes":[{"status":"success","property":"ensure","previous_value":"stopped","desired_value":"running"}]}]}`

const packageDetails = `{"resources":[{"type":"Package","title":"httpd","outcome":"changed",
 "changes":[{"status":"success","property":"ensure"}]}]}`

func parseOne(t *testing.T, yaml string) *rules.Rule {
	t.Helper()
	rs, err := rules.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d rules", len(rs))
	}
	return rs[0]
}

const restartRule = `
rules:
  - name: lb
    match: {source: puppet, tags: ["#changed"], roles: [roles::frontend_web], text: "(?i)restarted", resource: "Service[httpd]", restart: true}
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb]}}
`

func TestMatches(t *testing.T) {
	r := parseOne(t, restartRule)
	base := func() *feed.Post {
		return &feed.Post{Source: "puppet", Text: "Puppet restarted the httpd service", Tags: []string{"puppet", "changed", "frontend_web"},
			Details: []byte(restartDetails)}
	}
	tests := []struct {
		name string
		edit func(p *feed.Post)
		want bool
	}{
		{"restart", func(*feed.Post) {}, true},
		{"start", func(p *feed.Post) { p.Details = []byte(startDetails) }, true},
		{"package only", func(p *feed.Post) { p.Details = []byte(packageDetails) }, false},
		{"no details", func(p *feed.Post) { p.Details = nil }, false},
		{"other source", func(p *feed.Post) { p.Source = "nagios" }, false},
		{"other role", func(p *feed.Post) { p.Tags = []string{"puppet", "changed", "database"} }, false},
		{"missing tag", func(p *feed.Post) { p.Tags = []string{"puppet", "frontend_web"} }, false},
		{"text", func(p *feed.Post) { p.Text = "Puppet changed a file" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.edit(p)
			if got := r.Matches(p, nil); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRefusesBadRules(t *testing.T) {
	tests := map[string]string{
		"no filter":      `rules: [{name: a, match: {source: puppet}, run: {agent: puppet, action: runonce}}]`,
		"no match":       `rules: [{name: a, run: {agent: puppet, action: runonce, filter: {class: [x]}}}]`,
		"unknown key":    `rules: [{name: a, cooldwn: 5m, match: {source: puppet}, run: {agent: puppet, action: runonce, filter: {class: [x]}}}]`,
		"bad regex":      `rules: [{name: a, match: {text: "("}, run: {agent: puppet, action: runonce, filter: {class: [x]}}}]`,
		"bad resource":   `rules: [{name: a, match: {resource: httpd}, run: {agent: puppet, action: runonce, filter: {class: [x]}}}]`,
		"restart alone":  `rules: [{name: a, match: {source: puppet, restart: true}, run: {agent: puppet, action: runonce, filter: {class: [x]}}}]`,
		"duplicate name": `rules: [{name: a, match: {source: puppet}, run: {agent: p, action: r, filter: {class: [x]}}}, {name: a, match: {source: puppet}, run: {agent: p, action: r, filter: {class: [x]}}}]`,
		"bad fact":       `rules: [{name: a, match: {source: puppet}, run: {agent: p, action: r, filter: {fact: ["nonsense"]}}}]`,
	}
	for name, yaml := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := rules.Parse([]byte(yaml)); !errors.Is(err, rules.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	r := parseOne(t, `rules: [{name: a, match: {source: puppet}, run: {agent: p, action: r, filter: {class: [x]}}, max_runs: 2}]`)
	if r.Cooldown != rules.DefaultCooldown || r.Per != rules.DefaultPer {
		t.Fatalf("defaults: cooldown %v, per %v", r.Cooldown, r.Per)
	}
}

// fakes record what the engine does.
type fakes struct {
	mu    sync.Mutex
	calls []rpc.Call
	discs int
	posts []translators.Event
	ch    chan struct{}
}

func (f *fakes) Do(_ context.Context, call rpc.Call) (*rpc.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	return &rpc.Result{Stats: rpc.Stats{RequestID: "r1", Targets: []string{"lb1"}, Responded: 1, OK: 1}}, nil
}

func (f *fakes) Discover(context.Context, rpc.Call) (*rpc.Discovery, error) {
	f.mu.Lock()
	f.discs++
	f.mu.Unlock()
	return &rpc.Discovery{Method: "broadcast", Nodes: []string{"lb1", "lb2"}}, nil
}

func (f *fakes) Ingest(_ context.Context, evs []translators.Event) (*feed.IngestResult, error) {
	f.mu.Lock()
	f.posts = append(f.posts, evs...)
	f.mu.Unlock()
	f.ch <- struct{}{}
	return &feed.IngestResult{}, nil
}

func TestCooldownRateLimitAndDryRun(t *testing.T) {
	rs, err := rules.Parse([]byte(`
rules:
  - name: often
    match: {source: puppet}
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb]}}
    cooldown: 1m
    max_runs: 2
    per: 1h
  - name: dry
    match: {source: nagios}
    run: {agent: service, action: restart, data: {service: httpd}, filter: {class: [roles::frontend_web]}}
    cooldown: 1m
    dry_run: true
`))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakes{ch: make(chan struct{}, 16)}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	e := &rules.Engine{Client: f, Poster: f, Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }}
	e.SetRules(rs)
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	ctx := context.Background()
	var id int64
	post := func(source string) {
		id++
		e.Handle(ctx, &feed.Post{ID: id, Node: "web1", Source: source, Thread: "puppet:run"})
	}
	fired := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.posts)
	}
	wait := func(n int) {
		t.Helper()
		for fired() < n {
			select {
			case <-f.ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("%d runs, want %d", fired(), n)
			}
		}
	}
	post("puppet") // runs
	wait(1)
	post("puppet")     // cooldown
	post(rules.Source) // a rule's own post never triggers
	advance(2 * time.Minute)
	post("puppet") // runs: 2 in the hour
	wait(2)
	advance(2 * time.Minute)
	post("puppet") // rate limit
	advance(time.Hour)
	post("puppet") // runs again
	wait(3)
	post("nagios") // dry run
	wait(4)
	time.Sleep(100 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := len(f.calls), 3; got != want {
		t.Fatalf("%d RPCs, want %d", got, want)
	}
	if got, want := len(f.posts), 4; got != want {
		t.Fatalf("%d posts, want %d", got, want)
	}
	if f.discs != 1 || f.calls[0].Via != "rule=often" {
		t.Fatalf("discoveries %d, via %q", f.discs, f.calls[0].Via)
	}
	for _, ev := range f.posts {
		if ev.Post.ReplyTo == 0 || ev.Post.Thread != "puppet:run" || ev.Source != rules.Source || ev.Node != "web1" {
			t.Fatalf("post %+v", ev.Post)
		}
	}
	if dry := f.posts[3].Post; dry.Details["dry_run"] != true || len(dry.Details["targets"].([]string)) != 2 {
		t.Fatalf("dry run post %q %v", dry.Text, dry.Details)
	}
}

const factsRule = `
rules:
  - name: ams-debian
    match:
      source: puppet
      facts: ["datacenter==ams1", "os.family=~/debian/i", "processors.count >= 4"]
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb]}}
`

func TestMatchesFacts(t *testing.T) {
	r := parseOne(t, factsRule)
	p := &feed.Post{Node: "web1", Source: "puppet"}
	debian := func() map[string]any {
		return map[string]any{"datacenter": "ams1", "os": map[string]any{"family": "Debian"}, "processors": map[string]any{"count": 8}}
	}
	tests := []struct {
		name  string
		facts func() map[string]any
		want  bool
	}{
		{"all match", debian, true},
		{"no lookup", nil, false},
		{"unknown node", func() map[string]any { return nil }, false},
		{"other datacenter", func() map[string]any { f := debian(); f["datacenter"] = "fra1"; return f }, false},
		{"other family", func() map[string]any { f := debian(); f["os"] = map[string]any{"family": "RedHat"}; return f }, false},
		{"too few processors", func() map[string]any { f := debian(); f["processors"] = map[string]any{"count": 2}; return f }, false},
		{"fact missing", func() map[string]any { f := debian(); delete(f, "processors"); return f }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Matches(p, tt.facts); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
	// The post is checked first: the facts are not read for a post from
	// another source.
	called := false
	if r.Matches(&feed.Post{Source: "nagios"}, func() map[string]any { called = true; return debian() }) || called {
		t.Fatalf("a nagios post matched or had its facts read (%v)", called)
	}
}

// The engine reads the facts of the post's node from the node store, once
// per post however many rules need them.
func TestEngineMatchesFactsFromTheNodeStore(t *testing.T) {
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	store := &nodes.Store{DB: db}
	for name, facts := range map[string]map[string]any{
		"web1.ams": {"datacenter": "ams1", "os": map[string]any{"family": "Debian"}, "processors": map[string]any{"count": 8}},
		"web2.fra": {"datacenter": "fra1", "os": map[string]any{"family": "Debian"}, "processors": map[string]any{"count": 8}},
		"web3.ams": {"datacenter": "ams1", "os": map[string]any{"family": "RedHat"}, "processors": map[string]any{"count": 8}},
	} {
		if _, err := store.Upsert(ctx, name, nodes.Profile{Facts: facts}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Parse([]byte(factsRule))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		nodes rules.NodeLookup
		want  []string
	}{
		{"with the store", store, []string{"web1.ams"}},
		{"without a node lookup", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakes{ch: make(chan struct{}, 16)}
			e := &rules.Engine{Client: f, Poster: f, Nodes: tt.nodes}
			e.SetRules(rs)
			for i, node := range []string{"web2.fra", "web3.ams", "nowhere", "web1.ams"} {
				e.Handle(ctx, &feed.Post{ID: int64(i + 1), Node: node, Source: "puppet"})
			}
			if tt.want != nil {
				select {
				case <-f.ch:
				case <-time.After(10 * time.Second):
					t.Fatal("the rule did not run")
				}
			}
			time.Sleep(100 * time.Millisecond)
			f.mu.Lock()
			defer f.mu.Unlock()
			var got []string
			for _, ev := range f.posts {
				got = append(got, ev.Node)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("the rule ran for %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrorsSayWhichRuleAndWhere(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad fact", `rules:
  - name: fine
    match: {source: puppet}
    run: {agent: puppet, action: runonce, filter: {class: [x]}}
  - name: ams
    match: {facts: ["datacenter==ams1", "nonsense"]}
    run: {agent: puppet, action: runonce, filter: {class: [x]}}
`, []string{"line 5", "rule 2 (ams)", `"nonsense"`}},
		{"bad fact regex", `rules:
  - name: ams
    match: {facts: ["os.family=~/(/"]}
    run: {agent: puppet, action: runonce, filter: {class: [x]}}
`, []string{"line 2", "rule 1 (ams)", "os.family"}},
		{"long description", `rules:
  - name: long
    description: "` + strings.Repeat("Refresh ", 20) + `"
    match: {source: puppet}
    run: {agent: puppet, action: runonce, filter: {class: [x]}}
`, []string{"line 2", "rule 1 (long)", "description: 160 characters"}},
		{"two-line description", `rules:
  - name: two
    description: "Refresh\nthe load balancers"
    match: {source: puppet}
    run: {agent: puppet, action: runonce, filter: {class: [x]}}
`, []string{"rule 1 (two)", "one line"}},
		{"syntax", "rules:\n  - name: a\n    match: {source: puppet\n", []string{"line"}},
		{"unknown key", "rules:\n  - name: a\n    cooldwn: 5m\n", []string{"line 3", "cooldwn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.Parse([]byte(tt.yaml))
			if !errors.Is(err, rules.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A rule's reply opens with its description, or says an automatic rule
// acted; the name is in the details, never in the sentence.
func TestReplyWordingAndStatuses(t *testing.T) {
	rs, err := rules.Parse([]byte(`
rules:
  - name: lb-after-httpd
    description: Refresh the load balancers after a web server restarts.
    match: {source: puppet}
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb]}}
    max_runs: 3
    per: 2h
  - name: quiet-one
    match: {source: nagios}
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb]}}
  - name: shop-down
    description: Restart the web servers when the shop is down
    match: {source: ids}
    run: {agent: service, action: restart, data: {service: httpd}, filter: {class: [roles::frontend_web]}}
    dry_run: true
`))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakes{ch: make(chan struct{}, 16)}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	e := &rules.Engine{Client: f, Poster: f, Now: func() time.Time { return now }}
	e.SetRules(rs)
	ctx := context.Background()
	for i, src := range []string{"puppet", "nagios", "ids"} {
		e.Handle(ctx, &feed.Post{ID: int64(i + 1), Node: "web1", Source: src})
		select {
		case <-f.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no reply for the %s post", src)
		}
	}
	f.mu.Lock()
	got := map[string]string{}
	for _, ev := range f.posts {
		got[ev.Post.Details["rule"].(string)] = ev.Post.Text
		if len(ev.Post.Text) > 200 || strings.Contains(ev.Post.Text, ev.Post.Details["rule"].(string)) {
			t.Errorf("reply %q is too long or names the rule", ev.Post.Text)
		}
	}
	described := f.posts[0].Post.Details["description"]
	f.mu.Unlock()
	want := map[string]string{
		"lb-after-httpd": "Refresh the load balancers after a web server restarts: 1 server was asked to run Puppet and it did",
		"quiet-one":      "An automatic rule asked 1 server to run Puppet: it did",
		"shop-down":      "Restart the web servers when the shop is down: 2 servers would have been asked to restart a service (a dry run: nothing was sent)",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("reply of %s:\n got %q\nwant %q", name, got[name], w)
		}
	}
	if described != "Refresh the load balancers after a web server restarts." {
		t.Errorf("details description %v", described)
	}

	now = now.Add(90 * time.Minute)
	st := e.Statuses()
	if len(st) != 3 || st[0].Rule.Name != "lb-after-httpd" {
		t.Fatalf("statuses %+v", st)
	}
	lb := st[0]
	if !lb.LastRun.Equal(now.Add(-90*time.Minute)) || lb.RunsInWindow != 1 || lb.Window != 2*time.Hour || lb.LastOutcome != want["lb-after-httpd"] {
		t.Fatalf("status %+v", lb)
	}
	if quiet := st[1]; quiet.RunsInWindow != 0 || quiet.Window != rules.DefaultPer || quiet.LastRun.IsZero() {
		t.Fatalf("a run 90 minutes ago is outside a 1-hour window: %+v", quiet)
	}
}

func TestSummary(t *testing.T) {
	r := parseOne(t, `
rules:
  - name: lb
    match: {source: puppet, tags: ["#changed"], roles: [roles::frontend_web], facts: ["datacenter==ams1", "os.family=~/debian/i"], resource: "Service[httpd]", restart: true}
    run: {agent: puppet, action: runonce, filter: {class: [roles::frontend_lb], fact: ["datacenter==ams1"]}, timeout: 20s}
    cooldown: 1h
    max_runs: 6
    per: 24h
    dry_run: true
`)
	s := r.Summary()
	for _, tt := range []struct{ got, want string }{
		{strings.Join(s.Matches, "; "), "posts from puppet; with all of the hashtags #changed; about a server with the role frontend_web; " +
			"about a server whose fact datacenter is ams1; about a server whose fact os.family matches /debian/; where Puppet restarted or started Service[httpd]"},
		{s.Runs, "run Puppet (puppet runonce), waiting at most 20 seconds for the answers"},
		{strings.Join(s.On, "; "), "servers with the class roles::frontend_lb; servers whose fact datacenter is ams1"},
		{strings.Join(s.Limits, "; "), "at most once every 1 hour; at most 6 runs in any 24 hours; dry run: it only posts which servers it would have asked"},
	} {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
}
