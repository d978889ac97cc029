package rpc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
)

func TestAuditRecordsEveryCall(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 4})
	log := &rpc.SQLiteAuditLog{DB: openStore(t).DB}
	ctx := context.Background()
	c, err := rpc.NewClient(ctx, f.Dial(t), rpc.ClientConfig{
		Collective: rpctest.Collective, CallerID: rpctest.CallerID,
		Signer:  &rpc.Signer{Name: rpctest.ClientName, Key: f.ClientKey},
		Trusted: f.Trusted, DDLs: agent.BuiltinDDLs(), Audit: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids := f.Identities()
	targets := []string{ids[0], ids[1], "ghost.example.net"}
	res, err := c.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Targets: targets, Timeout: 2 * time.Second, Via: "rule=test"})
	if err != nil {
		t.Fatal(err)
	}
	filter := &rpc.Filter{Identity: []string{ids[2]}}
	asyncID, err := c.SendAsync(ctx, rpc.Call{Agent: "puppet", Action: "status", Filter: filter}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, rpc.Call{Agent: "puppet", Action: "nosuch", Targets: ids[:1]}); err == nil {
		t.Fatal("unknown action: no error")
	}

	all, err := log.List(ctx, rpc.AuditPage{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all.Entries), 3; got != want {
		t.Fatalf("%d entries, want %d: %+v", got, want, all.Entries)
	}
	bad, async, sync := all.Entries[0], all.Entries[1], all.Entries[2] // newest first
	if sync.Caller != rpctest.CallerID || sync.Via != "rule=test" || sync.Mode != "sync" ||
		sync.Agent != "rpcutil" || sync.Action != "ping" || sync.RequestID != res.Stats.RequestID {
		t.Fatalf("sync entry %+v", sync)
	}
	if !slices.Equal(sync.Targets, targets) || sync.OK != 2 || sync.Failed != 0 || sync.NoResponse != 1 || sync.Error != "" {
		t.Fatalf("sync entry counts %+v", sync)
	}
	if time.Since(sync.At) > time.Minute {
		t.Fatalf("sync entry at %v", sync.At)
	}
	if async.Mode != "async" || async.RequestID != asyncID || !slices.Equal(async.Targets, []string{ids[2]}) ||
		async.Filter == nil || !slices.Equal(async.Filter.Identity, filter.Identity) {
		t.Fatalf("async entry %+v", async)
	}
	if bad.Action != "nosuch" || bad.Error == "" || !slices.Equal(bad.Targets, ids[:1]) {
		t.Fatalf("failed entry %+v", bad)
	}

	p1, err := log.List(ctx, rpc.AuditPage{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(p1.Entries), 2; got != want || p1.Next == 0 {
		t.Fatalf("page 1: %d entries, next %d", got, p1.Next)
	}
	p2, err := log.List(ctx, rpc.AuditPage{Before: p1.Next, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(p2.Entries), 1; got != want || p2.Next != 0 || p2.Entries[0].Seq != sync.Seq {
		t.Fatalf("page 2: %+v", p2)
	}
}

func TestAuditFiltersAndTotals(t *testing.T) {
	log := &rpc.SQLiteAuditLog{DB: openStore(t).DB}
	ctx := context.Background()
	total, err := log.Totals(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != (rpc.AuditTotals{}) {
		t.Fatalf("empty log totals %+v", total)
	}
	entries := []rpc.AuditEntry{
		{Caller: "user=ops", Via: "user=Alice", Mode: "sync", Agent: "puppet", Action: "runonce", OK: 3, Failed: 1},
		{Caller: "user=ops", Via: "rule=lb-after-httpd", Mode: "sync", Agent: "puppet", Action: "runonce", NoResponse: 2},
		{Caller: "user=bob", Mode: "async", Agent: "service", Action: "restart"},
		{Caller: "user=bob", Mode: "sync", Agent: "puppet", Action: "status", Error: "no such node"},
		{Caller: "user=a_b", Mode: "sync", Agent: "rpcutil", Action: "ping", OK: 1},
	}
	for i := range entries {
		entries[i].At = time.Now()
		if err := log.Record(ctx, &entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	actions := func(p rpc.AuditPage) []string {
		t.Helper()
		var out []string
		for {
			got, err := log.List(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range got.Entries {
				out = append(out, e.Caller+" "+e.Via+" "+e.Action)
			}
			if got.Next == 0 {
				return out
			}
			p.Before = got.Next
		}
	}
	for _, tc := range []struct {
		name string
		page rpc.AuditPage
		want []string
	}{
		{"who in via, any case", rpc.AuditPage{Who: "alice"}, []string{"user=ops user=Alice runonce"}},
		{"who in caller", rpc.AuditPage{Who: "bob", Limit: 1}, []string{"user=bob  status", "user=bob  restart"}},
		{"who is rule", rpc.AuditPage{Who: "rule="}, []string{"user=ops rule=lb-after-httpd runonce"}},
		{"underscore is no wildcard", rpc.AuditPage{Who: "a_b"}, []string{"user=a_b  ping"}},
		{"percent is no wildcard", rpc.AuditPage{Who: "%"}, nil},
		{"agent", rpc.AuditPage{Agent: "puppet", Limit: 2}, []string{"user=bob  status", "user=ops rule=lb-after-httpd runonce", "user=ops user=Alice runonce"}},
		{"who and agent", rpc.AuditPage{Who: "ops", Agent: "service"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := actions(tc.page); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	total, err = log.Totals(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (rpc.AuditTotals{Last: total.Last, Calls: 5, Errors: 1, Async: 1, OK: 4, Failed: 1, NoResponse: 2}); total != want || total.Last == 0 {
		t.Fatalf("totals %+v, want %+v", total, want)
	}
	// A running sum reads only what came after it.
	if err := log.Record(ctx, &rpc.AuditEntry{At: time.Now(), Caller: "user=bob", Mode: "sync", Agent: "puppet", Action: "status", Failed: 2}); err != nil {
		t.Fatal(err)
	}
	more, err := log.Totals(ctx, total.Last)
	if err != nil {
		t.Fatal(err)
	}
	if more.Calls != 1 || more.Failed != 2 || more.Last <= total.Last {
		t.Fatalf("totals after %d: %+v", total.Last, more)
	}
	total.Add(more)
	if total.Calls != 6 || total.Failed != 3 || total.Last != more.Last {
		t.Fatalf("running totals %+v", total)
	}
	none, err := log.Totals(ctx, total.Last)
	if err != nil {
		t.Fatal(err)
	}
	if none != (rpc.AuditTotals{Last: total.Last}) {
		t.Fatalf("nothing new: %+v", none)
	}
}
