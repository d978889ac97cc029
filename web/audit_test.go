package web_test

import (
	"context"
	"net/http"
	"strconv"
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
