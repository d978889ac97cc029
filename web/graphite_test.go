package web_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/translators"
	"fleetfeed/web"
)

// graphiteReceiver is a stand-in for carbon's line receiver: each
// connection's lines are one batch.
type graphiteReceiver struct {
	ln      net.Listener
	batches chan []string
	wg      sync.WaitGroup
}

func listenGraphite(t *testing.T, addr string) *graphiteReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &graphiteReceiver{ln: ln, batches: make(chan []string, 100)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			var lines []string
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			conn.Close()
			if len(lines) > 0 {
				select {
				case r.batches <- lines:
				default: // the test has read enough
				}
			}
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *graphiteReceiver) close() {
	r.ln.Close()
	r.wg.Wait()
}

// next waits for the next push; the deadline only keeps a broken pusher
// from hanging the test.
func (r *graphiteReceiver) next(t *testing.T) []string {
	t.Helper()
	select {
	case b := <-r.batches:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("no push arrived")
		return nil
	}
}

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	promLine  = regexp.MustCompile(`^([a-z_]+)(?:\{(.*)\})? (\S+)$`)
	promLabel = regexp.MustCompile(`([a-z_]+)="((?:[^"\\]|\\.)*)"`)
	unsafe    = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

// promAsGraphite reads /metrics and names each sample as the pusher
// should: prefix, name without fleetfeed_, label names and values made
// safe; samples that are not numbers are left out.
func promAsGraphite(t *testing.T, body, prefix string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := promLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		path := prefix + "." + strings.TrimPrefix(m[1], "fleetfeed_")
		for _, l := range promLabel.FindAllStringSubmatch(m[2], -1) {
			path += "." + l[1] + "." + unsafe.ReplaceAllString(l[2], "_")
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue // Graphite cannot store it
		}
		out[path] = v
	}
	return out
}

// parseGraphite checks each line is "path value timestamp", every
// timestamp the same, and returns the values by path.
func parseGraphite(t *testing.T, lines []string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	var ts string
	for _, line := range lines {
		f := strings.Split(line, " ")
		if len(f) != 3 {
			t.Fatalf("line %q: not path value timestamp", line)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$`).MatchString(f[0]) {
			t.Errorf("line %q: path has unsafe characters", line)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("line %q: value %q", line, f[1])
		}
		if n, err := strconv.ParseInt(f[2], 10, 64); err != nil || n <= 0 {
			t.Errorf("line %q: timestamp %q", line, f[2])
		}
		if ts == "" {
			ts = f[2]
		} else if f[2] != ts {
			t.Errorf("line %q: timestamp %s, the push's first was %s", line, f[2], ts)
		}
		if _, dup := out[f[0]]; dup {
			t.Errorf("path %s pushed twice", f[0])
		}
		out[f[0]] = v
	}
	return out
}

func TestGraphitePush(t *testing.T) {
	ts, s := newServer(t)
	s.MetricSources = append(s.MetricSources, func() []web.Metric {
		return []web.Metric{{Name: "fleetfeed_test_sites", Help: "A test.", Type: "gauge", Samples: []web.Sample{
			{Labels: [][2]string{{"site", "ams1.example.com"}}, Value: 1},
			{Labels: [][2]string{{"site", "a b/c*{d}"}}, Value: 2},
			{Labels: [][2]string{{"site", "nan"}}, Value: math.NaN()},
		}}}
	})
	ev := translators.Event{ID: "puppet:a", Source: translators.SourcePuppet, Node: "web01", Time: time.Now(),
		Post: &translators.Draft{Text: "Puppet changed something", Tags: []string{"puppet", "changed"}, Severity: translators.SeverityInfo,
			Details: map[string]any{"run_seconds": 7.25, "change_count": 2, "resource_counts": map[string]any{"changed": 2, "total": 30}}}}
	if _, err := s.Pipeline.Ingest(context.Background(), []translators.Event{ev}); err != nil {
		t.Fatal(err)
	}

	recv := listenGraphite(t, "127.0.0.1:0")
	addr := recv.ln.Addr().String()
	var logs syncBuffer
	p := &web.GraphitePusher{
		Addr: addr, Prefix: "fleetfeed", Interval: 20 * time.Millisecond, MinBackoff: 5 * time.Millisecond,
		Collect: s.CollectMetrics, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	got := parseGraphite(t, recv.next(t))
	want := promAsGraphite(t, scrape(t, ts.URL), "fleetfeed")
	for path, v := range want {
		if g, ok := got[path]; !ok || g != v {
			t.Errorf("%s: pushed %v (%t), /metrics says %v", path, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("pushed %d samples, /metrics has %d", len(got), len(want))
	}
	for path, v := range map[string]float64{
		"fleetfeed.events_total":                                     1,
		"fleetfeed.puppet_last_run_duration_seconds.node.web01":      7.25,
		"fleetfeed.puppet_last_run_resources.node.web01.state.total": 30,
		"fleetfeed.test_sites.site.ams1_example_com":                 1,
		"fleetfeed.test_sites.site.a_b_c__d_":                        2,
	} {
		if g, ok := got[path]; !ok || g != v {
			t.Errorf("%s: pushed %v (%t), want %v", path, g, ok, v)
		}
	}
	if _, ok := got["fleetfeed.test_sites.site.nan"]; ok {
		t.Error("a NaN sample was pushed")
	}

	// The receiver goes away: the pusher retries, saying so once, and
	// pushes again when it is back.
	recv.close()
	for p.Failures() < 3 {
		select {
		case <-done:
			t.Fatal("the pusher stopped")
		case <-time.After(5 * time.Millisecond):
		}
	}
	back := listenGraphite(t, addr)
	if got := parseGraphite(t, back.next(t)); got["fleetfeed.events_total"] != 1 {
		t.Fatalf("after reconnecting: %v", got)
	}
	back.next(t) // a regular push: the one before it has been logged
	cancel()
	<-done
	out := logs.String()
	if n := strings.Count(out, "graphite push failed"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "graphite push works again") {
		t.Errorf("the end of the outage was not logged:\n%s", out)
	}
	if strings.Contains(out, "on shutdown, failed") {
		t.Errorf("the last push on shutdown failed:\n%s", out)
	}
}

func TestGraphiteLines(t *testing.T) {
	ms := []web.Metric{
		{Name: "fleetfeed_posts_total", Samples: []web.Sample{{Value: 12}}},
		{Name: "fleetfeed_puppet_last_run_timestamp_seconds", Samples: []web.Sample{{Labels: [][2]string{{"node", "web01.example.com"}}, Value: 1795608000.5}}},
		{Name: "other", Samples: []web.Sample{{Labels: [][2]string{{"x", ""}}, Value: math.Inf(1)}, {Labels: [][2]string{{"x", ""}}, Value: -0.25}}},
	}
	at := time.Unix(1795608060, 0)
	for _, tc := range []struct{ prefix, want string }{
		{"fleetfeed", "fleetfeed.posts_total 12 1795608060\n" +
			"fleetfeed.puppet_last_run_timestamp_seconds.node.web01_example_com 1795608000.5 1795608060\n" +
			"fleetfeed.other.x._ -0.25 1795608060\n"},
		{"", "posts_total 12 1795608060\n" +
			"puppet_last_run_timestamp_seconds.node.web01_example_com 1795608000.5 1795608060\n" +
			"other.x._ -0.25 1795608060\n"},
	} {
		t.Run("prefix "+tc.prefix, func(t *testing.T) {
			var b strings.Builder
			if err := web.WriteGraphite(&b, tc.prefix, ms, at); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for prefix, ok := range map[string]bool{"": true, "fleetfeed": true, "prod.fleet-feed_1": true,
		".fleetfeed": false, "fleetfeed.": false, "a..b": false, "a b": false, "a*": false} {
		if got := web.ValidGraphitePrefix(prefix); got != ok {
			t.Errorf("ValidGraphitePrefix(%q) = %t, want %t", prefix, got, ok)
		}
	}
}
