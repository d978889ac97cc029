package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/translators"
	"fleetfeed/web"
)

func TestMetrics(t *testing.T) {
	ts, s := newServer(t)
	s.MetricSources = append(s.MetricSources, func() []web.Metric {
		return []web.Metric{{Name: "fleetfeed_test_total", Help: "A test.", Type: "counter", Samples: []web.Sample{{Value: 7}}}}
	})
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	puppet := func(id string, secs float64, changed int) translators.Event {
		return translators.Event{ID: "puppet:" + id, Source: translators.SourcePuppet, Node: `web1.example.com`, Time: at,
			Post: &translators.Draft{Text: "Puppet changed something " + id, Tags: []string{"puppet", "changed"}, Severity: translators.SeverityInfo,
				Details: map[string]any{"run_seconds": secs, "resource_counts": map[string]any{"changed": changed, "total": 30},
					"change_count": changed + 1, "event_counts": map[string]any{"success": changed + 1, "failure": 0, "total": changed + 1}}}}
	}
	evs := []translators.Event{puppet("a", 3, 1), puppet("a", 3, 1), puppet("b", 7.5, 2)}
	if _, err := s.Pipeline.Ingest(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	audit := &rpc.SQLiteAuditLog{DB: s.Pipeline.DB}
	for _, e := range []rpc.AuditEntry{
		{Mode: "sync", OK: 3, Failed: 1, NoResponse: 2},
		{Mode: "async"},
		{Mode: "sync", Error: "no servers match the filter"},
	} {
		e.At, e.Caller, e.Agent, e.Action = at, "user=ops", "puppet", "runonce"
		if err := audit.Record(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}
	body := scrape(t, ts.URL)
	for _, want := range []string{
		"# TYPE fleetfeed_events_total counter\nfleetfeed_events_total 3\n",
		"fleetfeed_duplicate_events_total 1\n",
		"fleetfeed_posts_total 2\n",
		"fleetfeed_folds_total 0\n",
		"# TYPE fleetfeed_stream_clients gauge\nfleetfeed_stream_clients 0\n",
		`fleetfeed_puppet_last_run_duration_seconds{node="web1"} 7.5` + "\n",
		`fleetfeed_puppet_last_run_resources{node="web1",state="changed"} 2` + "\n",
		`fleetfeed_puppet_last_run_resources{node="web1",state="total"} 30` + "\n",
		`fleetfeed_puppet_last_run_timestamp_seconds{node="web1"} 1.795608e+09` + "\n",
		"# TYPE fleetfeed_puppet_last_run_changes gauge\n" + `fleetfeed_puppet_last_run_changes{node="web1"} 3` + "\n",
		`fleetfeed_puppet_last_run_events{node="web1",status="failure"} 0` + "\n" +
			`fleetfeed_puppet_last_run_events{node="web1",status="success"} 3` + "\n" +
			`fleetfeed_puppet_last_run_events{node="web1",status="total"} 3` + "\n",
		"# TYPE fleetfeed_rpc_requests_total counter\n" + `fleetfeed_rpc_requests_total{result="ok"} 2` + "\n" +
			`fleetfeed_rpc_requests_total{result="error"} 1` + "\n",
		"fleetfeed_rpc_async_requests_total 1\n",
		`fleetfeed_rpc_replies_total{result="ok"} 3` + "\n" + `fleetfeed_rpc_replies_total{result="failed"} 1` + "\n" +
			`fleetfeed_rpc_replies_total{result="no_response"} 2` + "\n",
		"# HELP fleetfeed_test_total A test.\n# TYPE fleetfeed_test_total counter\nfleetfeed_test_total 7\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}

	// The RPC counters read only the calls recorded since the last
	// scrape, and add them up.
	if err := audit.Record(context.Background(), &rpc.AuditEntry{At: at, Caller: "user=ops", Mode: "sync", Agent: "puppet", Action: "status", OK: 4}); err != nil {
		t.Fatal(err)
	}
	body = scrape(t, ts.URL)
	for _, want := range []string{`fleetfeed_rpc_requests_total{result="ok"} 3` + "\n", `fleetfeed_rpc_replies_total{result="ok"} 7` + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("second scrape lacks %q:\n%s", want, body)
		}
	}
}

// scrape fetches /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status %d, want %d: %s", got, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q", ct)
	}
	return string(body)
}
