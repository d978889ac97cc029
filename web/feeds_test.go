package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fleetfeed/web"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// feedFixture stores a fixed set of posts at fixed times: a thread of
// three, a folded post, a post with markup in it, on two servers.
func feedFixture(t *testing.T, configure func(*web.Server)) (string, *web.Server) {
	t.Helper()
	ts, s := startServer(t, configure)
	advance := fixedClock(s, time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	steps := []string{
		`{"id":"f1","node":"web01.example.com","classes":["roles::frontend_web"],"post":{"text":"Disk space is running low","tags":["nagios","warning"],"severity":"warning","thread":"check:disk","opens":true,"details":{"free":"3%"}}}`,
		`{"id":"f2","node":"web01.example.com","post":{"text":"Someone is looking into it","tags":["nagios","acknowledged"],"severity":"info","thread":"check:disk"}}`,
		`{"id":"f3","node":"db01","post":{"text":"Someone tried many passwords","tags":["security","warning"],"severity":"warning"}}`,
		`{"id":"f4","node":"db01","post":{"text":"Someone tried many passwords","tags":["security","warning"],"severity":"warning"}}`,
		`{"id":"f5","node":"db01","post":{"text":"A request carried <script>alert(\"x\")</script> & more","tags":["security","critical"],"severity":"critical"}}`,
		`{"id":"f6","node":"web01.example.com","post":{"text":"Disk space is back to normal","tags":["nagios","ok"],"severity":"ok","thread":"check:disk","closes":true}}`,
	}
	for _, line := range steps {
		advance(7 * time.Minute)
		if a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/json", line); a.status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", a.status, a.raw)
		}
	}
	return ts.URL, s
}

func TestFeedsMatchGoldenFiles(t *testing.T) {
	base, _ := feedFixture(t, func(s *web.Server) { s.BaseURL = "https://fleet.example.com/" })
	for _, path := range []string{"/public.rss", "/public.atom", "/public.json", "/@web01.rss", "/tags/security.atom"} {
		resp, body := get(t, base+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
		}
		golden := filepath.Join("testdata", "feeds", strings.NewReplacer("/", "", "@", "node-", ".", "-").Replace(path)+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to write it)", err)
		}
		if body != string(want) {
			t.Errorf("GET %s differs from %s (go test -update rewrites it):\n%s", path, golden, body)
		}
	}
}

func TestFeedsAnswerConditionalRequests(t *testing.T) {
	base, _ := feedFixture(t, nil)
	for _, path := range []string{"/public.rss", "/public.atom", "/public.json", "/@web01.atom", "/tags/security.json"} {
		resp, _ := get(t, base+path)
		etag, modified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if resp.StatusCode != 200 || etag == "" || modified == "" {
			t.Fatalf("GET %s: %d, ETag %q, Last-Modified %q", path, resp.StatusCode, etag, modified)
		}
		for _, h := range [][]string{
			{"If-None-Match", etag},
			{"If-None-Match", `"other", ` + etag},
			{"If-None-Match", "W/" + etag},
			{"If-Modified-Since", modified},
		} {
			resp, body := get(t, base+path, h...)
			if resp.StatusCode != http.StatusNotModified || body != "" || resp.Header.Get("ETag") != etag {
				t.Errorf("GET %s with %s: %d (%d bytes), want 304", path, h[0], resp.StatusCode, len(body))
			}
		}
		for _, h := range [][]string{
			{"If-None-Match", `"other"`},
			{"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"},
			// If-None-Match wins over If-Modified-Since.
			{"If-None-Match", `"other"`, "If-Modified-Since", modified},
		} {
			if resp, _ := get(t, base+path, h...); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s with %v: %d, want 200", path, h, resp.StatusCode)
			}
		}
	}

	// A repeat folds into a post: the feed changes though no post is new.
	resp, _ := get(t, base+"/public.rss")
	etag := resp.Header.Get("ETag")
	if a := do(t, "POST", base+"/api/v1/ingest/events", "application/json",
		`{"id":"f7","node":"db01","post":{"text":"Someone tried many passwords","tags":["security","warning"],"severity":"warning"}}`); a.status != http.StatusAccepted || len(a.body["folded"].([]any)) != 1 {
		t.Fatalf("ingest a repeat: %d %s", a.status, a.raw)
	}
	resp, body := get(t, base+"/public.rss", "If-None-Match", etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a fold: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if !strings.Contains(body, "3 times in the last hour") {
		t.Error("the feed lacks the new fold note")
	}
	if resp, _ := get(t, base+"/@nobody.rss"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a feed of no server: %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/@WEB01.rss"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/@web01.rss" {
		t.Errorf("a feed by another spelling: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// feedparserScript parses a feed at a URL the way Python feed readers do
// and prints what it found.
const feedparserScript = `
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": bool(d.bozo),
    "error": str(d.get("bozo_exception", "")),
    "version": d.version,
    "status": d.get("status", 0),
    "title": d.feed.get("title", ""),
    "entries": [{"title": e.get("title", ""), "link": e.get("link", ""), "id": e.get("id", ""),
                 "content": (e.get("content") or [{}])[0].get("value", e.get("summary", ""))} for e in d.entries],
}))
`

type parsedFeed struct {
	Bozo    bool
	Error   string
	Version string
	Status  int
	Title   string
	Entries []struct{ Title, Link, ID, Content string }
}

// needFeedparser is Debian's python3 with python3-feedparser: the python3
// first on PATH may be another one without it.
func needFeedparser(t *testing.T) string {
	t.Helper()
	py := needTool(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command(py, "-c", "import feedparser").CombinedOutput(); err != nil {
		msg := "python3-feedparser is not installed (Debian package python3-feedparser): " + strings.TrimSpace(string(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must install it")
		}
		t.Skip(msg + "; skipping")
	}
	return py
}

func TestFeedsParseInFeedparser(t *testing.T) {
	py := needFeedparser(t)
	base, s := feedFixture(t, nil)
	// A sentence from the outside world may carry characters XML cannot.
	ingest(t, s, draft{"db01", "Bell \a and escape \x1b in a log line", []string{"security"}})
	for _, tt := range []struct{ path, version string }{
		{"/public.rss", "rss20"}, {"/public.atom", "atom10"},
		{"/@web01.rss", "rss20"}, {"/tags/security.atom", "atom10"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, py, "-c", feedparserScript, base+tt.path).Output()
		cancel()
		if err != nil {
			t.Fatalf("feedparser on %s: %v", tt.path, err)
		}
		var f parsedFeed
		if err := json.Unmarshal(out, &f); err != nil {
			t.Fatalf("feedparser output: %v: %s", err, out)
		}
		if f.Bozo || f.Version != tt.version || f.Status != 200 || len(f.Entries) == 0 {
			t.Fatalf("feedparser on %s: bozo %v (%s), version %q, status %d, %d entries",
				tt.path, f.Bozo, f.Error, f.Version, f.Status, len(f.Entries))
		}
		for _, e := range f.Entries {
			if !strings.HasPrefix(e.Link, base+"/posts/") || e.ID != e.Link {
				t.Errorf("%s: entry %q links %q with id %q, want its post page", tt.path, e.Title, e.Link, e.ID)
			}
		}
		if tt.path == "/public.rss" {
			titles := make([]string, len(f.Entries))
			for i, e := range f.Entries {
				titles[i] = e.Title
			}
			joined := strings.Join(titles, "\n")
			for _, want := range []string{
				`A request carried <script>alert("x")</script> & more #security #critical`,
				"Disk space is back to normal #nagios #ok #frontend_web",
				"Bell \ufffd and escape \ufffd in a log line #security",
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("no entry titled %q in:\n%s", want, joined)
				}
			}
			for _, e := range f.Entries {
				if strings.HasPrefix(e.Title, "Someone tried many passwords") && !strings.Contains(e.Content, "2 times in the last hour") {
					t.Errorf("the folded post's content lacks its fold note: %q", e.Content)
				}
			}
		}
	}

	// JSON Feed: valid JSON in the 1.1 shape.
	resp, body := get(t, base+"/public.json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/feed+json; charset=utf-8" {
		t.Errorf("JSON Feed Content-Type %q", ct)
	}
	var jf struct {
		Version string
		Items   []struct {
			ID            string    `json:"id"`
			URL           string    `json:"url"`
			Title         string    `json:"title"`
			ContentHTML   string    `json:"content_html"`
			DatePublished time.Time `json:"date_published"`
			Tags          []string  `json:"tags"`
		}
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&jf); err != nil {
		t.Fatalf("JSON Feed does not decode: %v", err)
	}
	if jf.Version != "https://jsonfeed.org/version/1.1" || len(jf.Items) == 0 {
		t.Fatalf("JSON Feed version %q with %d items", jf.Version, len(jf.Items))
	}
	for _, it := range jf.Items {
		if it.ID == "" || !strings.HasPrefix(it.URL, base+"/posts/") || it.Title == "" || it.ContentHTML == "" || it.DatePublished.IsZero() || len(it.Tags) == 0 {
			t.Errorf("JSON Feed item incomplete: %+v", it)
		}
	}
}

func TestFeedsListInNewsboat(t *testing.T) {
	newsboat := needTool(t, "newsboat", "newsboat")
	base, _ := feedFixture(t, nil)
	dir := t.TempDir()
	feeds := []string{base + "/public.rss", base + "/tags/security.atom"}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	urls := write("urls", strings.Join(feeds, "\n")+"\n")
	config := write("config", "")
	cache := filepath.Join(dir, "cache.db")
	run := func(cmd string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, newsboat, "-u", urls, "-c", cache, "-C", config, "-x", cmd)
		c.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			t.Fatalf("newsboat -x %s: %v\n%s", cmd, err, out.String())
		}
		return out.String()
	}
	run("reload")
	// Newsboat keeps what it read in an SQLite cache: list the items from
	// it, per feed.
	db, err := sql.Open("sqlite3", "file:"+cache+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := map[string]int{}
	var titles []string
	rows, err := db.Query(`SELECT feedurl, title, url FROM rss_item ORDER BY feedurl, pubDate`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var feedURL, title, link string
		if err := rows.Scan(&feedURL, &title, &link); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(link, base+"/posts/") {
			t.Errorf("newsboat item %q links %q", title, link)
		}
		count[feedURL]++
		titles = append(titles, title)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Six events: a thread of three, a fold of two into one, one more.
	// Newsboat keeps an item once however many feeds carry it.
	if got, want := len(titles), 5; got != want {
		t.Errorf("newsboat has %d items, want %d: %q", got, want, titles)
	}
	if count[feeds[0]] == 0 || count[feeds[1]] == 0 {
		t.Errorf("newsboat items per feed: %v, want some from each", count)
	}
	if !strings.Contains(strings.Join(titles, "\n"), `<script>alert("x")</script>`) {
		t.Errorf("newsboat titles %q lack the literal markup", titles)
	}
	if out := run("print-unread"); !strings.Contains(out, "5 unread articles") {
		t.Errorf("newsboat -x print-unread: %q, want 5 unread articles", out)
	}
	// A second reload asks with the validators it was given: nothing new.
	run("reload")
	if out := run("print-unread"); !strings.Contains(out, "5 unread articles") {
		t.Errorf("after a second reload: %q", out)
	}
}
