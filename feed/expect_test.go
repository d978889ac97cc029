package feed_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

func puppetEv(id, node, text string) translators.Event {
	return translators.Event{
		ID: id, Source: translators.SourcePuppet, Node: node,
		Post: &translators.Draft{Text: text, Tags: []string{"puppet", "changed"}, Severity: translators.SeverityInfo},
	}
}

// causePost stores the post an operator's action makes on node and
// returns its id.
func causePost(t *testing.T, p *feed.Pipeline, id, node string) int64 {
	t.Helper()
	res := ingest(t, p, translators.Event{ID: id, Source: "actions", Node: node,
		Post: &translators.Draft{Text: "alice asked " + node + " to run Puppet", Tags: []string{"action"}, Severity: translators.SeverityInfo, Thread: "action:" + id}})
	if len(res.Posts) != 1 {
		t.Fatalf("cause post: %+v", res)
	}
	return res.Posts[0]
}

func causedBy(t *testing.T, p *feed.Pipeline, id int64) int64 {
	t.Helper()
	post, err := p.DB.PostByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return post.CausedBy
}

func expect(t *testing.T, p *feed.Pipeline, xs ...feed.Expectation) {
	t.Helper()
	if err := p.Expect(context.Background(), xs...); err != nil {
		t.Fatal(err)
	}
}

// web01 is known by three names; the Puppet post that follows an action
// is linked to it whichever name the expectation and the report use, and
// only that post.
func TestExpectLinksTheNextPostFromTheNode(t *testing.T) {
	p, _ := newPipeline(t)
	ctx := context.Background()
	known := ev("n0", "web01.example.com", "Load is high", "warning", "", false, false)
	known.Aliases = []string{"web01", "192.0.2.10"}
	ingest(t, p, known, ev("n1", "web02.example.com", "Load is high", "warning", "", false, false))
	cause := causePost(t, p, "a1", "web01")
	expect(t, p, feed.Expectation{Node: "192.0.2.10", Source: translators.SourcePuppet, Cause: cause})

	waiting, err := p.DB.Expecting(ctx, cause)
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 1 || waiting[0].Node != "web01" || waiting[0].Source != "puppet" ||
		!waiting[0].Until.Equal(p.DB.Now().Add(feed.DefaultExpectWindow)) {
		t.Fatalf("expecting %+v, want web01's Puppet report within the default window", waiting)
	}

	sub := p.Hub.Subscribe(10)
	defer sub.Close()
	other := ingest(t, p,
		ev("n2", "web01", "Disk space is running low", "warning", "", false, false),     // another source
		puppetEv("p1", "web02.example.com", "Puppet changed the web server's settings"), // another node
	)
	for _, id := range other.Posts {
		if got := causedBy(t, p, id); got != 0 {
			t.Fatalf("post %d caused by %d, want none", id, got)
		}
	}
	res := ingest(t, p, puppetEv("p2", "WEB01.example.com.", "Puppet changed the web server's settings"))
	if got, want := causedBy(t, p, res.Posts[0]), cause; got != want {
		t.Fatalf("caused by %d, want %d", got, want)
	}
	var notice feed.Notice
	for len(sub.C()) > 0 {
		notice = <-sub.C()
	}
	if got, want := notice.Post.CausedBy, cause; got != want {
		t.Fatalf("hub notice caused by %d, want %d", got, want)
	}
	j, err := json.Marshal(notice.Post)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := doc["caused_by"], feed.FormatID(cause); got != want {
		t.Fatalf("JSON caused_by = %v, want %q", got, want)
	}

	// Used up: the next report is nobody's doing.
	res = ingest(t, p, puppetEv("p3", "web01", "Puppet upgraded openssl"))
	if got := causedBy(t, p, res.Posts[0]); got != 0 {
		t.Fatalf("second report caused by %d, want none", got)
	}
	if got := countRows(t, p.DB, "expectations"); got != 0 {
		t.Fatalf("%d expectations left", got)
	}
	caused, err := p.DB.CausedBy(ctx, cause)
	if err != nil {
		t.Fatal(err)
	}
	if len(caused) != 1 || caused[0].EventID != "p2" {
		t.Fatalf("caused %+v, want the post of p2", caused)
	}
	// A post without a cause says nothing about one.
	plain, _ := p.DB.PostByID(ctx, res.Posts[0])
	pj, _ := json.Marshal(plain)
	var plainDoc map[string]any
	if err := json.Unmarshal(pj, &plainDoc); err != nil {
		t.Fatal(err)
	}
	if _, ok := plainDoc["caused_by"]; ok {
		t.Fatalf("JSON of a post nobody caused has caused_by: %s", pj)
	}
}

// Two runs asked for on one server: the reports take them in order, also
// within one batch.
func TestExpectTwoCausesInOrder(t *testing.T) {
	p, _ := newPipeline(t)
	first, second := causePost(t, p, "a1", "web01"), causePost(t, p, "a2", "web01")
	expect(t, p,
		feed.Expectation{Node: "web01", Source: "puppet", Cause: first},
		feed.Expectation{Node: "web01", Source: "puppet", Cause: second})
	res := ingest(t, p, puppetEv("p1", "web01", "Puppet upgraded openssl"), puppetEv("p2", "web01", "Puppet added a user account"))
	for i, want := range []int64{first, second} {
		if got := causedBy(t, p, res.Posts[i]); got != want {
			t.Fatalf("report %d caused by %d, want %d", i+1, got, want)
		}
	}
}

func TestExpectRunsOut(t *testing.T) {
	p, c := newPipeline(t)
	cause := causePost(t, p, "a1", "web01")
	expect(t, p, feed.Expectation{Node: "web01", Source: "puppet", Cause: cause, Until: c.t.Add(time.Minute)})
	c.t = c.t.Add(2 * time.Minute)
	res := ingest(t, p, puppetEv("p1", "web01", "Puppet upgraded openssl"))
	if got := causedBy(t, p, res.Posts[0]); got != 0 {
		t.Fatalf("report after the window caused by %d, want none", got)
	}
	if got := countRows(t, p.DB, "expectations"); got != 0 {
		t.Fatalf("%d expectations left after they ran out", got)
	}
}

// A run that began well before anyone asked was not asked for, even if
// its report comes in afterwards.
func TestExpectIgnoresRunsThatBeganBefore(t *testing.T) {
	p, c := newPipeline(t)
	cause := causePost(t, p, "a1", "web01")
	expect(t, p, feed.Expectation{Node: "web01", Source: "puppet", Cause: cause})
	old := puppetEv("p1", "web01", "Puppet upgraded openssl")
	old.Time = c.t.Add(-10 * time.Minute)
	res := ingest(t, p, old)
	if got := causedBy(t, p, res.Posts[0]); got != 0 {
		t.Fatalf("an earlier run's report caused by %d, want none", got)
	}
	now := puppetEv("p2", "web01", "Puppet added a user account")
	now.Time = c.t.Add(-30 * time.Second) // the server's clock is a little behind
	res = ingest(t, p, now)
	if got := causedBy(t, p, res.Posts[0]); got != cause {
		t.Fatalf("the run's report caused by %d, want %d", got, cause)
	}
}

// A repeat folds into the earlier post: no new post, so the expectation
// waits for one.
func TestExpectNotTakenByAFold(t *testing.T) {
	p, _ := newPipeline(t)
	before := ingest(t, p, puppetEv("p1", "web01", "Puppet upgraded openssl")).Posts[0]
	cause := causePost(t, p, "a1", "web01")
	expect(t, p, feed.Expectation{Node: "web01", Source: "puppet", Cause: cause})
	res := ingest(t, p, puppetEv("p2", "web01", "Puppet upgraded openssl"))
	if len(res.Folded) != 1 || res.Folded[0] != before {
		t.Fatalf("repeat did not fold: %+v", res)
	}
	if got := causedBy(t, p, before); got != 0 {
		t.Fatalf("folded post caused by %d, want none", got)
	}
	// Nor by a duplicate event.
	if res := ingest(t, p, puppetEv("p1", "web01", "Puppet upgraded openssl")); res.Duplicates != 1 {
		t.Fatalf("not a duplicate: %+v", res)
	}
	if got := countRows(t, p.DB, "expectations"); got != 1 {
		t.Fatalf("%d expectations, want 1 still waiting", got)
	}
	res = ingest(t, p, puppetEv("p3", "web01", "Puppet added a user account"))
	if got := causedBy(t, p, res.Posts[0]); got != cause {
		t.Fatalf("new post caused by %d, want %d", got, cause)
	}
}

// A batch that fails takes nothing: the expectation waits for the retry.
func TestExpectAtomicWithTheBatch(t *testing.T) {
	p, _ := newPipeline(t)
	cause := causePost(t, p, "a1", "web01")
	expect(t, p, feed.Expectation{Node: "web01", Source: "puppet", Cause: cause})
	good := puppetEv("p1", "web01", "Puppet upgraded openssl")
	bad := ev("bad", "web02", "Broken", "loud", "", false, false)
	if _, err := p.Ingest(context.Background(), []translators.Event{good, bad}); err == nil {
		t.Fatal("want an error for a bad severity")
	}
	if got := countRows(t, p.DB, "expectations"); got != 1 {
		t.Fatalf("%d expectations after a failed batch, want 1", got)
	}
	res := ingest(t, p, good)
	if got := causedBy(t, p, res.Posts[0]); got != cause {
		t.Fatalf("retried report caused by %d, want %d", got, cause)
	}
}

// Expectations are kept in the database: a restart does not lose them.
func TestExpectSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	open := func() *feed.Pipeline {
		db := feed.NewDB(path)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return &feed.Pipeline{DB: db}
	}
	p := open()
	cause := causePost(t, p, "a1", "web01")
	// A name no server has yet makes the server.
	expect(t, p, feed.Expectation{Node: "lb01.example.com", Source: "puppet", Cause: cause})
	p.DB.Close()
	p = open()
	res := ingest(t, p, puppetEv("p1", "lb01", "Puppet upgraded openssl"))
	if got := causedBy(t, p, res.Posts[0]); got != cause {
		t.Fatalf("report after a restart caused by %d, want %d", got, cause)
	}
}

func TestExpectRefuses(t *testing.T) {
	p, c := newPipeline(t)
	cause := causePost(t, p, "a1", "web01")
	for _, tc := range []struct {
		name string
		x    feed.Expectation
		code string
	}{
		{"no node", feed.Expectation{Source: "puppet", Cause: cause}, feed.EINVALID},
		{"no source", feed.Expectation{Node: "web01", Cause: cause}, feed.EINVALID},
		{"no cause", feed.Expectation{Node: "web01", Source: "puppet"}, feed.EINVALID},
		{"over", feed.Expectation{Node: "web01", Source: "puppet", Cause: cause, Until: c.t.Add(-time.Second)}, feed.EINVALID},
		{"unknown cause", feed.Expectation{Node: "web01", Source: "puppet", Cause: cause + 1}, feed.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With a good one first: none of the call is kept.
			err := p.Expect(context.Background(), feed.Expectation{Node: "web01", Source: "puppet", Cause: cause}, tc.x)
			if got, want := feed.ErrorCode(err), tc.code; got != want {
				t.Fatalf("error %v, code %q, want %q", err, got, want)
			}
			if got := countRows(t, p.DB, "expectations"); got != 0 {
				t.Fatalf("%d expectations kept from a refused call", got)
			}
		})
	}
}
