package feed_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// clock is a settable time source for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openDB(t *testing.T) (*feed.DB, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	db.Now = c.now
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, c
}

func newPipeline(t *testing.T) (*feed.Pipeline, *clock) {
	db, c := openDB(t)
	return &feed.Pipeline{DB: db, Hub: feed.NewHub()}, c
}

func ev(id, node, text string, sev translators.Severity, thread string, opens, closes bool) translators.Event {
	return translators.Event{
		ID: id, Source: "nagios", Node: node,
		Post: &translators.Draft{Text: text, Tags: []string{"nagios", string(sev)}, Severity: sev, Thread: thread, Opens: opens, Closes: closes},
	}
}

func ingest(t *testing.T, p *feed.Pipeline, evs ...translators.Event) *feed.IngestResult {
	t.Helper()
	res, err := p.Ingest(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func countRows(t *testing.T, db *feed.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	db := feed.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	p := &feed.Pipeline{DB: db}
	if _, err := p.Ingest(context.Background(), []translators.Event{ev("e1", "web01", "Load is high", "warning", "", false, false)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = feed.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, want := countRows(t, db, "posts"), 1; got != want {
		t.Fatalf("posts = %d, want %d", got, want)
	}
	var mode string
	if err := db.SQL().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if got, want := mode, "wal"; got != want {
		t.Fatalf("journal_mode = %q, want %q", got, want)
	}
	var fk int
	if err := db.SQL().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if got, want := fk, 1; got != want {
		t.Fatalf("foreign_keys = %d, want %d", got, want)
	}
}

func TestIngestDeduplicates(t *testing.T) {
	p, _ := newPipeline(t)
	e := ev("nagios:1", "web01", "Load is high", "warning", "", false, false)
	res := ingest(t, p, e, e)
	if got, want := len(res.Posts), 1; got != want {
		t.Fatalf("posts = %d, want %d", got, want)
	}
	if got, want := res.Duplicates, 1; got != want {
		t.Fatalf("duplicates = %d, want %d", got, want)
	}
	res = ingest(t, p, e)
	if got, want := res.Duplicates, 1; got != want {
		t.Fatalf("second batch duplicates = %d, want %d", got, want)
	}
	if got, want := countRows(t, p.DB, "posts"), 1; got != want {
		t.Fatalf("stored posts = %d, want %d", got, want)
	}
}

func TestIngestIDsSortByTime(t *testing.T) {
	p, c := newPipeline(t)
	r1 := ingest(t, p, ev("a", "web01", "One", "info", "", false, false), ev("b", "web01", "Two", "info", "", false, false))
	c.t = c.t.Add(-time.Hour) // a clock that steps back must not reorder ids
	r2 := ingest(t, p, ev("c", "web01", "Three", "info", "", false, false))
	ids := append(r1.Posts, r2.Posts...)
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids %v do not increase", ids)
		}
	}
}

func TestIngestResolvesAliases(t *testing.T) {
	p, _ := newPipeline(t)
	puppet := translators.Event{ID: "p1", Source: "puppet", Node: "web01.example.com",
		Classes: []string{"roles::frontend_web", "profile::nginx"}, Health: "ok"}
	nagios := ev("n1", "web01", "Load is high", "warning", "", false, false)
	nagios.Aliases = []string{"web01.example.com", "192.0.2.10"}
	ids := ev("i1", "192.0.2.10", "Someone is guessing passwords", "warning", "", false, false)
	ingest(t, p, puppet)
	ingest(t, p, nagios, ids)
	if got, want := countRows(t, p.DB, "nodes"), 1; got != want {
		t.Fatalf("nodes = %d, want %d", got, want)
	}
	posts, err := feed.QueryPosts(context.Background(), p.DB.SQL(), `SELECT `+feed.PostColumns+` FROM `+feed.PostFrom+` ORDER BY p.id`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(posts), 2; got != want {
		t.Fatalf("posts = %d, want %d", got, want)
	}
	for _, post := range posts {
		if got, want := post.Node, "web01"; got != want {
			t.Errorf("post node = %q, want %q", got, want)
		}
		if got, want := post.FullText(), post.Text+" #nagios #warning #frontend_web"; got != want {
			t.Errorf("full text = %q, want %q", got, want)
		}
	}
}

func TestIngestThreadsRecoveryOntoProblem(t *testing.T) {
	p, c := newPipeline(t)
	prob := ingest(t, p, ev("1", "web01", "Load is high", "warning", "check:load", true, false))
	c.t = c.t.Add(5 * time.Minute)
	ack := ingest(t, p, ev("2", "web01", "Ann is looking into it", "info", "check:load", false, false))
	c.t = c.t.Add(5 * time.Minute)
	rec := ingest(t, p, ev("3", "web01", "Load is back to normal", "ok", "check:load", false, true))
	c.t = c.t.Add(5 * time.Minute)
	again := ingest(t, p, ev("4", "web01", "Load is high", "warning", "check:load", true, false))

	thread, err := p.DB.Thread(context.Background(), rec.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(thread), 3; got != want {
		t.Fatalf("thread has %d posts, want %d", got, want)
	}
	if got, want := thread[0].ID, prob.Posts[0]; got != want {
		t.Fatalf("root = %d, want %d", got, want)
	}
	for _, reply := range []int64{ack.Posts[0], rec.Posts[0]} {
		post, err := p.DB.PostByID(context.Background(), reply)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := post.InReplyTo, prob.Posts[0]; got != want {
			t.Fatalf("reply %d in_reply_to = %d, want %d", reply, got, want)
		}
	}
	// After the recovery, the same problem starts a new thread: it neither
	// folds into the ended incident nor replies to it.
	if got, want := len(again.Posts), 1; got != want {
		t.Fatalf("new problem made %d posts, want %d", got, want)
	}
	post, err := p.DB.PostByID(context.Background(), again.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := post.InReplyTo, int64(0); got != want {
		t.Fatalf("new problem replies to %d", got)
	}
}

func TestIngestFoldsRepeats(t *testing.T) {
	p, c := newPipeline(t)
	sub := p.Hub.Subscribe(100)
	defer sub.Close()
	first := ingest(t, p, ev("1", "web01", "Disk space is running low", "warning", "check:disk", true, false))
	for i := 2; i <= 12; i++ {
		c.t = c.t.Add(4 * time.Minute)
		res := ingest(t, p, ev(string(rune('a'+i)), "web01", "Disk space is running low", "warning", "check:disk", true, false))
		if got, want := len(res.Folded), 1; got != want {
			t.Fatalf("repeat %d folded %d posts, want %d", i, got, want)
		}
	}
	post, err := p.DB.PostByID(context.Background(), first.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := post.Count, 12; got != want {
		t.Fatalf("count = %d, want %d", got, want)
	}
	if got, want := post.FoldNote(), "12 times in the last hour"; got != want {
		t.Fatalf("fold note = %q, want %q", got, want)
	}
	var updates, counts int
	for len(sub.C()) > 0 {
		n := <-sub.C()
		switch n.Kind {
		case feed.NoticeUpdate:
			updates++
		case feed.NoticeCount:
			counts++
		}
	}
	if updates != 1 || counts != 11 {
		t.Fatalf("notices: %d updates, %d count updates; want 1 and 11", updates, counts)
	}
	// Outside the window the same sentence is news again.
	c.t = c.t.Add(2 * time.Hour)
	res := ingest(t, p, ev("late", "web01", "Disk space is running low", "warning", "", false, false))
	if got, want := len(res.Posts), 1; got != want {
		t.Fatalf("late repeat made %d posts, want %d", got, want)
	}
}

func TestIngestFlappingCollapses(t *testing.T) {
	p, c := newPipeline(t)
	flap := ev("f1", "web01", "The load check keeps switching between good and bad", "warning", "check:load", true, false)
	flap.Post.Flapping = true
	flap.Post.Tags = append(flap.Post.Tags, "flapping")
	start := ingest(t, p, flap)
	for i := 0; i < 5; i++ {
		c.t = c.t.Add(time.Minute)
		ingest(t, p,
			ev("p"+string(rune('0'+i)), "web01", "Load is high", "warning", "check:load", true, false),
			ev("r"+string(rune('0'+i)), "web01", "Load is back to normal", "ok", "check:load", false, true))
	}
	stop := ev("f2", "web01", "The load check has settled down", "ok", "check:load", false, true)
	stop.Post.Tags = append(stop.Post.Tags, "flapping")
	end := ingest(t, p, stop)
	if got, want := countRows(t, p.DB, "posts"), 2; got != want {
		t.Fatalf("posts = %d, want %d (start and stop)", got, want)
	}
	post, err := p.DB.PostByID(context.Background(), start.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := post.Count, 11; got != want {
		t.Fatalf("flapping post count = %d, want %d", got, want)
	}
	stopPost, err := p.DB.PostByID(context.Background(), end.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stopPost.InReplyTo, start.Posts[0]; got != want {
		t.Fatalf("stop replies to %d, want %d", got, want)
	}
	if got, want := countRows(t, p.DB, "incidents"), 0; got != want {
		t.Fatalf("open incidents = %d, want %d", got, want)
	}
}

func TestIngestBatchIsAtomic(t *testing.T) {
	p, _ := newPipeline(t)
	sub := p.Hub.Subscribe(10)
	defer sub.Close()
	good := ev("ok1", "web01", "Load is high", "warning", "", false, false)
	bad := ev("bad", "web02", "Broken", "loud", "", false, false)
	if _, err := p.Ingest(context.Background(), []translators.Event{good, bad}); err == nil {
		t.Fatal("want an error for a bad severity")
	} else if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
		t.Fatalf("error code = %q, want %q (%v)", got, want, err)
	}
	for _, table := range []string{"posts", "events", "nodes", "node_aliases", "post_tags"} {
		if got := countRows(t, p.DB, table); got != 0 {
			t.Errorf("%s has %d rows after a failed batch", table, got)
		}
	}
	if got := len(sub.C()); got != 0 {
		t.Fatalf("hub got %d notices for a failed batch", got)
	}
	// The good event alone still goes in afterwards.
	if res := ingest(t, p, good); len(res.Posts) != 1 {
		t.Fatalf("retry stored %d posts", len(res.Posts))
	}
}

func TestIngestKeepsSentenceShort(t *testing.T) {
	p, _ := newPipeline(t)
	e := translators.Event{ID: "p", Source: "puppet", Node: "web01", Classes: []string{
		"roles::frontend_web", "roles::a_very_long_role_name_number_one", "roles::a_very_long_role_name_number_two",
		"roles::a_very_long_role_name_number_three", "roles::a_very_long_role_name_number_four"}}
	long := ev("x", "web01", "Puppet could not update the web server settings and two other things on this server today", "critical", "", false, false)
	res := ingest(t, p, e, long)
	post, err := p.DB.PostByID(context.Background(), res.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(post.FullText())); n > translators.MaxSentence {
		t.Fatalf("full text is %d characters: %q", n, post.FullText())
	}
}

func TestIngestOnlyIfOpen(t *testing.T) {
	p, _ := newPipeline(t)
	clean := func(id string) translators.Event {
		return translators.Event{ID: id, Source: "puppet", Node: "web01", Health: "ok", Post: &translators.Draft{
			Text: "Puppet runs cleanly again on this server", Tags: []string{"puppet", "ok"}, Severity: "ok",
			Thread: "puppet:run", Closes: true, OnlyIfOpen: true}}
	}
	if res := ingest(t, p, clean("c1")); len(res.Posts) != 0 || res.Quiet != 1 {
		t.Fatalf("clean run with nothing open: %+v", res)
	}
	fail := translators.Event{ID: "f1", Source: "puppet", Node: "web01", Health: "critical", Post: &translators.Draft{
		Text: "Puppet could not run a command on this server", Tags: []string{"puppet", "fail"}, Severity: "critical",
		Thread: "puppet:run", Opens: true}}
	failed := ingest(t, p, fail)
	res := ingest(t, p, clean("c2"))
	if got, want := len(res.Posts), 1; got != want {
		t.Fatalf("clean run after a failure made %d posts, want %d", got, want)
	}
	post, err := p.DB.PostByID(context.Background(), res.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := post.InReplyTo, failed.Posts[0]; got != want {
		t.Fatalf("in_reply_to = %d, want %d", got, want)
	}
	if res := ingest(t, p, clean("c3")); len(res.Posts) != 0 {
		t.Fatalf("a second clean run posted again")
	}
}

func TestIngestFoldsAcrossRestart(t *testing.T) {
	p, c := newPipeline(t)
	first := ingest(t, p, ev("1", "web01", "Someone is guessing passwords", "warning", "ids:x", false, false))
	// A new pipeline over the same database (a restarted server) still
	// folds a repeat into the post made before the restart.
	p2 := &feed.Pipeline{DB: p.DB}
	c.t = c.t.Add(10 * time.Minute)
	res := ingest(t, p2, ev("2", "web01", "Someone is guessing passwords", "warning", "ids:x", false, false))
	if len(res.Folded) != 1 || res.Folded[0] != first.Posts[0] {
		t.Fatalf("repeat after restart: %+v, want a fold into %d", res, first.Posts[0])
	}
	// An event dated before the index's reach is checked in the database.
	old := ev("3", "web01", "Someone is guessing passwords", "warning", "ids:x", false, false)
	old.Time = c.t.Add(-50 * time.Minute)
	res = ingest(t, p2, old)
	if len(res.Folded) != 1 {
		t.Fatalf("old repeat: %+v, want a fold", res)
	}
}
