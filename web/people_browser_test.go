package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fleetfeed/nodes"
	"fleetfeed/timeline/people"
)

// clickAndLoad clicks what sel names, a link or a form's button, and
// waits until the page it leads to has loaded.
func (b *browser) clickAndLoad(sel string) {
	b.t.Helper()
	b.eval(`window.__before = true; ''`)
	b.do(chromedp.Click(chromedp.CSS(sel)))
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		// The old page's context goes away mid-navigation: errors mean
		// "not yet".
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.__before !== true && document.readyState === 'complete')`))
		cancel()
		if err == nil && v == "true" {
			b.notPwned()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("clicking %s led to no new page", sel)
}

// fill sets a form field's value.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// signIn signs in through the login page.
func (b *browser) signIn(base, name string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base + "/login"))
	b.fill(`#login input[name=name]`, name)
	b.fill(`#login input[name=password]`, password)
	b.clickAndLoad(`#login button[type=submit]`)
	if got := b.eval(`document.querySelector('.whoami strong').textContent`); got != name {
		b.t.Fatalf("signed in as %q, want %q", got, name)
	}
}

// shown is the ids of the posts on the page, in order.
const shownTexts = `[...document.querySelectorAll('ol.posts article .text')].map(e => e.textContent).join(' | ')`

func TestBrowserPeople(t *testing.T) {
	b := newBrowser(t)
	ts, s := peopleServer(t, nil)
	base := ts.URL
	addUser(t, s, "ivy", people.RoleViewer)
	addUser(t, s, "jack", people.RoleViewer)
	ctx := context.Background()
	place := func(name, dc string, lat, lon float64) {
		if _, err := s.Nodes.Upsert(ctx, name, nodes.Profile{Location: &nodes.Location{Datacenter: dc, Latitude: &lat, Longitude: &lon}}); err != nil {
			t.Fatal(err)
		}
	}
	place("web01", "ams1", 52.37, 4.9)
	place("db01", "nyc1", 40.71, -74.0)
	place("mail01", "nyc1", 40.71, -74.0)
	ingest(t, s,
		draft{"web01", "The shop front is slow", []string{"frontend_web", "ams1"}},
		draft{"db01", "Nightly backup finished", []string{"backup"}},
		draft{"mail01", "Mail queue is long", []string{"warning"}})

	// Ivy signs in and follows a server and a hashtag with the buttons.
	b.signIn(base, "ivy")
	b.do(chromedp.Navigate(base + "/@web01"))
	b.clickAndLoad(`form.follow button`)
	if got := b.eval(`document.querySelector('form.follow button').textContent`); got != "Unfollow @web01" {
		t.Fatalf("button after following: %q", got)
	}
	b.do(chromedp.Navigate(base + "/tags/backup"))
	b.clickAndLoad(`form.follow button`)

	// Her home timeline has those, and nothing else; a new matching post
	// appears live, one that does not match does not.
	b.open(base+"/", true)
	if got, want := b.eval(shownTexts), "Nightly backup finished #backup | The shop front is slow #frontend_web #ams1"; got != want {
		t.Fatalf("home shows %q, want %q", got, want)
	}
	ingest(t, s, draft{"mail01", "Mail queue is still long", []string{"warning"}})
	fresh := ingest(t, s, draft{"db01", "Weekly backup finished", []string{"backup"}})[0]
	b.waitFor("the new post", `document.querySelector('ol.posts > li > article').id === 'post-`+fresh+`'`)
	if got := b.eval(shownTexts); strings.Contains(got, "Mail queue") {
		t.Fatalf("home shows a post not followed: %q", got)
	}

	// Ivy makes a public list with a tag query.
	b.do(chromedp.Navigate(base + "/lists"))
	b.fill(`#new-list input[name=name]`, "Amsterdam shop")
	b.do(chromedp.Click(chromedp.CSS(`#new-list input[name=public]`)))
	b.clickAndLoad(`#new-list button`)
	b.fill(`#add-query input[name=query]`, "#frontend_web AND #ams1")
	b.clickAndLoad(`#add-query button`)
	listURL := b.eval(`location.pathname`)
	if got := b.eval(`document.querySelector('.members-queries code').textContent + ' / ' + document.querySelector('ol.posts article .text').textContent`); got != "#frontend_web AND #ams1 / The shop front is slow #frontend_web #ams1" {
		t.Fatalf("list page: %q", got)
	}

	// Jack, in the same browser after Ivy signs out, follows it.
	b.clickAndLoad(`.account form button`)
	b.signIn(base, "jack")
	b.do(chromedp.Navigate(base + listURL))
	b.clickAndLoad(`form.follow button`)
	if got := b.eval(`document.querySelector('form.follow button').textContent`); got != "Unfollow this list" {
		t.Fatalf("list button after following: %q", got)
	}
	b.open(base+"/", true)
	if got, want := b.eval(shownTexts), "The shop front is slow #frontend_web #ams1"; got != want {
		t.Fatalf("jack's home shows %q, want %q", got, want)
	}
	shop := ingest(t, s, draft{"web01", "The shop front is fast again", []string{"frontend_web", "ams1"}})[0]
	b.waitFor("the list's new post", `document.querySelector('ol.posts > li > article').id === 'post-`+shop+`'`)

	// Search, from the search page's form.
	b.do(chromedp.Navigate(base + "/search"))
	b.fill(`#q`, "from:db01 backup")
	b.clickAndLoad(`form.search button`)
	if got, want := b.eval(shownTexts), "Weekly backup finished #backup | Nightly backup finished #backup"; got != want {
		t.Fatalf("search shows %q, want %q", got, want)
	}

	// The map: a circle and a label per datacenter, kept current by
	// map.js; a circle links to the datacenter's page.
	b.do(chromedp.Navigate(base + "/map"))
	b.waitFor("the map's update", `document.getElementById('world-map').hasAttribute('data-updated')`)
	if got := b.eval(`[...document.querySelectorAll('.dc-label')].map(e => e.textContent).join(', ')`); got != "ams1 · OK, nyc1 · OK" {
		t.Fatalf("map labels: %q", got)
	}
	if got := b.eval(`String(document.querySelector('image.world').getBBox().width > 0)`); got != "true" {
		t.Fatalf("the world map did not load")
	}
	b.clickAndLoad(`a.dc[data-dc="nyc1"]`)
	if got := b.eval(`document.querySelector('h1').textContent + ' / ' + [...document.querySelectorAll('.servers li a')].map(a => a.textContent).join(' ')`); got != "Datacenter nyc1 / db01 mail01" {
		t.Fatalf("datacenter page: %q", got)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s", m)
		}
	}
}
