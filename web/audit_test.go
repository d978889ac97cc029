package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/timeline/people"
)

func TestAuditAPI(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "admin", people.RoleAdmin)
	addUser(t, s, "op", people.RoleOperator)
	log := &rpc.SQLiteAuditLog{DB: s.Pipeline.DB}
	for _, action := range []string{"status", "runonce", "disable"} {
		if err := log.Record(context.Background(), &rpc.AuditEntry{
			At: time.Now(), Caller: "user=alice", Mode: "sync", Agent: "puppet", Action: action,
			Filter: &rpc.Filter{Class: []string{"roles::frontend_lb"}}, Targets: []string{"lb1"}, OK: 1,
		}); err != nil {
			t.Fatal(err)
		}
	}

	if status, _ := newClient(t, ts.URL).get("/api/v1/audit"); status != http.StatusUnauthorized {
		t.Fatalf("anonymous: status %d, want 401", status)
	}
	if status, _ := login(t, ts.URL, "op").get("/api/v1/audit"); status != http.StatusForbidden {
		t.Fatalf("operator: status %d, want 403", status)
	}
	admin := login(t, ts.URL, "admin")
	var p1 rpc.AuditEntries
	if status := admin.json("/api/v1/audit?limit=2", &p1); status != http.StatusOK {
		t.Fatalf("admin: status %d", status)
	}
	if got, want := len(p1.Entries), 2; got != want || p1.Next == 0 {
		t.Fatalf("page 1: %+v", p1)
	}
	if got, want := p1.Entries[0].Action, "disable"; got != want {
		t.Fatalf("newest action %q, want %q", got, want)
	}
	if e := p1.Entries[0]; e.Caller != "user=alice" || e.OK != 1 || e.Filter == nil || e.Filter.Class[0] != "roles::frontend_lb" {
		t.Fatalf("entry %+v", e)
	}
	var p2 rpc.AuditEntries
	if status := admin.json("/api/v1/audit?limit=2&before="+strconv.FormatInt(p1.Next, 10), &p2); status != http.StatusOK {
		t.Fatalf("page 2: status %d", status)
	}
	if got, want := len(p2.Entries), 1; got != want || p2.Next != 0 || p2.Entries[0].Action != "status" {
		t.Fatalf("page 2: %+v", p2)
	}
	if status, _ := admin.get("/api/v1/audit?limit=0"); status != http.StatusBadRequest {
		t.Fatalf("limit=0: status %d, want 400", status)
	}
}

func TestAuditPage(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "admin", people.RoleAdmin)
	addUser(t, s, "op", people.RoleOperator)
	log := &rpc.SQLiteAuditLog{DB: s.Pipeline.DB}
	lbs := make([]string, 12)
	for i := range lbs {
		lbs[i] = fmt.Sprintf("lb%02d", i+1)
	}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i, e := range []rpc.AuditEntry{
		{Caller: "user=bob", Mode: "sync", Agent: "service", Action: "status", Data: map[string]any{"service": "<script>alert(1)</script>"},
			Targets: []string{"web01"}, Error: "no node answered <in time>"},
		{Caller: "user=ops", Via: "rule=lb-after-httpd", Mode: "sync", Agent: "puppet", Action: "runonce",
			Filter: &rpc.Filter{Class: []string{"roles::frontend_lb"}}, Targets: lbs, OK: 9, Failed: 1, NoResponse: 2},
		{Caller: "user=ops", Via: "user=alice", Mode: "async", Agent: "puppet", Action: "runonce", Data: map[string]any{"force": true},
			Targets: []string{"web01.example.com"}},
	} {
		e.At = at.Add(time.Duration(i) * time.Minute)
		if err := log.Record(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}

	if status, _ := newClient(t, ts.URL).get("/admin/audit"); status != http.StatusSeeOther {
		t.Fatalf("anonymous: status %d, want 303 to sign in", status)
	}
	op := login(t, ts.URL, "op")
	if status, _ := op.get("/admin/audit"); status != http.StatusForbidden {
		t.Fatalf("operator: status %d, want 403", status)
	}
	if strings.Contains(op.page("/"), "RPC audit") {
		t.Fatal("an operator is offered the audit link")
	}

	admin := login(t, ts.URL, "admin")
	if !strings.Contains(admin.page("/"), `<a href="/admin/audit">RPC audit</a>`) {
		t.Fatal("the administrator's navigation lacks the audit link")
	}
	page := admin.page("/admin/audit")
	mustContain(t, "audit page", page,
		`<a href="/admin/audit" aria-current="page">RPC audit</a>`,
		"alice on the web page", "as user=ops", "rule lb-after-httpd", "CLI user bob",
		"<code>puppet runonce</code>", "force=true", "asynchronous",
		"class roles::frontend_lb — 12 servers: lb01, lb02, lb03, lb04 and 8 more",
		"9 ok, 1 failed, 2 no answer",
		"1 server: web01",
		"service=&lt;script&gt;alert(1)&lt;/script&gt;", "the call failed:<br><span class=\"problem\">no node answered &lt;in time&gt;</span>",
		`datetime="2026-11-25T12:02:00Z"`,
		`href="/api/v1/audit?limit=50"`)
	if strings.Contains(page, "<script>alert") {
		t.Fatal("the audit page does not escape the inputs")
	}
	if i, j := strings.Index(page, "alice on the web page"), strings.Index(page, "CLI user bob"); i < 0 || j < i {
		t.Fatal("the audit page is not newest first")
	}

	// Pages follow the API's cursor, and keep the filters.
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next">Older calls</a>`)
	first := admin.page("/admin/audit?limit=2")
	m := older.FindStringSubmatch(first)
	if m == nil || strings.Contains(first, "CLI user bob") {
		t.Fatalf("first page of 2: no link to older calls, or too many calls:\n%s", first)
	}
	second := admin.page(html.UnescapeString(m[1]))
	mustContain(t, "second page", second, "CLI user bob", `<a href="/admin/audit?limit=2">Newest calls</a>`)
	if strings.Contains(second, "rule lb-after-httpd") || older.MatchString(second) {
		t.Fatal("second page: repeats the first, or offers a third")
	}

	mine := admin.page("/admin/audit?who=ALICE")
	mustContain(t, "filtered by who", mine, "alice on the web page", `value="ALICE"`, `href="/api/v1/audit?limit=50&amp;who=ALICE"`)
	if strings.Contains(mine, "rule lb-after-httpd") || strings.Contains(mine, "CLI user bob") {
		t.Fatal("the who filter lets other calls through")
	}
	services := admin.page("/admin/audit?agent=service")
	if !strings.Contains(services, "CLI user bob") || strings.Contains(services, "puppet runonce") {
		t.Fatal("the agent filter does not filter")
	}
	mustContain(t, "filtered to nothing", admin.page("/admin/audit?agent=nosuch"), "No call matches these filters.")
	if status, _ := admin.get("/admin/audit?before=x"); status != http.StatusBadRequest {
		t.Fatalf("bad cursor: status %d, want 400", status)
	}

	var rules rpc.AuditEntries
	if status := admin.json("/api/v1/audit?who=rule%3D&agent=puppet", &rules); status != http.StatusOK {
		t.Fatalf("filtered JSON: status %d", status)
	}
	if len(rules.Entries) != 1 || rules.Entries[0].Via != "rule=lb-after-httpd" {
		t.Fatalf("filtered JSON: %+v", rules)
	}
}
