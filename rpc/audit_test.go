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
