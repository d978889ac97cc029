package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGraphiteConfigValidate(t *testing.T) {
	ok := defaultGraphiteConfig()
	ok.Addr = "graphite.example.com:2003"
	for _, tc := range []struct {
		name string
		edit func(*GraphiteConfig)
		want string // in the error; "" for none
	}{
		{"off", func(c *GraphiteConfig) { c.Addr, c.Prefix, c.Interval = "", "", 0 }, ""},
		{"defaults", func(*GraphiteConfig) {}, ""},
		{"dotted prefix", func(c *GraphiteConfig) { c.Prefix = "prod.fleet-feed" }, ""},
		{"no prefix", func(c *GraphiteConfig) { c.Prefix = "" }, ""},
		{"no port", func(c *GraphiteConfig) { c.Addr = "graphite.example.com" }, "--graphite must be HOST:PORT"},
		{"bad prefix", func(c *GraphiteConfig) { c.Prefix = "prod..fleetfeed" }, "--graphite-prefix"},
		{"prefix with a space", func(c *GraphiteConfig) { c.Prefix = "my fleet" }, "--graphite-prefix"},
		{"short interval", func(c *GraphiteConfig) { c.Interval = 100 * time.Millisecond }, "--graphite-interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one about %s", err, tc.want)
			}
		})
	}
}

// TestServePushesToGraphite runs serve with --graphite against a
// listener: it pushes at once, with the broker's metrics and its own, and
// once more when it shuts down.
func TestServePushesToGraphite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	batches := make(chan string, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(bufio.NewReader(conn))
			conn.Close()
			batches <- string(b)
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case b := <-batches:
			return b
		case <-time.After(60 * time.Second):
			t.Fatal("no push arrived")
			return ""
		}
	}

	httpAddr, stompAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", httpAddr,
			"--stomp-listen", stompAddr, "--stomp-passcode", "pw", "--ingest-token", "tok",
			"--graphite", ln.Addr().String(), "--graphite-prefix", "test.ff", "--graphite-interval", "1h"},
			strings.NewReader(""), io.Discard, &out)
	}()
	first := next()
	for _, want := range []string{"\ntest.ff.events_total 0 ", "\ntest.ff.broker_connected ",
		"\ntest.ff.graphite_push_failures_total 0 ", "\ntest.ff.rpc_requests_total.result.ok 0 "} {
		if !strings.Contains("\n"+first, want) {
			t.Errorf("first push lacks %q:\n%s", want, first)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, out.String())
	}
	// The interval is an hour: this push is the last one, on shutdown.
	if last := next(); !strings.Contains("\n"+last, "\ntest.ff.graphite_pushes_total 1 ") {
		t.Errorf("last push:\n%s", last)
	}
}
