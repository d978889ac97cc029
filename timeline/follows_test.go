package timeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/translators"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// fixture is a small fleet: two web servers in AMS1, a database and a load
// balancer in FRA1, and a mail server nowhere, with posts of every kind.
type fixture struct {
	db      *feed.DB
	pipe    *feed.Pipeline
	reader  *timeline.Reader
	follows *timeline.Follows
	alice   int64
	bob     int64
	all     []*feed.Post
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	db.Now = c.now
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, pipe: &feed.Pipeline{DB: db, Hub: feed.NewHub()}, reader: &timeline.Reader{DB: db}, follows: &timeline.Follows{DB: db}}

	type ev struct {
		node, text string
		tags       []string
		sev        translators.Severity
	}
	classes := map[string][]string{
		"web01": {"roles::frontend_web"}, "web02": {"roles::frontend_web"},
		"db01": {"roles::database"}, "lb01": {"roles::loadbalancer"}, "mail01": {"roles::mail"},
	}
	evs := []ev{
		{"web01", "Experiencing high load", []string{"nagios", "warning"}, "warning"},
		{"db01", "Disk space is running low", []string{"nagios", "warning"}, "warning"},
		{"web02", "The web server stopped", []string{"nagios", "critical"}, "critical"},
		{"lb01", "Someone tried many passwords", []string{"security", "fail2ban"}, "warning"},
		{"web01", "The load is back to normal", []string{"nagios", "ok"}, "ok"},
		{"mail01", "Puppet changed 3 settings", []string{"puppet", "changed"}, "info"},
		{"db01", "The database is not answering", []string{"nagios", "critical"}, "critical"},
		{"web02", "Puppet could not apply its settings", []string{"puppet", "fail"}, "critical"},
		{"lb01", "Suspicious traffic from one address", []string{"security", "suricata"}, "warning"},
		{"mail01", "Disk space is back", []string{"nagios", "ok"}, "ok"},
		{"web01", "Puppet changed 1 setting", []string{"puppet", "changed"}, "info"},
		{"db01", "The database answers again", []string{"nagios", "ok"}, "ok"},
	}
	for i, e := range evs {
		_, err := f.pipe.Ingest(ctx, []translators.Event{{
			ID: fmt.Sprintf("test:%d", i), Source: "events", Node: e.node + ".example.com", Classes: classes[e.node],
			Post: &translators.Draft{Text: e.text, Tags: e.tags, Severity: e.sev},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{
		`UPDATE nodes SET datacenter = 'AMS1' WHERE name IN ('web01', 'web02')`,
		`UPDATE nodes SET datacenter = 'FRA1' WHERE name IN ('db01', 'lb01')`,
		`UPDATE nodes SET bio = 'The load balancer in front of the shop' WHERE name = 'lb01'`,
		`INSERT INTO users (name, password, role, created_at, updated_at) VALUES ('alice', '-', 'viewer', 0, 0), ('bob', '-', 'viewer', 0, 0)`,
	} {
		if _, err := db.SQL().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	f.alice, f.bob = 1, 2
	all, err := f.reader.Public(ctx, timeline.Page{Limit: timeline.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), len(evs); got != want {
		t.Fatalf("fixture has %d posts, want %d", got, want)
	}
	f.all = all
	return f
}

// sentences names posts by their server and first words, for messages.
func sentences(posts []*feed.Post) string {
	var s []string
	for _, p := range posts {
		s = append(s, p.Node+": "+p.Text)
	}
	return strings.Join(s, " | ")
}

// want returns the fixture's posts for which keep is true, newest first.
func (f *fixture) want(keep func(p *feed.Post) bool) []*feed.Post {
	var out []*feed.Post
	for _, p := range f.all {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// pages reads a whole timeline two posts at a time, following max_id.
func pages(t *testing.T, read func(timeline.Page) ([]*feed.Post, error)) []*feed.Post {
	t.Helper()
	var out []*feed.Post
	page := timeline.Page{Limit: 2}
	for i := 0; i < 50; i++ {
		got, err := read(page)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return out
		}
		out = append(out, got...)
		page.MaxID = got[len(got)-1].ID
	}
	t.Fatal("paging does not end")
	return nil
}

func samePosts(t *testing.T, what string, got, want []*feed.Post) {
	t.Helper()
	if g, w := sentences(got), sentences(want); g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestQueriesSQLAgreesWithMatches runs each query both ways: as SQL over
// the store (whole and in pages of two) and in memory over every post.
func TestQueriesSQLAgreesWithMatches(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, s := range []string{
		"#frontend_web AND #critical",
		"#security OR #fail",
		"NOT #ok",
		"#ams1",
		"#fra1 AND NOT #security",
		"dc:ams1 OR from:db01",
		"from:web01.example.com",
		"severity:critical",
		"severity:warning AND NOT #nagios",
		"(#nagios OR #puppet) AND NOT (severity:ok OR severity:info)",
		"disk",
		"disk space back",
		"puppet changed",
		`"load is back"`,
		"balancer",
		"balancer suspicious",
		"databa*",
		"load -#ok",
		"from:nobody OR #nothing",
		"#frontend_web",
	} {
		t.Run(s, func(t *testing.T) {
			q, err := timeline.ParseSearch(s)
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.reader.Compile(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := f.want(c.Matches)
			got, err := f.reader.Search(ctx, s, timeline.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			samePosts(t, "SQL", got, want)
			samePosts(t, "pages", pages(t, func(p timeline.Page) ([]*feed.Post, error) { return f.reader.Search(ctx, s, p) }), want)
		})
	}
}

func TestHome(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	home := func(p timeline.Page) ([]*feed.Post, error) { return f.follows.Home(ctx, f.alice, p) }

	got, err := home(timeline.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("home of a user who follows nothing: %s", sentences(got))
	}
	if err := f.follows.FollowNode(ctx, f.alice, "web01"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.FollowNode(ctx, f.alice, "db01.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.FollowTag(ctx, f.alice, "#Security"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.FollowNode(ctx, f.alice, "nosuch"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("following an unknown server: %v", err)
	}
	// web01 posts #security too? No: lb01's security posts come by tag,
	// web01's and db01's by server, each once.
	want := f.want(func(p *feed.Post) bool {
		return p.Node == "web01" || p.Node == "db01" || containsTag(p.Tags, "security")
	})
	samePosts(t, "home", pages(t, home), want)

	in, err := f.follows.Interests(ctx, f.alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.all {
		if got, want := in.Matches(p), p.Node == "web01" || p.Node == "db01" || containsTag(p.Tags, "security"); got != want {
			t.Errorf("Matches(%s: %s) = %v, want %v", p.Node, p.Text, got, want)
		}
	}

	// since_id and min_id: the posts after the third oldest.
	mid := want[len(want)-3].ID
	since, err := home(timeline.Page{SinceID: mid, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	samePosts(t, "since_id", since, want[:2])
	minPage, err := home(timeline.Page{MinID: mid, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	samePosts(t, "min_id", minPage, []*feed.Post{want[len(want)-4], want[len(want)-5]})

	// Unfollowing is seen at once.
	if err := f.follows.UnfollowNode(ctx, f.alice, "db01"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.UnfollowTag(ctx, f.alice, "security"); err != nil {
		t.Fatal(err)
	}
	samePosts(t, "after unfollowing", pages(t, home), f.want(func(p *feed.Post) bool { return p.Node == "web01" }))
	g, err := f.follows.Following(ctx, f.alice)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(g.Nodes, ","), "web01"; got != want || len(g.Tags) != 0 || !g.FollowsNode("WEB01") {
		t.Fatalf("Following = %+v", g)
	}
}

// TestHomeManyServers follows more servers than are read one by one, so
// the home timeline first narrows them by their newest posts.
func TestHomeManyServers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var evs []translators.Event
	for i := 0; i < 40; i++ {
		for j := 0; j <= i%3; j++ {
			evs = append(evs, translators.Event{ID: fmt.Sprintf("many:%d:%d", i, j), Source: "events", Node: fmt.Sprintf("app%02d", i),
				Post: &translators.Draft{Text: fmt.Sprintf("Post %d of app%02d", j, i), Tags: []string{"info"}, Severity: "info"}})
		}
	}
	if _, err := f.pipe.Ingest(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i += 2 {
		if err := f.follows.FollowNode(ctx, f.alice, fmt.Sprintf("app%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	f.follows.FollowNode(ctx, f.alice, "db01")
	all, _ := f.reader.Public(ctx, timeline.Page{Limit: timeline.MaxLimit})
	f.all = all
	want := f.want(func(p *feed.Post) bool {
		var n int
		_, err := fmt.Sscanf(p.Node, "app%d", &n)
		return (err == nil && n%2 == 0) || p.Node == "db01"
	})
	for _, limit := range []int{1, 2, 3, 7} {
		var got []*feed.Post
		page := timeline.Page{Limit: limit}
		for {
			ps, err := f.follows.Home(ctx, f.alice, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) == 0 {
				break
			}
			got = append(got, ps...)
			page.MaxID = ps[len(ps)-1].ID
		}
		samePosts(t, fmt.Sprintf("home in pages of %d", limit), got, want)
	}
	// Oldest first after min_id, too.
	var got []*feed.Post
	page := timeline.Page{Limit: 3, MinID: 1}
	for {
		ps, err := f.follows.Home(ctx, f.alice, page)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 {
			break
		}
		got = append(got, ps...)
		page.MinID = ps[len(ps)-1].ID
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID > got[j].ID })
	samePosts(t, "home by min_id", got, want)
}

func containsTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func TestLists(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l, err := f.follows.CreateList(ctx, f.alice, "Shop front", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.follows.CreateList(ctx, f.alice, "Shop front", true); feed.ErrorCode(err) != feed.ECONFLICT {
		t.Fatalf("a second list of the same name: %v", err)
	}
	if err := f.follows.AddListNode(ctx, f.alice, l.ID, "lb01"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.AddListQuery(ctx, f.alice, l.ID, "#frontend_web AND #critical"); err != nil {
		t.Fatal(err)
	}
	err = f.follows.AddListQuery(ctx, f.alice, l.ID, "#frontend_web AND (#critical")
	if feed.ErrorCode(err) != feed.EINVALID || !strings.Contains(feed.ErrorMessage(err), "at character 19") {
		t.Fatalf("a bad query: %v", err)
	}
	want := f.want(func(p *feed.Post) bool {
		return p.Node == "lb01" || (containsTag(p.Tags, "frontend_web") && containsTag(p.Tags, "critical"))
	})
	list := func(viewer int64) func(timeline.Page) ([]*feed.Post, error) {
		return func(p timeline.Page) ([]*feed.Post, error) { return f.follows.ListTimeline(ctx, viewer, l.ID, p) }
	}
	samePosts(t, "list timeline", pages(t, list(f.alice)), want)

	// Private: bob can neither read nor follow nor change it.
	if _, err := f.follows.ListTimeline(ctx, f.bob, l.ID, timeline.Page{}); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("bob reads a private list: %v", err)
	}
	if err := f.follows.FollowList(ctx, f.bob, l.ID); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("bob follows a private list: %v", err)
	}
	// The list is not in alice's home until she follows it.
	if got, _ := f.follows.Home(ctx, f.alice, timeline.Page{}); len(got) != 0 {
		t.Fatalf("home before following the list: %s", sentences(got))
	}
	if err := f.follows.FollowList(ctx, f.alice, l.ID); err != nil {
		t.Fatal(err)
	}
	samePosts(t, "home with the list", pages(t, func(p timeline.Page) ([]*feed.Post, error) { return f.follows.Home(ctx, f.alice, p) }), want)

	// Public: bob reads and follows it, but may not change it.
	if err := f.follows.UpdateList(ctx, f.alice, l.ID, "Shop", true); err != nil {
		t.Fatal(err)
	}
	samePosts(t, "bob's view", pages(t, list(f.bob)), want)
	samePosts(t, "anonymous view", pages(t, list(0)), want)
	if err := f.follows.FollowList(ctx, f.bob, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.AddListNode(ctx, f.bob, l.ID, "mail01"); feed.ErrorCode(err) != feed.EFORBIDDEN {
		t.Fatalf("bob changes alice's list: %v", err)
	}
	samePosts(t, "bob's home", pages(t, func(p timeline.Page) ([]*feed.Post, error) { return f.follows.Home(ctx, f.bob, p) }), want)
	got, err := f.follows.List(ctx, f.bob, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Shop" || got.Owner != "alice" || got.Followers != 2 || strings.Join(got.Nodes, ",") != "lb01" ||
		strings.Join(got.Queries, ",") != "#frontend_web AND #critical" {
		t.Fatalf("List = %+v", got)
	}
	// Made private again, it leaves bob's home and follows.
	if err := f.follows.UpdateList(ctx, f.alice, l.ID, "Shop", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.follows.Home(ctx, f.bob, timeline.Page{}); len(got) != 0 {
		t.Fatalf("bob's home after the list went private: %s", sentences(got))
	}
	if g, _ := f.follows.Following(ctx, f.bob); len(g.Lists) != 0 {
		t.Fatalf("bob still follows %d lists", len(g.Lists))
	}
	own, err := f.follows.OwnLists(ctx, f.alice)
	if err != nil || len(own) != 1 {
		t.Fatalf("OwnLists = %v, %v", own, err)
	}
	if pub, _ := f.follows.PublicLists(ctx); len(pub) != 0 {
		t.Fatalf("PublicLists holds a private list")
	}
	if err := f.follows.RemoveListQuery(ctx, f.alice, l.ID, "#frontend_web AND #critical"); err != nil {
		t.Fatal(err)
	}
	if err := f.follows.RemoveListNode(ctx, f.alice, l.ID, "lb01"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.follows.ListTimeline(ctx, f.alice, l.ID, timeline.Page{}); len(got) != 0 {
		t.Fatalf("an empty list's timeline: %s", sentences(got))
	}
	if err := f.follows.DeleteList(ctx, f.alice, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.follows.List(ctx, f.alice, l.ID); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("a deleted list: %v", err)
	}
}

func TestSearchIndexFollowsChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	count := func(q string) int {
		t.Helper()
		got, err := f.reader.Search(ctx, q, timeline.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if got, want := count("shop"), 2; got != want {
		t.Fatalf("posts of the server whose bio says shop: %d, want %d", got, want)
	}
	// A new bio is searchable at once; the old one is gone.
	if _, err := f.db.SQL().Exec(`UPDATE nodes SET bio = 'Relays the mail of the company' WHERE name = 'lb01'`); err != nil {
		t.Fatal(err)
	}
	if got, want := count("shop"), 0; got != want {
		t.Fatalf("after the bio changed, shop finds %d, want %d", got, want)
	}
	if got, want := count("relays"), 2; got != want {
		t.Fatalf("the new bio finds %d, want %d", got, want)
	}
	// Deleting a server deletes its posts and their index entries.
	if _, err := f.db.SQL().Exec(`DELETE FROM nodes WHERE name = 'db01'`); err != nil {
		t.Fatal(err)
	}
	if got, want := count("database"), 0; got != want {
		t.Fatalf("deleted posts still found: %d", got)
	}
	var n int
	f.db.SQL().QueryRow(`SELECT COUNT(*) FROM posts_fts WHERE posts_fts MATCH 'database'`).Scan(&n)
	if n != 0 {
		t.Fatalf("the index still holds %d deleted posts", n)
	}
	for _, bad := range []string{`"open`, "from:", "severity:urgent", "(disk"} {
		if _, err := f.reader.Search(ctx, bad, timeline.Page{}); feed.ErrorCode(err) != feed.EINVALID {
			t.Errorf("Search(%q) = %v, want EINVALID", bad, err)
		}
	}
	// Hostile input is only ever a phrase of words.
	for _, s := range []string{`NEAR(a b)`, `text:disk`, `"a" OR "b"`, `*`, `a AND`} {
		if _, err := f.reader.Search(ctx, s, timeline.Page{}); err != nil && feed.ErrorCode(err) != feed.EINVALID {
			t.Errorf("Search(%q) = %v: an internal error", s, err)
		}
	}
}

func TestDatacenterTimeline(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	got, err := f.reader.Datacenter(ctx, "AMS1", timeline.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	samePosts(t, "AMS1", got, f.want(func(p *feed.Post) bool { return p.Node == "web01" || p.Node == "web02" }))
	if _, err := f.reader.Datacenter(ctx, "NOWHERE", timeline.Page{}); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("an unknown datacenter: %v", err)
	}
}

func TestSearchIndexesNewPosts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if n, err := f.reader.IndexPending(ctx); err != nil || n != int64(len(f.all)) {
		t.Fatalf("IndexPending = %d, %v; want the fixture's %d posts", n, err, len(f.all))
	}
	if n, _ := f.reader.IndexPending(ctx); n != 0 {
		t.Fatalf("a second IndexPending indexed %d", n)
	}
	_, err := f.pipe.Ingest(ctx, []translators.Event{
		{ID: "new:1", Node: "web01", Post: &translators.Draft{Text: "The certificate expires soon", Tags: []string{"warning"}, Severity: "warning"}},
		{ID: "new:2", Node: "web02", Post: &translators.Draft{Text: "Another certificate expires", Tags: []string{"warning"}, Severity: "warning"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A post deleted before it was indexed leaves the index sound.
	if _, err := f.db.SQL().Exec(`DELETE FROM posts WHERE event_id = 'new:2'`); err != nil {
		t.Fatal(err)
	}
	got, err := f.reader.Search(ctx, "certificate", timeline.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Text != "The certificate expires soon" {
		t.Fatalf("search after ingest: %s", sentences(got))
	}
	// FTS4 reports a corrupt index as an error here.
	if _, err := f.db.SQL().Exec(`INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("integrity-check: %v", err)
	}
}
