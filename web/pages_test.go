package web_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/web"
)

// get fetches a URL without following redirects.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// page fetches a page that must answer 200 with HTML.
func page(t *testing.T, url string) string {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	return body
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// fixedClock sets the store's clock to a known time, and returns a
// function that moves it on.
func fixedClock(s *web.Server, at time.Time) func(time.Duration) {
	var mu sync.Mutex
	now := at
	s.Pipeline.DB.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	return func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
}

func nodePathOf(name string) string { return "/@" + url.PathEscape(name) }

func TestPages(t *testing.T) {
	ts, s := newServer(t)
	advance := fixedClock(s, time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC))
	a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/x-ndjson",
		`{"id":"p1","node":"web01.example.com","classes":["roles::frontend_web"],"post":{"text":"Disk space is running low","tags":["nagios","warning"],"severity":"warning","thread":"check:disk","opens":true,"details":{"device":"/dev/sda1","free_bytes":1024,"output":"DISK WARNING - free space: / 1 MB","perfdata":{"used":[99,"%"]}}}}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", a.status, a.raw)
	}
	problem := a.body["posts"].([]any)[0].(string)
	advance(3 * time.Minute)
	a = do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/x-ndjson",
		`{"id":"p2","node":"web01.example.com","post":{"text":"Someone is looking into it","tags":["nagios","acknowledged"],"severity":"info","thread":"check:disk"}}
{"id":"p3","node":"web01.example.com","post":{"text":"Disk space is back to normal","tags":["nagios","ok"],"severity":"ok","thread":"check:disk","closes":true}}
{"id":"p4","node":"db01","post":{"text":"Login failures","tags":["security"],"severity":"warning"}}
{"id":"p5","node":"db01","post":{"text":"Login failures","tags":["security"],"severity":"warning"}}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", a.status, a.raw)
	}
	recovery := a.body["posts"].([]any)[1].(string)
	newest := a.body["posts"].([]any)[2].(string)
	display, bio, contact := "Shop front end", "Serves the shop.\nBe kind to it.", "ops@example.com"
	lat, lon := 52.37, 4.9
	if _, err := s.Nodes.Upsert(t.Context(), "web01", nodes.Profile{DisplayName: &display, Bio: &bio, Contact: &contact,
		Location: &nodes.Location{Datacenter: "ams1", Latitude: &lat, Longitude: &lon}}); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Minute)

	home := page(t, ts.URL+"/")
	mustContain(t, "the public timeline", home,
		`<header class="site">`, `<nav aria-label="Site">`, `<main id="main"`, `<footer class="site">`,
		`<link rel="alternate" type="application/rss&#43;xml" title="Public timeline (RSS)" href="/public.rss">`,
		`href="/public.atom"`, `href="/public.json"`,
		`data-stream="public"`, `data-since="`+newest+`"`,
		`Disk space is back to normal <a class="tag" href="/tags/nagios">#nagios</a>`,
		`<span class="sev sev-warning">Warning</span>`, // severity in words
		`<p class="fold">2 times in the last hour</p>`,
		`<time datetime="2026-11-25T14:30:00Z" title="2026-11-25 14:30:00 UTC" data-ago>5 min ago</time>`,
		`<a class="node" href="/@web01">@web01</a>`,
	)
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(home, -1)
	if len(scripts) != 1 || !regexp.MustCompile(`^<script src="/static/app\.[0-9a-f]{12}\.js" defer>$`).MatchString(scripts[0]) {
		t.Errorf("scripts %q, want one hashed external script", scripts)
	}
	if regexp.MustCompile(`\son[a-z]+=|\sstyle=`).MatchString(home) {
		t.Error("the page has an on* or style attribute")
	}

	profile := page(t, ts.URL+"/@web01")
	mustContain(t, "the profile", profile,
		`<h1 id="profile-name">Shop front end</h1>`, `<p class="handle">@web01</p>`,
		`Health: <strong>OK</strong>`, "Serves the shop.\nBe kind to it.",
		`<a href="mailto:ops@example.com">ops@example.com</a>`, `ams1 (52.37, 4.9)`,
		`<a class="tag" href="/tags/frontend_web">#frontend_web</a>`,
		`<svg viewBox="0 0 240 48"`, `<title>14:00–15:00 UTC: 3 posts</title>`,
		`Posts per hour over the last day: 3 in all, at most 3 in one hour (14:00–15:00 UTC).`,
		`data-stream="node:web01"`, `href="/@web01.rss"`,
	)
	if strings.Contains(profile, "Login failures") {
		t.Error("another server's post on the profile")
	}
	// An alias or another spelling redirects to the one address.
	for _, alias := range []string{"/@WEB01.example.com", "/@web01.example.com"} {
		resp, _ := get(t, ts.URL+alias)
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != "/@web01" {
			t.Errorf("GET %s: %d to %q, want 302 to /@web01", alias, resp.StatusCode, got)
		}
	}

	tag := page(t, ts.URL+"/tags/security")
	mustContain(t, "the tag page", tag, `<h1>#security</h1>`, `data-stream="tag:security"`, "Login failures",
		`href="/tags/security.rss"`)
	if strings.Contains(tag, "Disk space") {
		t.Error("an untagged post on the tag page")
	}
	if resp, _ := get(t, ts.URL+"/tags/Security"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/tags/security" {
		t.Errorf("GET /tags/Security: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	thread := page(t, ts.URL+"/posts/"+recovery)
	mustContain(t, "the thread", thread,
		`<h1>Thread on @web01: 3 posts</h1>`, `data-thread="`+problem+`"`,
		`<p class="role">Problem</p>`, `<p class="role">Acknowledgement</p>`, `<p class="role">Recovery</p>`,
		`<li class="current" aria-current="true">`,
		`<details>`, `<summary>Show the technical data the sentence leaves out</summary>`,
	)
	_, main, _ := strings.Cut(thread, "<main")
	if i, j, k := strings.Index(main, "running low"), strings.Index(main, "looking into it"), strings.Index(main, "back to normal"); !(i < j && j < k) {
		t.Error("the thread is not oldest first")
	}
	details := page(t, ts.URL+"/posts/"+problem)
	mustContain(t, "the problem's details", details,
		"<dt>device</dt>\n<dd>/dev/sda1</dd>", "<dt>free_bytes</dt>\n<dd>1024</dd>",
		"<dt>output</dt>\n<dd>DISK WARNING - free space: / 1 MB</dd>",
		"<dt>perfdata</dt>\n<dd><pre>{\n  &#34;used&#34;: [\n    99,\n    &#34;%&#34;\n  ]\n}</pre></dd>",
	)

	// Paging: older links carry a max_id cursor; older pages are not live.
	first := page(t, ts.URL+"/?limit=2")
	older := regexp.MustCompile(`<a href="(/\?limit=2&amp;max_id=\d+)" rel="next">Older posts</a>`).FindStringSubmatch(first)
	if older == nil {
		t.Fatalf("no older link on a full page")
	}
	second := page(t, ts.URL+strings.ReplaceAll(older[1], "&amp;", "&"))
	mustContain(t, "the second page", second, `<a href="/">Newest posts</a>`, "Someone is looking into it")
	if strings.Contains(second, "data-stream") {
		t.Error("an older page follows the stream")
	}

	// Errors are pages too.
	for path, status := range map[string]int{
		"/@nobody": 404, "/posts/1": 404, "/posts/x": 400, "/tags/!!": 400, "/nothing": 404, "/?max_id=x": 400,
	} {
		resp, body := get(t, ts.URL+path)
		if resp.StatusCode != status || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<main") {
			t.Errorf("GET %s: %d %s, want an HTML page with %d", path, resp.StatusCode, resp.Header.Get("Content-Type"), status)
		}
	}
	// The API still answers in JSON.
	if resp, body := get(t, ts.URL+"/api/v1/nodes/nobody"); resp.StatusCode != 404 || !strings.HasPrefix(body, "{") {
		t.Errorf("API error: %d %s", resp.StatusCode, body)
	}
}

func TestStaticFilesAreCachedByHash(t *testing.T) {
	ts, _ := newServer(t)
	home := page(t, ts.URL+"/")
	for _, re := range []string{`/static/app\.[0-9a-f]{12}\.js`, `/static/app\.[0-9a-f]{12}\.css`, `/static/icon\.[0-9a-f]{12}\.svg`} {
		path := regexp.MustCompile(re).FindString(home)
		if path == "" {
			t.Fatalf("the page links no %s", re)
		}
		resp, body := get(t, ts.URL+path)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if got, want := resp.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, want)
		}
		if resp, _ := get(t, ts.URL+path, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s again: %d, want 304", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, ts.URL+"/static/app.000000000000.js"); resp.StatusCode != 404 {
		t.Errorf("an old hash: %d, want 404", resp.StatusCode)
	}
}

func TestPagesEscapeWhatServersSay(t *testing.T) {
	ts, s := newServer(t)
	evil := `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`
	ids := ingest(t, s, draft{`<img src=x onerror=alert(1)>`, "Alert " + evil, []string{"security"}})
	p, err := s.Pipeline.DB.PostByID(t.Context(), mustID(t, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"/", "/posts/" + ids[0], "/tags/security", nodePathOf(p.Node)} {
		body := page(t, ts.URL+url)
		if strings.Contains(body, "<script>window") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s: markup from a post is not escaped", url)
		}
		if !strings.Contains(body, "&lt;script&gt;window.__pwned=1&lt;/script&gt;") && !strings.Contains(body, "&lt;img src=x") {
			t.Errorf("GET %s: the text is not shown", url)
		}
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := feed.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
