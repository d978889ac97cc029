package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
	"fleetfeed/timeline/people"
	"fleetfeed/web"
)

// actionServer is a server whose Actions send RPCs to a simulated fleet,
// and the fleet's first node. With a gate, each RPC waits until the gate
// closes.
func actionServer(t *testing.T, gate <-chan struct{}) (*httptest.Server, *web.Server, string) {
	t.Helper()
	f := rpctest.NewFleet(t, rpctest.Options{Count: 2})
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
		if gate != nil {
			caller = gatedCaller{client, gate}
		}
		s.Actions = &web.Actions{Client: caller, Timeout: 5 * time.Second}
		t.Cleanup(s.Actions.Wait) // before the client and the database close
	})
	return ts, s, f.Identities()[0]
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
