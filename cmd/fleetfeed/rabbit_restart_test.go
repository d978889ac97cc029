package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
	"fleetfeed/rpc/broker/rabbittest"
	"fleetfeed/rpc/rpctest"
)

// TestRabbitMQRestartUnderLoad restarts RabbitMQ under running agents and a
// running server: they reconnect by themselves, the next request is
// answered by every agent, and the next event becomes a post.
func TestRabbitMQRestartUnderLoad(t *testing.T) {
	rabbit := rabbittest.Shared(t)
	fleet := rpctest.NewFleet(t, rpctest.Options{URL: rabbit.URL(), Count: 6})

	httpAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() {
		served <- Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", httpAddr,
			"--broker", rabbit.URL(), "--ingest-token", "tok"}, strings.NewReader(""), io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		<-served
	}()
	base := "http://" + httpAddr
	waitFor(t, "the server", func() bool { return getJSON(base+"/healthz", &map[string]any{}) == nil })

	conn, err := broker.Dial(ctx, rabbit.URL(), broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := fleet.Client(t, conn)
	ping := func() *rpc.Result {
		res, err := client.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Targets: fleet.Identities(), Timeout: 5 * time.Second})
		if err != nil {
			t.Logf("ping: %v", err)
			return nil
		}
		return res
	}
	if res := ping(); res == nil || res.Stats.OK != 6 {
		t.Fatalf("before the restart: %+v", res)
	}
	sendEvents(t, conn, 0, 1)
	waitFor(t, "the first post", func() bool { return statsOf(base).Posts == 1 })

	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer rcancel()
	if err := rabbit.Restart(rctx); err != nil {
		t.Fatal(err)
	}
	// Reconnection takes a back-off or two; the first request after it
	// must find every agent.
	waitFor(t, "every agent to answer after the restart", func() bool {
		res := ping()
		return res != nil && res.Stats.OK == 6
	})
	sendEvents(t, conn, 1, 2)
	waitFor(t, "a post after the restart", func() bool { return statsOf(base).Posts == 2 })
}
