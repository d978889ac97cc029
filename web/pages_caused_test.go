package web_test

import (
	"encoding/json"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// An operator asked web01 and lb01 to run Puppet; web01's report came
// in. The report's page links to the request, the request's page lists
// the report and says lb01's is still awaited, and the JSON API says
// caused_by.
func TestPagesLinkARunToWhatAskedForIt(t *testing.T) {
	ts, s := newServer(t)
	ctx := t.Context()
	post := func(ev translators.Event) int64 {
		t.Helper()
		res, err := s.Pipeline.Ingest(ctx, []translators.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Posts) != 1 {
			t.Fatalf("ingest %s: %+v", ev.ID, res)
		}
		return res.Posts[0]
	}
	cause := post(translators.Event{ID: "actions:1:asked", Source: "actions", Node: "web01.shop.example.com",
		Post: &translators.Draft{Text: "alice asked web01 and lb01 to run Puppet", Tags: []string{"action"}, Severity: translators.SeverityInfo, Thread: "action:1"}})
	if err := s.Pipeline.Expect(ctx,
		feed.Expectation{Node: "web01.shop.example.com", Source: translators.SourcePuppet, Cause: cause},
		feed.Expectation{Node: "lb01.shop.example.com", Source: translators.SourcePuppet, Cause: cause},
	); err != nil {
		t.Fatal(err)
	}
	causeURL := ts.URL + "/posts/" + feed.FormatID(cause)
	mustContain(t, "the request's page before any report", page(t, causeURL),
		"What happened next", "Still waiting for Puppet&#39;s reports from @lb01 and @web01.")

	run := post(translators.Event{ID: "puppet:1", Source: translators.SourcePuppet, Node: "web01.shop.example.com",
		Post: &translators.Draft{Text: "Puppet changed the web server's settings on this server", Tags: []string{"puppet", "changed"}, Severity: translators.SeverityInfo}})
	runPath := "/posts/" + feed.FormatID(run)
	mustContain(t, "the report's page", page(t, ts.URL+runPath),
		`<p class="cause"><a href="/posts/`+feed.FormatID(cause)+`">This run was asked for here</a></p>`)
	body := page(t, causeURL)
	mustContain(t, "the request's page", body,
		`<h2 id="caused-heading">What happened next</h2>`,
		`<p class="role">Puppet&#39;s report from @web01</p>`,
		`<a class="when" href="`+runPath+`">`,
		"Still waiting for Puppet&#39;s report from @lb01.")

	a := do(t, "GET", ts.URL+"/api/v1/posts/"+feed.FormatID(run), "", "")
	var ans struct {
		Post struct {
			CausedBy string `json:"caused_by"`
		} `json:"post"`
	}
	if err := json.Unmarshal(a.raw, &ans); err != nil {
		t.Fatal(err)
	}
	if got, want := ans.Post.CausedBy, feed.FormatID(cause); got != want {
		t.Fatalf("caused_by = %q, want %q (%s)", got, want, a.raw)
	}
}
