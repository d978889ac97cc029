package demo

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"fleetfeed/translators"
)

// Every quick change of every role makes a post: a changed run, or drift
// for a noop run, with a sentence other than the change before it in
// turn (so that the post does not fold into the last run's), and the run
// takes seconds, not minutes.
func TestQuickChangesPost(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for _, s := range NewFleet(DefaultSize, 1) {
		if seen[s.Role] {
			continue
		}
		seen[s.Role] = true
		for _, status := range []PuppetStatus{PuppetChanged, PuppetNoop} {
			var texts []string
			for _, c := range quickChanges {
				start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
				p, end := puppetRunFrom(s, status, c, r, start)
				if d := end.Sub(start); d < time.Second || d > 20*time.Second {
					t.Errorf("%s %s change %d: the run takes %v", s.Role, status, c, d)
				}
				evs, err := translators.TranslatePuppet(p.ContentType, p.Body)
				if err != nil {
					t.Fatal(err)
				}
				ev := evs[0]
				want := map[PuppetStatus]string{PuppetChanged: "changed", PuppetNoop: "drift"}[status]
				if ev.Post == nil || !slices.Contains(ev.Post.Tags, want) {
					t.Fatalf("%s %s change %d: post %+v, want one tagged %s", s.Role, status, c, ev.Post, want)
				}
				if !ev.Time.Equal(start) || ev.Node != s.Name {
					t.Errorf("%s change %d: report of %s at %v, want %s at %v", s.Role, c, ev.Node, ev.Time, s.Name, start)
				}
				texts = append(texts, ev.Post.Text)
			}
			for i, text := range texts {
				if next := texts[(i+1)%len(texts)]; next == text {
					t.Errorf("%s %s: two changes in a row say %q", s.Role, status, text)
				}
			}
		}
	}
}

func TestPuppetRunsSendsTheReport(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	fleet := NewFleet(6, 1)
	var l logs
	pr, err := NewPuppetRuns(context.Background(), Config{BaseURL: srv.URL, Token: "tok", Fleet: fleet, Seed: 7, Logf: l.logf})
	if err != nil {
		t.Fatal(err)
	}
	var waited []time.Duration
	pr.after = func(d time.Duration) <-chan time.Time {
		waited = append(waited, d)
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	before := time.Now()
	web := fleet[0].Name
	for _, noop := range []bool{false, false, true} {
		pr.Started(web, noop)
		pr.Wait()
	}
	pr.Started("stranger.example.com", false)
	pr.Wait()

	reqs := rec.requests()
	if got, want := len(reqs), 3; got != want {
		t.Fatalf("%d requests, want %d", got, want)
	}
	var texts []string
	for i, req := range reqs {
		if req.path != "/api/v1/ingest/puppet" || req.auth != "Bearer tok" || req.contentType != ContentYAML {
			t.Fatalf("request %d: %s %s (%s, %s)", i, req.method, req.path, req.auth, req.contentType)
		}
		evs, err := translators.TranslatePuppet(req.contentType, req.body)
		if err != nil {
			t.Fatal(err)
		}
		ev := evs[0]
		if ev.Node != web || ev.Post == nil || ev.Time.Before(before) {
			t.Fatalf("report %d: %s at %v with post %+v, want %s's run after %v", i, ev.Node, ev.Time, ev.Post, web, before)
		}
		want := "changed"
		if i == 2 {
			want = "drift"
		}
		if !slices.Contains(ev.Post.Tags, want) {
			t.Fatalf("report %d tagged %v, want %s", i, ev.Post.Tags, want)
		}
		texts = append(texts, ev.Post.Text)
	}
	if texts[0] == texts[1] {
		t.Fatalf("two runs in a row say %q: the second folds into the first", texts[0])
	}
	for _, d := range waited {
		if d < time.Second || d > 25*time.Second {
			t.Fatalf("waited %v for a run to end", d)
		}
	}
	if lines := l.all(); len(lines) != 1 || !strings.Contains(lines[0], "stranger.example.com") {
		t.Fatalf("logs %q", lines)
	}
}
