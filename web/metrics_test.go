package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
				Details: map[string]any{"run_seconds": secs, "resource_counts": map[string]any{"changed": changed, "total": 30}}}}
	}
	evs := []translators.Event{puppet("a", 3, 1), puppet("a", 3, 1), puppet("b", 7.5, 2)}
	if _, err := s.Pipeline.Ingest(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/metrics")
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
		"# HELP fleetfeed_test_total A test.\n# TYPE fleetfeed_test_total counter\nfleetfeed_test_total 7\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
