package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"fleetfeed/web"
)

// browser is a headless Chromium tab, and what its pages wrote to the
// console.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts Debian's Chromium, headless, with a new empty profile.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	chromium := needTool(t, "chromium", "chromium")
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(800, 600),
	)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx}
	// The first run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions, failing the test after a generous time.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, patience)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression that returns a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, patience)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(patience))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// open loads a page and waits until its live updates are on.
func (b *browser) open(url string, live bool) {
	b.t.Helper()
	b.do(chromedp.Navigate(url))
	if live {
		b.waitFor("live updates", `(document.querySelector('[data-live-status]')||{}).textContent.startsWith('Live:')`)
	}
	b.notPwned()
}

// notPwned checks that no script from a post ran.
func (b *browser) notPwned() {
	b.t.Helper()
	if got := b.eval(`typeof window.__pwned`); got != "undefined" {
		b.t.Fatalf("a script from a post ran on %s: window.__pwned is %s", b.eval(`location.href`), got)
	}
}

// post ingests one event through the HTTP API and returns the post id.
func postEvent(t *testing.T, base, line string) string {
	t.Helper()
	a := do(t, "POST", base+"/api/v1/ingest/events", "application/json", line)
	if a.status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", a.status, a.raw)
	}
	for _, k := range []string{"posts", "folded"} {
		if ids, _ := a.body[k].([]any); len(ids) > 0 {
			return ids[0].(string)
		}
	}
	t.Fatalf("ingest made no post: %s", a.raw)
	return ""
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestBrowserLiveTimelineAndEscaping(t *testing.T) {
	b := newBrowser(t)
	ts, s := startServer(t, func(s *web.Server) {})
	base := ts.URL

	problem := postEvent(t, base, `{"id":"b1","node":"web01.example.com","classes":["roles::frontend_web"],"post":{"text":"Disk space is running low","tags":["nagios","warning"],"severity":"warning","thread":"check:disk","opens":true,"details":{"free":"3%"}}}`)
	recovery := postEvent(t, base, `{"id":"b2","node":"web01.example.com","post":{"text":"Disk space is back to normal","tags":["nagios","ok"],"severity":"ok","thread":"check:disk","closes":true}}`)
	var fill []draft
	for i := range 22 {
		fill = append(fill, draft{"db01", fmt.Sprintf("Backup %d finished", i), []string{"backup"}})
	}
	ingest(t, s, fill...)

	// The public timeline: new posts appear at the top, without a reload.
	b.open(base+"/", true)
	if got := b.eval(`String(document.querySelectorAll('ol.posts article').length)`); got != "20" {
		t.Fatalf("the page shows %s posts, want 20", got)
	}
	fresh := postEvent(t, base, `{"id":"b3","node":"web02","post":{"text":"A fresh post","tags":["puppet","changed"],"severity":"info"}}`)
	b.waitFor("the new post", `document.querySelector('ol.posts > li > article').id === 'post-`+fresh+`'`)
	if got := b.eval(`document.querySelector('#post-` + fresh + ` .text').textContent`); got != "A fresh post #puppet #changed" {
		t.Fatalf("new post reads %q", got)
	}
	// A repeat updates the count in place.
	postEvent(t, base, `{"id":"b4","node":"web02","post":{"text":"A fresh post","tags":["puppet","changed"],"severity":"info"}}`)
	b.waitFor("the fold note", `document.querySelector('#post-`+fresh+` .fold').textContent === '2 times in the last hour' && !document.querySelector('#post-`+fresh+` .fold').hidden`)

	// Scrolled down, the reader gets a bar instead of posts moving.
	b.eval(`window.scrollTo(0, document.body.scrollHeight); String(window.scrollY)`)
	b.waitFor("the scroll", `document.querySelector('ol.posts').getBoundingClientRect().top < 0`)
	three := ingest(t, s, draft{"web03", "One", nil}, draft{"web03", "Two", nil}, draft{"web03", "Three", nil})
	b.waitFor("the new posts bar", `!document.querySelector('.new-posts').hidden && document.querySelector('.new-posts').textContent === '3 new posts — show them'`)
	if got := b.eval(`String(document.getElementById('post-` + three[0] + `'))`); got != "null" {
		t.Fatalf("a new post was shown while the reader was scrolled down")
	}
	b.do(chromedp.Click(chromedp.CSS(`button.new-posts`)))
	b.waitFor("the posts the bar held", `document.activeElement.id === 'post-`+three[2]+`'`)
	if got := b.eval(`[...document.querySelectorAll('ol.posts > li > article')].slice(0, 4).map(a => a.id.slice(5)).join(' ')`); got != strings.Join([]string{three[2], three[1], three[0], fresh}, " ") {
		t.Fatalf("order after the bar: %s", got)
	}

	// What intrusion-detection systems report is full of markup; it is
	// shown as text, live and on every page, and never runs.
	b.eval(`window.scrollTo(0, 0); ''`)
	b.waitFor("the top", `document.querySelector('ol.posts').getBoundingClientRect().top >= 0`)
	evilNode := `<img src=x onerror="window.__pwned=1">`
	evilText := `Intrusion attempt <script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`
	evil := postEvent(t, base, `{"id":"b5","source":"suricata","node":`+js(evilNode)+`,"post":{"text":`+js(evilText)+`,"tags":["security","critical"],"severity":"critical","details":{"payload":"<script>window.__pwned=1</script>","http":{"url":"/?q=<img src=x onerror=\"window.__pwned=1\">","status":200}}}}`)
	b.waitFor("the intrusion post", `document.querySelector('ol.posts > li > article').id === 'post-`+evil+`'`)
	b.notPwned()
	if got := b.eval(`document.querySelector('#post-` + evil + ` .text').textContent`); got != evilText+" #security #critical" {
		t.Fatalf("live post text %q, want the markup as text", got)
	}
	handle := strings.TrimPrefix(b.eval(`document.querySelector('#post-`+evil+` .node').textContent`), "@")
	if !strings.HasPrefix(evilNode, handle) || handle == "" {
		t.Fatalf("node shown as %q", handle)
	}

	// The profile, the tag page and the thread, server-rendered.
	b.open(base+nodePathOf(handle), true)
	if got := b.eval(`document.querySelector('h1').textContent`); got != evilNode {
		t.Fatalf("profile heading %q, want %q", got, evilNode)
	}
	if got := b.eval(`document.querySelector('#post-` + evil + ` .text').textContent`); got != evilText+" #security #critical" {
		t.Fatalf("profile post text %q", got)
	}
	b.open(base+"/tags/security", true)
	if got := b.eval(`document.querySelector('h1').textContent + ' ' + document.querySelector('ol.posts article').id`); got != "#security post-"+evil {
		t.Fatalf("tag page: %q", got)
	}
	b.open(base+"/posts/"+evil, true)
	b.do(chromedp.Click(chromedp.CSS(`details > summary`)))
	b.waitFor("the details", `document.querySelector('details').open`)
	details := b.eval(`[...document.querySelectorAll('dl.data dt, dl.data dd')].map(e => e.textContent).join('|')`)
	for _, want := range []string{`payload|<script>window.__pwned=1</script>`, `"url": "/?q=<img src=x onerror=\"window.__pwned=1\">"`} {
		if !strings.Contains(details, want) {
			t.Errorf("details %q lack %q", details, want)
		}
	}
	b.notPwned()

	// A whole incident, as a thread.
	b.open(base+"/posts/"+recovery, true)
	if got := b.eval(`[...document.querySelectorAll('.thread .role')].map(e => e.textContent).join(' → ')`); got != "Problem → Recovery" {
		t.Fatalf("thread roles %q", got)
	}
	if got := b.eval(`[...document.querySelectorAll('.thread article')].map(a => a.id).join(' ') + ' ' + document.querySelector('li[aria-current] article').id`); got != "post-"+problem+" post-"+recovery+" post-"+recovery {
		t.Fatalf("thread and current post: %q", got)
	}
	b.open(base+"/@web01", true)
	if got := b.eval(`document.querySelector('h1').textContent + ' | ' + document.querySelector('.health').textContent + ' | ' + document.querySelector('figcaption').textContent`); !strings.Contains(got, "Health: OK") || !strings.Contains(got, "2 in all") {
		t.Fatalf("profile: %q", got)
	}

	// Nothing broke the Content-Security-Policy, and no script failed.
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s", m)
		}
	}
}
