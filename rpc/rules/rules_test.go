package rules_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
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
			if got := r.Matches(p); got != tt.want {
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
