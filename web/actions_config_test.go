package web_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc/agent"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
	"fleetfeed/web"
)

func TestParseActionsErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		wants      []string
	}{
		{"an unknown key", `
actions:
  - name: ping
    lable: Ping
`, []string{"line 4: field lable not found"}},
		{"an unknown key in a match", `
actions:
  - name: ping
    label: Ping
    words: answer a ping
    done: Ping answered
    run: {agent: rpcutil, action: ping}
    match:
      sources: puppet
`, []string{"line 9: field sources not found"}},
		{"an unknown key in a list of matches", `
actions:
  - name: ping
    label: Ping
    words: answer a ping
    done: Ping answered
    run: {agent: rpcutil, action: ping}
    match:
      - source: puppet
      - tag: [puppet]
`, []string{"line 10: field tag not found"}},
		{"a bad agent name", `
actions:
  - name: ping
    label: Ping
    words: answer a ping
    done: Ping answered
    run:
      agent: "rpc util"
      action: ping
`, []string{"line 8:", `action "ping": run: agent: name "rpc util"`}},
		{"an action the agent does not have", `
actions:
  - name: puppet-now
    label: Run Puppet
    words: run Puppet
    done: Puppet run started
    run:
      agent: puppet
      action: runnow
`, []string{"line 9:", "the agent puppet has no action runnow (it has", "runonce"}},
		{"data the agent does not take", `
actions:
  - name: restart
    label: Restart the service
    words: restart the service
    done: Service restarted
    run:
      agent: service
      action: restart
      data:
        name: "{{service}}"
`, []string{"line 11:", "run: data: input name: unknown input"}},
		{"a bad filter", `
actions:
  - name: lb-puppet
    label: Run Puppet on the load balancers
    words: run Puppet
    done: Puppet run started
    run:
      agent: puppet
      action: runonce
      filter:
        fact: [os.family]
`, []string{"line 11:", `run: filter: fact filter "os.family": want fact<op>value`}},
		{"an unknown placeholder", `
actions:
  - name: restart
    label: Restart {{servce}}
    words: restart the service
    done: Service restarted
    run: {agent: service, action: restart, data: {service: "{{service}}"}}
`, []string{"line 4:", "label: unknown placeholder {{servce}}"}},
		{"a missing label", `
actions:
  - name: ping
    words: answer a ping
    done: Ping answered
    run: {agent: rpcutil, action: ping}
`, []string{"line 3:", "label is missing"}},
		{"two actions of one name", `
actions:
  - name: ping
    label: Ping
    words: answer a ping
    done: Ping answered
    run: {agent: rpcutil, action: ping}
  - name: ping
    label: Ping again
    words: answer a ping
    done: Ping answered
    run: {agent: rpcutil, action: ping}
`, []string{"line 8:", `two actions are named "ping"`}},
		{"no actions", "actions: []\n", []string{"the file lists no actions"}},
		{"not YAML", "actions: [\n", []string{"yaml:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := web.ParseActions([]byte(tt.yaml), agent.BuiltinDDLs())
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, web.ErrInvalidActions) {
				t.Errorf("%v does not wrap ErrInvalidActions", err)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestLoadActionsNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.yaml")
	if err := os.WriteFile(path, []byte("actions:\n  - name: x\n    lable: X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := web.LoadActions(path, nil)
	if err == nil || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), "line 3: field lable not found") {
		t.Fatalf("error %v: want the file and the line", err)
	}
	// The default file is one to copy: it loads, and passes the DDLs.
	if err := os.WriteFile(path, web.DefaultActionsYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := web.LoadActions(path, agent.BuiltinDDLs())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Actions), len(web.DefaultActions().Actions); got != want {
		t.Fatalf("%d actions, want %d", got, want)
	}
}

// actionNames are the actions a page offers, in order.
var actionName = regexp.MustCompile(`data-action="([^"]+)"`)

func actionNames(body string) []string {
	var out []string
	for _, m := range actionName.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDefaultActionsMenus: the default file offers what the pages offered
// before there was one: Puppet, its status and ping everywhere, the no-op
// run on Puppet's posts, the service actions on monitoring posts that
// name a service.
func TestDefaultActionsMenus(t *testing.T) {
	ts, s := peopleServer(t, func(s *web.Server) { s.Actions = &web.Actions{} })
	addUser(t, s, "olga", people.RoleOperator)
	olga := login(t, ts.URL, "olga")
	everywhere := []string{"puppet-run", "puppet-status", "ping"}
	tests := []struct {
		name, source string
		tags         []string
		details      map[string]any
		want         []string
	}{
		{"a Puppet post", translators.SourcePuppet, []string{"fail"}, nil,
			[]string{"puppet-run", "puppet-noop", "puppet-status", "ping"}},
		{"a post tagged #puppet", translators.SourceEvents, []string{"puppet"}, nil,
			[]string{"puppet-run", "puppet-noop", "puppet-status", "ping"}},
		{"a Nagios post about a service", translators.SourceNagios, []string{"critical"}, map[string]any{"service": "httpd"},
			[]string{"puppet-run", "puppet-status", "service-status", "service-restart", "ping"}},
		{"an Icinga post about a unit", translators.SourceIcinga2, []string{"warning"}, map[string]any{"unit": "nginx.service"},
			[]string{"puppet-run", "puppet-status", "service-status", "service-restart", "ping"}},
		{"a Nagios post naming no service", translators.SourceNagios, []string{"critical"}, map[string]any{"service": "HTTP response time"},
			everywhere},
		{"an IDS post", translators.SourceSuricata, []string{"security"}, nil, everywhere},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Pipeline.Ingest(context.Background(), []translators.Event{{
				ID: "menu:" + tt.name, Source: tt.source, Node: "app01",
				Post: &translators.Draft{Text: "Something happened " + strings.Repeat("again ", i), Tags: tt.tags,
					Severity: translators.SeverityInfo, Details: tt.details},
			}})
			if err != nil || len(res.Posts) != 1 {
				t.Fatalf("ingest: %v %+v", err, res)
			}
			page := "/posts/" + feed.FormatID(res.Posts[0])
			if got := actionNames(olga.page(page)); !slices.Equal(got, tt.want) {
				t.Fatalf("actions %v, want %v", got, tt.want)
			}
		})
	}
	if got := actionNames(olga.page("/@app01")); !slices.Equal(got, everywhere) {
		t.Fatalf("the profile's actions %v, want %v", got, everywhere)
	}
	// The service's name is in the confirmation.
	res, err := s.Pipeline.Ingest(context.Background(), []translators.Event{{
		ID: "menu:confirm", Source: translators.SourceNagios, Node: "app01",
		Post: &translators.Draft{Text: "The web server is down", Tags: []string{"critical"},
			Severity: translators.SeverityCritical, Details: map[string]any{"service": "httpd"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	confirm := olga.page("/posts/" + feed.FormatID(res.Posts[0]) + "/actions?action=service-restart")
	mustContain(t, "the confirmation", confirm, "This asks app01 to restart the service httpd: 1 server in all.",
		"service restart service=httpd")
}

// customActions offers actions by role and by tag, and one with a filter.
const customActions = `
actions:
  - name: lb-puppet
    label: Run Puppet on the load balancers
    words: run Puppet
    done: Puppet run started
    run:
      agent: puppet
      action: runonce
      filter:
        class: [roles::load_balancer]
    match:
      roles: [frontend_web]
  - name: restart-haproxy
    label: Restart HAProxy
    words: restart HAProxy
    done: HAProxy restarted
    run: {agent: service, action: restart, data: {service: haproxy}}
    match:
      roles: [roles::load_balancer]
      profile: true
  - name: check-nginx
    label: Check the web server
    words: check the web server
    done: Web server checked
    run: {agent: service, action: status, data: {service: nginx}}
    match:
      tags: ["#slow"]
`

func TestCustomActionsByRoleAndTag(t *testing.T) {
	cfg, err := web.ParseActions([]byte(customActions), agent.BuiltinDDLs())
	if err != nil {
		t.Fatal(err)
	}
	ts, s := peopleServer(t, func(s *web.Server) { s.Actions = &web.Actions{Config: cfg} })
	addUser(t, s, "olga", people.RoleOperator)
	ctx := context.Background()
	for name, class := range map[string]string{"web01": "roles::frontend_web", "lb01": "roles::load_balancer"} {
		if _, err := s.Nodes.Upsert(ctx, name, nodes.Profile{Classes: []string{class}}); err != nil {
			t.Fatal(err)
		}
	}
	ids := ingest(t, s, draft{"web01", "The shop is slow", []string{"slow"}}, draft{"web01", "The shop is fine", nil},
		draft{"lb01", "The balancer is slow", []string{"slow"}})
	olga := login(t, ts.URL, "olga")
	for _, tt := range []struct {
		page string
		want []string
	}{
		{"/posts/" + ids[0], []string{"lb-puppet", "check-nginx", "check-nginx"}}, // and on every #frontend_web server
		{"/posts/" + ids[1], []string{"lb-puppet"}},
		{"/posts/" + ids[2], []string{"restart-haproxy", "check-nginx", "restart-haproxy", "check-nginx"}}, // and on every #load_balancer server
		{"/@web01", nil},
		{"/@lb01", []string{"restart-haproxy", "restart-haproxy"}},
	} {
		if got := actionNames(olga.page(tt.page)); !slices.Equal(got, tt.want) {
			t.Errorf("%s offers %v, want %v", tt.page, got, tt.want)
		}
	}
	// A filter's action is offered only as itself, and an action that
	// does not fit the page is refused.
	for _, path := range []string{
		"/posts/" + ids[0] + "/actions?action=lb-puppet&tag=frontend_web",
		"/posts/" + ids[1] + "/actions?action=check-nginx",
		"/nodes/web01/actions?action=restart-haproxy",
	} {
		if status, body := olga.get(path); status != 400 {
			t.Errorf("%s: %d, want 400: %s", path, status, body)
		}
	}
}
