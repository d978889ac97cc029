package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
	"fleetfeed/web"
)

// actionServer is a server whose Actions send RPCs to a simulated fleet
// of 2, and the fleet's first node. With a gate, each RPC waits until the
// gate closes.
func actionServer(t *testing.T, gate <-chan struct{}) (*httptest.Server, *web.Server, string) {
	t.Helper()
	ts, s, ids := actionServerWith(t, actionSetup{gate: gate})
	return ts, s, ids[0]
}

// actionSetup configures actionServerWith.
type actionSetup struct {
	gate   <-chan struct{}
	count  int               // agents in the fleet; 2 when 0
	config *web.ActionConfig // the default actions when nil
}

// actionServerWith is actionServer for a fleet and actions of one's own;
// it returns the fleet's identities: web0000, web0001, db0002, lb0003, …
// (.sim.example.net), whose classes hold roles::frontend_web,
// roles::database and roles::load_balancer in turn.
func actionServerWith(t *testing.T, setup actionSetup) (*httptest.Server, *web.Server, []string) {
	t.Helper()
	if setup.count == 0 {
		setup.count = 2
	}
	f := rpctest.NewFleet(t, rpctest.Options{Count: setup.count})
	ts, s := peopleServer(t, func(s *web.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), rpctest.Wait)
		defer cancel()
		// The fleet's client, with the audit log serve gives it.
		client, err := rpc.NewClient(ctx, f.Dial(t), rpc.ClientConfig{
			Collective: rpctest.Collective,
			CallerID:   rpctest.CallerID,
			Signer:     &rpc.Signer{Name: rpctest.ClientName, Key: f.ClientKey},
			Trusted:    f.Trusted,
			DDLs:       agent.BuiltinDDLs(),
			Audit:      &rpc.SQLiteAuditLog{DB: s.Pipeline.DB},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		var caller web.ActionCaller = client
		if setup.gate != nil {
			caller = gatedCaller{client, setup.gate}
		}
		s.Actions = &web.Actions{Client: caller, Config: setup.config, Timeout: 5 * time.Second}
		t.Cleanup(s.Actions.Wait) // before the client and the database close
	})
	return ts, s, f.Identities()
}

// gatedCaller holds each call until its gate closes.
type gatedCaller struct {
	web.ActionCaller
	gate <-chan struct{}
}

func (g gatedCaller) Do(ctx context.Context, call rpc.Call) (*rpc.Result, error) {
	<-g.gate
	return g.ActionCaller.Do(ctx, call)
}

// waitForText polls a page until it shows want.
func waitForText(t *testing.T, c *client, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(rpctest.Wait)
	for {
		body := c.page(path)
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q:\n%s", path, want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestActionsRunPuppetFromAPost(t *testing.T) {
	ts, s, node := actionServer(t, nil)
	addUser(t, s, "olga", people.RoleOperator)
	addUser(t, s, "vic", people.RoleViewer)
	id := ingest(t, s, draft{node, "Puppet run failed", []string{"puppet", "fail"}})[0]
	postPage := "/posts/" + id

	// Anonymous visitors and viewers see no actions.
	anon := newClient(t, ts.URL)
	if body := anon.page(postPage); strings.Contains(body, `class="actions"`) {
		t.Fatalf("an anonymous visitor sees actions")
	}
	vic := login(t, ts.URL, "vic")
	if body := vic.page(postPage); strings.Contains(body, `class="actions"`) {
		t.Fatalf("a viewer sees actions")
	}
	if status, _ := vic.get(postPage + "/actions?action=puppet-run"); status != http.StatusForbidden {
		t.Fatalf("a viewer's confirmation page: %d, want 403", status)
	}

	olga := login(t, ts.URL, "olga")
	body := olga.page(postPage)
	for _, want := range []string{`data-action="puppet-run"`, `data-action="puppet-noop"`, `data-action="ping"`} {
		mustContain(t, "the operator's post page", body, want)
	}
	confirm := olga.page(postPage + "/actions?action=puppet-run")
	mustContain(t, "confirmation", confirm, "This asks "+node+" to run Puppet: 1 server in all.")
	if status, _ := olga.get(postPage + "/actions?action=launch-missiles"); status != http.StatusBadRequest {
		t.Fatalf("an unknown action's confirmation page: %d, want 400", status)
	}

	// A viewer's forged POST, with a valid token of its own, is refused;
	// so is the operator's without a token.
	resp, _ := vic.post(postPage+"/actions", url.Values{"csrf": {vic.csrf("/settings")}, "action": {"puppet-run"}})
	if got, want := resp.StatusCode, http.StatusForbidden; got != want {
		t.Fatalf("a viewer's POST: %d, want %d", got, want)
	}
	resp, _ = olga.post(postPage+"/actions", url.Values{"action": {"puppet-run"}})
	if got, want := resp.StatusCode, http.StatusForbidden; got != want {
		t.Fatalf("a POST without CSRF: %d, want %d", got, want)
	}

	resp = olga.submit(postPage+"/actions?action=puppet-run", postPage+"/actions", url.Values{"action": {"puppet-run"}})
	if got, want := resp.Header.Get("Location"), postPage; got != want {
		t.Fatalf("redirect to %q, want %q", got, want)
	}
	body = waitForText(t, olga, postPage, "1 of 1 answered")
	mustContain(t, "the thread", body, "olga asked "+node+" to run Puppet")
	mustContain(t, "the thread", body, "Puppet run started on "+node)

	// The audit log names the web user.
	s.Actions.Wait()
	var via string
	if err := s.Pipeline.DB.SQL().QueryRowContext(context.Background(), `SELECT via FROM rpc_audit WHERE action = 'runonce'`).Scan(&via); err != nil {
		t.Fatalf("audit: %v", err)
	}
	if via != "user=olga" {
		t.Fatalf("audit via = %q, want user=olga", via)
	}

	// The Puppet report the run then sends is linked to the "asked" post.
	ctx := context.Background()
	var asked int64
	if err := s.Pipeline.DB.SQL().QueryRowContext(ctx,
		`SELECT id FROM posts WHERE source = ? AND text LIKE 'olga asked %'`, web.ActionSource).Scan(&asked); err != nil {
		t.Fatalf("the asked post: %v", err)
	}
	res, err := s.Pipeline.Ingest(ctx, []translators.Event{{
		ID: "puppet:report-after-action", Source: translators.SourcePuppet, Node: node, Time: time.Now(),
		Post: &translators.Draft{Text: "Puppet changed 1 thing", Tags: []string{"puppet", "changed"}, Severity: translators.SeverityOK},
	}})
	if err != nil || len(res.Posts) != 1 {
		t.Fatalf("ingest the report: %v %+v", err, res)
	}
	caused, err := s.Pipeline.DB.CausedBy(ctx, asked)
	if err != nil {
		t.Fatal(err)
	}
	if len(caused) != 1 || caused[0].ID != res.Posts[0] {
		t.Fatalf("posts caused by the action: %+v, want the report %d", caused, res.Posts[0])
	}
}

func TestActionsOnEveryServerWithAHashtag(t *testing.T) {
	ts, s, node := actionServer(t, nil)
	addUser(t, s, "olga", people.RoleOperator)
	id := ingest(t, s, draft{node, "The shop is slow", []string{"frontend_web"}})[0]
	// The posts teach the node table the servers' FQDNs, which the
	// agents answer to.
	ingest(t, s, draft{strings.Replace(node, "web0000", "web0001", 1), "Hello", nil})
	ctx := context.Background()
	for _, name := range []string{"web0000", "web0001"} {
		if _, err := s.Nodes.Upsert(ctx, name, nodes.Profile{Classes: []string{"roles::frontend_web"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A server the table knows but the fleet does not: it cannot answer.
	if _, err := s.Nodes.Upsert(ctx, "web0099", nodes.Profile{Classes: []string{"roles::frontend_web"}}); err != nil {
		t.Fatal(err)
	}
	postPage := "/posts/" + id
	olga := login(t, ts.URL, "olga")
	mustContain(t, "the post page", olga.page(postPage), "Ping on every #frontend_web server")
	from := postPage + "/actions?action=ping&tag=frontend_web"
	mustContain(t, "confirmation", olga.page(from), "This asks the 3 servers tagged #frontend_web to answer a ping: 3 servers in all.")
	olga.submit(from, postPage+"/actions", url.Values{"action": {"ping"}, "tag": {"frontend_web"}, "batch": {"2"}})
	body := waitForText(t, olga, postPage, "2 of 3 answered; web0099 did not respond")
	mustContain(t, "the thread", body, "olga asked the 3 servers tagged #frontend_web, 2 at a time to answer a ping")
	mustContain(t, "the thread", body, "Ping answered on web0001")

	// The profile offers the server's actions; they start a thread.
	mustContain(t, "the profile", olga.page("/@web0001"), `href="/nodes/web0001/actions?action=puppet-run"`)
	resp := olga.submit("/nodes/web0001/actions?action=puppet-status", "/nodes/web0001/actions", url.Values{"action": {"puppet-status"}})
	thread := resp.Header.Get("Location")
	body = waitForText(t, olga, thread, "1 of 1 answered")
	mustContain(t, "the profile's thread", body, "olga asked web0001.sim.example.net to report on Puppet")
}

// hiddenInput finds a form's hidden fields.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// confirmForm opens a confirmation page and returns its form's fields, as
// a click on its button would send them.
func confirmForm(c *client, path string) (string, url.Values) {
	c.t.Helper()
	body := c.page(path)
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return body, form
}

// TestActionsWithAFilter: an action whose filter names the load balancers
// is offered on a frontend web server's post; its confirmation discovers
// the servers and says how many, and confirming runs on exactly those.
func TestActionsWithAFilter(t *testing.T) {
	cfg, err := web.ParseActions([]byte(customActions), agent.BuiltinDDLs())
	if err != nil {
		t.Fatal(err)
	}
	ts, s, ids := actionServerWith(t, actionSetup{count: 4, config: cfg})
	web0, lb := ids[0], ids[3]
	addUser(t, s, "olga", people.RoleOperator)
	addUser(t, s, "vic", people.RoleViewer)
	ingest(t, s, draft{web0, "Hello", nil})
	if _, err := s.Nodes.Upsert(context.Background(), "web0000", nodes.Profile{Classes: []string{"roles::frontend_web"}}); err != nil {
		t.Fatal(err)
	}
	id := ingest(t, s, draft{web0, "The shop is slow", []string{"slow"}})[0]
	postPage := "/posts/" + id
	from := postPage + "/actions?action=lb-puppet"

	vic := login(t, ts.URL, "vic")
	if status, _ := vic.get(from); status != http.StatusForbidden {
		t.Fatalf("a viewer's confirmation page: %d, want 403", status)
	}
	resp, _ := vic.post(postPage+"/actions", url.Values{"csrf": {vic.csrf("/settings")}, "action": {"lb-puppet"}})
	if got, want := resp.StatusCode, http.StatusForbidden; got != want {
		t.Fatalf("a viewer's POST: %d, want %d", got, want)
	}

	olga := login(t, ts.URL, "olga")
	mustContain(t, "the post page", olga.page(postPage), `href="/posts/`+id+`/actions?action=lb-puppet">Run Puppet on the load balancers</a>`)
	confirm, form := confirmForm(olga, from)
	mustContain(t, "the confirmation", confirm,
		"This asks the 1 server with the class roles::load_balancer to run Puppet: 1 server in all.",
		"puppet runonce -C roles::load_balancer", "Servers (1)", `<dd class="action-targets">`+lb+`</dd>`,
		"answered discovery just now; confirming asks exactly them")
	if form.Get("confirm") == "" {
		t.Fatalf("the confirmation's form has no token: %v", form)
	}
	// Without the token, or with another's, nothing runs.
	for _, tok := range []string{"", "0123456789abcdef0123456789abcdef"} {
		f := url.Values{"csrf": {form.Get("csrf")}, "action": {"lb-puppet"}, "confirm": {tok}}
		if resp, body := olga.post(postPage+"/actions", f); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a POST with the token %q: %d, want 400: %s", tok, resp.StatusCode, body)
		}
	}
	resp, body := olga.post(postPage+"/actions", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming: %d: %s", resp.StatusCode, body)
	}
	thread := waitForText(t, olga, postPage, "1 of 1 answered")
	mustContain(t, "the thread", thread, "olga asked the 1 server with the class roles::load_balancer to run Puppet",
		"Puppet run started on "+lb)
	if strings.Contains(thread, "Puppet run started on "+web0) {
		t.Fatalf("the post's own server ran Puppet:\n%s", thread)
	}
	// A confirmation runs once.
	if resp, _ := olga.post(postPage+"/actions", form); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("confirming twice: %d, want 400", resp.StatusCode)
	}
	s.Actions.Wait()
	var targets int
	if err := s.Pipeline.DB.SQL().QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM rpc_audit WHERE action = 'runonce'`).Scan(&targets); err != nil || targets != 1 {
		t.Fatalf("audited runs: %d, %v; want 1", targets, err)
	}
}

// TestActionsOnEveryServerInAList: a post and a profile offer an action on
// every server of each list the operator can see that holds the server; a
// list's page offers it on its servers.
func TestActionsOnEveryServerInAList(t *testing.T) {
	ts, s, ids := actionServerWith(t, actionSetup{})
	olgaUser := addUser(t, s, "olga", people.RoleOperator)
	bob := addUser(t, s, "bob", people.RoleOperator)
	addUser(t, s, "vic", people.RoleViewer)
	ctx := context.Background()
	// The posts teach the node table the servers' FQDNs.
	postID := ingest(t, s, draft{ids[0], "The shop is slow", nil}, draft{ids[1], "Hello", nil})[0]
	list := func(owner *people.User, name string, public bool, members ...string) string {
		t.Helper()
		l, err := s.Follows.CreateList(ctx, owner.ID, name, public)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			if err := s.Follows.AddListNode(ctx, owner.ID, l.ID, m); err != nil {
				t.Fatal(err)
			}
		}
		return strconv.FormatInt(l.ID, 10)
	}
	shop := list(olgaUser, "Shop", false, "web0000", "web0001")
	bobs := list(bob, "Bob's servers", false, "web0000")
	empty := list(bob, "Nothing yet", true)
	second := list(bob, "Second web", true, "web0001")

	postPage := "/posts/" + postID
	olga := login(t, ts.URL, "olga")
	body := olga.page(postPage)
	mustContain(t, "the post page", body, `href="/posts/`+postID+`/actions?action=ping&amp;list=`+shop+`">Ping on every server in the list Shop</a>`)
	for _, not := range []string{"Bob&#39;s servers", "Nothing yet", "Second web"} {
		if strings.Contains(body, not) {
			t.Errorf("the post page offers the list %q", not)
		}
	}
	mustContain(t, "the profile", olga.page("/@web0001"), "Ping on every server in the list Second web", "Ping on every server in the list Shop")
	for path, status := range map[string]int{
		postPage + "/actions?action=ping&list=" + bobs:   http.StatusNotFound,   // another's private list
		postPage + "/actions?action=ping&list=" + second: http.StatusBadRequest, // web0000 is not in it
	} {
		if got, _ := olga.get(path); got != status {
			t.Errorf("%s: %d, want %d", path, got, status)
		}
	}

	from := postPage + "/actions?action=ping&list=" + shop
	confirm, form := confirmForm(olga, from)
	mustContain(t, "the confirmation", confirm, "This asks the 2 servers in the list Shop to answer a ping: 2 servers in all.",
		`<dd class="action-targets">`+ids[0]+", "+ids[1]+"</dd>", `name="batch"`)
	form.Set("batch", "1")
	if resp, body := olga.post(postPage+"/actions", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming: %d: %s", resp.StatusCode, body)
	}
	body = waitForText(t, olga, postPage, "2 of 2 answered")
	mustContain(t, "the thread", body, "olga asked the 2 servers in the list Shop, 1 at a time to answer a ping",
		"Ping answered on "+ids[0], "Ping answered on "+ids[1])

	// The list's page, to its owner and to a viewer.
	listPage := "/lists/" + shop
	mustContain(t, "the list's page", olga.page(listPage), "Act on the servers of this list",
		`href="/lists/`+shop+`/actions?action=puppet-run">Run Puppet on every server in this list</a>`)
	vic := login(t, ts.URL, "vic")
	pub := "/lists/" + second
	if body := vic.page(pub); strings.Contains(body, `class="actions"`) {
		t.Fatalf("a viewer sees actions on a list's page")
	}
	if status, _ := vic.get(pub + "/actions?action=ping"); status != http.StatusForbidden {
		t.Fatalf("a viewer's confirmation page: %d, want 403", status)
	}
	resp, _ := vic.post(pub+"/actions", url.Values{"csrf": {vic.csrf("/settings")}, "action": {"ping"}})
	if got, want := resp.StatusCode, http.StatusForbidden; got != want {
		t.Fatalf("a viewer's POST: %d, want %d", got, want)
	}
	// An empty list offers nothing.
	if body := olga.page("/lists/" + empty); strings.Contains(body, `class="actions"`) {
		t.Fatalf("an empty list's page offers actions")
	}

	confirm, form = confirmForm(olga, listPage+"/actions?action=ping")
	mustContain(t, "the list's confirmation", confirm, "This asks the 2 servers in the list Shop to answer a ping: 2 servers in all.",
		"Its posts go in a new thread on @web0000, the list&#39;s first server.")
	resp, body = olga.post(listPage+"/actions", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming on the list's page: %d: %s", resp.StatusCode, body)
	}
	thread := resp.Header.Get("Location")
	body = waitForText(t, olga, thread, "2 of 2 answered")
	mustContain(t, "the list's thread", body, "olga asked the 2 servers in the list Shop to answer a ping")
}
