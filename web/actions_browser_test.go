package web_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"fleetfeed/timeline/people"
)

// TestBrowserRunPuppetFromAPost: an operator clicks "Run Puppet" on a
// post, confirms, and the agent's reply appears in the thread without a
// reload; a viewer sees no button.
func TestBrowserRunPuppetFromAPost(t *testing.T) {
	b := newBrowser(t)
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	ts, s, node := actionServer(t, gate)
	t.Cleanup(release) // runs before the wait for the actions
	addUser(t, s, "olga", people.RoleOperator)
	addUser(t, s, "vic", people.RoleViewer)
	id := ingest(t, s, draft{node, "Puppet run failed", []string{"puppet", "fail"}})[0]
	postURL := ts.URL + "/posts/" + id

	b.signIn(ts.URL, "vic")
	b.open(postURL, true)
	if got := b.eval(`String(document.querySelectorAll('.actions a.action').length)`); got != "0" {
		t.Fatalf("a viewer sees %s action buttons", got)
	}
	b.clickAndLoad(`.account form button`)

	b.signIn(ts.URL, "olga")
	b.open(postURL, true)
	b.clickAndLoad(`.actions a.action[data-action="puppet-run"]`)
	if got, want := b.eval(`document.querySelector('.action-summary').textContent`), "This asks "+node+" to run Puppet: 1 server in all."; got != want {
		t.Fatalf("confirmation: %q, want %q", got, want)
	}
	b.clickAndLoad(`#confirm-action button[type=submit]`)
	if got, want := b.eval(`location.href`), postURL; got != want {
		t.Fatalf("after confirming: %s, want %s", got, want)
	}
	b.waitFor("live updates", `(document.querySelector('[data-live-status]')||{}).textContent.startsWith('Live:')`)
	if got := b.eval(`[...document.querySelectorAll('ol.thread article .text')].map(e => e.textContent).join(' | ')`); strings.Contains(got, "Puppet run started") {
		t.Fatalf("the reply came before the RPC was let go: %q", got)
	}
	// The RPC runs only now, with the page loaded: its replies must
	// appear without a reload.
	b.eval(`window.__noReload = 'yes'`)
	release()
	b.waitFor("the agent's reply", `[...document.querySelectorAll('ol.thread article .text')].some(e => e.textContent.startsWith('Puppet run started on `+node+`'))`)
	b.waitFor("the summary", `[...document.querySelectorAll('ol.thread article .text')].some(e => e.textContent.startsWith('1 of 1 answered'))`)
	if got := b.eval(`String(window.__noReload)`); got != "yes" {
		t.Fatalf("the page reloaded")
	}
	if got := b.eval(`[...document.querySelectorAll('ol.thread article .text')].map(e => e.textContent).join(' | ')`); !strings.Contains(got, "olga asked "+node+" to run Puppet") {
		t.Fatalf("thread: %q", got)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s", m)
		}
	}
}
