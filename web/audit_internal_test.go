package web

import (
	"testing"

	"fleetfeed/rpc"
)

func TestAuditWho(t *testing.T) {
	for _, tc := range []struct{ caller, via, want string }{
		{"user=ops", "user=alice", "alice on the web page"},
		{"user=ops", "rule=lb-after-httpd", "rule lb-after-httpd"},
		{"user=bob", "", "CLI user bob"},
		{"cert=deploy", "", "CLI caller cert=deploy"},
		{"user=ops", "cron", "cron"},
	} {
		t.Run(tc.caller+" "+tc.via, func(t *testing.T) {
			if got := auditWho(tc.caller, tc.via); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuditWhere(t *testing.T) {
	six := []string{"a", "b", "c", "d", "e", "f"}
	for _, tc := range []struct {
		name    string
		filter  *rpc.Filter
		targets []string
		want    string
	}{
		{"nothing", nil, nil, "no server"},
		{"targets", nil, []string{"web01", "web02"}, "2 servers: web01, web02"},
		{"five targets in full", nil, six[:5], "5 servers: a, b, c, d, e"},
		{"six targets counted", nil, six, "6 servers: a, b, c, d and 2 more"},
		{"filter only", &rpc.Filter{Class: []string{"roles::db"}, Fact: []rpc.FactFilter{{Fact: "os.family", Operator: "==", Value: "Debian"}}},
			nil, "class roles::db and fact os.family==Debian"},
		{"filter and targets", &rpc.Filter{Identity: six, Agent: []string{"puppet"}, Compound: []string{"roles::web and not dc=ams1"}},
			[]string{"a"}, "identity a, b, c, d and 2 more and agent puppet and matching roles::web and not dc=ams1 — 1 server: a"},
		{"empty filter", &rpc.Filter{}, []string{"a"}, "1 server: a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := auditWhere(tc.filter, tc.targets); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuditInputs(t *testing.T) {
	long := make([]rune, 100)
	for i := range long {
		long[i] = 'é'
	}
	got := auditInputs(map[string]any{"tags": []any{"a", "b"}, "force": true, "noop": "yes", "msg": string(long)})
	want := `force=true, msg=` + string(long[:79]) + `…, noop=yes, tags=["a","b"]`
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := auditInputs(nil); got != "" {
		t.Fatalf("no data: %q", got)
	}
}
