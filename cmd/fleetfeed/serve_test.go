package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker"
	"fleetfeed/rpc/broker/rabbittest"
)

func TestMain(m *testing.M) { os.Exit(rabbittest.Main(m)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

type stats struct{ Events, Posts, Nodes int }

func statsOf(base string) stats {
	var s stats
	getJSON(base+"/api/v1/stats", &s)
	return s
}

// eventMsg is one normalized event, with a unique sentence so that nothing
// folds: every event must become exactly one post.
func eventMsg(i int) []byte {
	return []byte(fmt.Sprintf(`{"id":"stomp-%d","node":"web%02d.example.com","post":{"text":"Test event number %d arrived","tags":["test","info"],"severity":"info"}}`, i, i%20, i))
}

func sendEvents(t *testing.T, conn rpc.Connector, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := from; i < to; i++ {
		if err := conn.Send(ctx, broker.EventsQueue("fleetfeed"), eventMsg(i), rpc.SendOptions{Header: map[string]string{broker.HeaderSource: "events"}}); err != nil {
			t.Fatalf("send event %d: %v", i, err)
		}
	}
}

// TestServeOverEmbeddedBroker runs `fleetfeed serve` with its embedded
// broker and checks the events and registration queues end to end.
func TestServeOverEmbeddedBroker(t *testing.T) {
	httpAddr, stompAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", httpAddr,
			"--stomp-listen", stompAddr, "--stomp-passcode", "pw", "--ingest-token", "tok"}, strings.NewReader(""), io.Discard, &out)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, out.String())
		}
	}()
	base := "http://" + httpAddr
	waitFor(t, "the server", func() bool { _, err := http.Get(base + "/healthz"); return err == nil })

	conn, err := broker.Dial(ctx, "stomp://fleetfeed:pw@"+stompAddr, broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	failed, err := conn.Subscribe(ctx, broker.FailedEventsQueue("fleetfeed"), rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}

	sendEvents(t, conn, 0, 50)
	// Poison: a payload its translator refuses.
	if err := conn.Send(ctx, broker.EventsQueue("fleetfeed"), []byte("{not json"), rpc.SendOptions{Header: map[string]string{broker.HeaderSource: "suricata"}}); err != nil {
		t.Fatal(err)
	}
	sendEvents(t, conn, 0, 50) // redelivered duplicates make no posts
	waitFor(t, "50 posts", func() bool { return statsOf(base).Posts == 50 })
	select {
	case m := <-failed.C():
		if got := m.Header[broker.HeaderError]; !strings.Contains(got, "suricata") {
			t.Fatalf("failed message reason %q does not name the source", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the poison message did not reach the failed queue")
	}
	if got, want := statsOf(base), (stats{Events: 50, Posts: 50, Nodes: 20}); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}

	// An agent registers: its profile appears with its agents and location.
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{
		Identity: "db07.example.com", Collective: "fleetfeed", KeyName: "db07", Key: key,
		Keys: rpc.NewKeyRing(), Policy: rpc.Policy{Default: rpc.Deny},
		Facts:   map[string]any{"datacenter": "fra1", "latitude": 50.11, "longitude": 8.68},
		Classes: []string{"roles::database"}, Runner: agent.SimRunner{},
	}, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	var node struct {
		Name     string
		Roles    []string
		Agents   []string
		Location struct{ Datacenter string }
	}
	waitFor(t, "the registration", func() bool { return getJSON(base+"/api/v1/nodes/db07.example.com", &node) == nil })
	if node.Name != "db07" || node.Location.Datacenter != "fra1" || len(node.Agents) == 0 || len(node.Roles) != 1 || node.Roles[0] != "database" {
		t.Fatalf("registered node = %+v", node)
	}
}

// TestServeKilledWithEventsInFlight kills the server while 10,000 events
// wait in RabbitMQ and restarts it: every event becomes exactly one post.
func TestServeKilledWithEventsInFlight(t *testing.T) {
	rabbit := rabbittest.Shared(t)
	bin := filepath.Join(t.TempDir(), "fleetfeed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	db := filepath.Join(t.TempDir(), "f.db")
	httpAddr := freeAddr(t)
	base := "http://" + httpAddr
	var logs bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--db", db, "--http", httpAddr, "--broker", rabbit.URL(), "--ingest-token", "tok")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the server", func() bool { _, err := http.Get(base + "/healthz"); return err == nil })
		return cmd
	}

	ctx := context.Background()
	conn, err := broker.Dial(ctx, rabbit.URL(), broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 10_000
	sendEvents(t, conn, 0, n)

	srv := start()
	waitFor(t, "some posts", func() bool { return statsOf(base).Posts >= 500 })
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()

	srv = start()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	waitFor(t, "every event", func() bool { return statsOf(base).Events == n })
	time.Sleep(500 * time.Millisecond) // a redelivery still on its way would show now
	if got, want := statsOf(base), (stats{Events: n, Posts: n, Nodes: 20}); got != want {
		t.Fatalf("stats = %+v, want %+v\n%s", got, want, logs.String())
	}
}
