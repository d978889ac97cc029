package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"fleetfeed/rpc"
)

// Metric is one metric family in Prometheus' text exposition format.
type Metric struct {
	// Name, e.g. "fleetfeed_posts_total"; Type is "counter" or "gauge".
	Name, Help, Type string
	Samples          []Sample
}

// Sample is one value of a metric, with its labels (name, value pairs).
type Sample struct {
	Labels [][2]string
	Value  float64
}

// MetricSource adds metrics the server cannot see itself (the broker
// connection's, say) to /metrics. It is called on every scrape.
type MetricSource func() []Metric

func gauge(name, help string, v float64) Metric {
	return Metric{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Value: v}}}
}

func counter(name, help string, v float64) Metric {
	return Metric{Name: name, Help: help, Type: "counter", Samples: []Sample{{Value: v}}}
}

// CollectMetrics gathers what /metrics shows and what the Graphite
// pusher sends: the pipeline's counters, live stream clients, the RPCs in
// the audit log, the last Puppet run of each node that made a post, and
// those of Server.MetricSources.
func (s *Server) CollectMetrics(ctx context.Context) ([]Metric, error) {
	st := s.Pipeline.Stats()
	ms := []Metric{
		counter("fleetfeed_events_total", "Events ingested since start.", float64(st.Events)),
		counter("fleetfeed_duplicate_events_total", "Events ignored as already seen since start.", float64(st.Duplicates)),
		counter("fleetfeed_posts_total", "Posts stored since start.", float64(st.Posts)),
		counter("fleetfeed_folds_total", "Repeats folded into existing posts since start.", float64(st.Folds)),
		gauge("fleetfeed_stream_clients", "Clients of the streaming API connected now.", float64(s.streams.len())),
		gauge("fleetfeed_hub_subscribers", "In-process subscribers to new posts.", float64(s.Pipeline.Hub.Len())),
	}
	rpcs, err := s.rpcMetrics(ctx)
	if err != nil {
		return nil, err
	}
	ms = append(ms, rpcs...)
	puppet, err := s.puppetMetrics(ctx)
	if err != nil {
		return nil, err
	}
	ms = append(ms, puppet...)
	for _, src := range s.MetricSources {
		ms = append(ms, src()...)
	}
	return ms, nil
}

// handleMetrics serves CollectMetrics for Prometheus.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	ms, err := s.CollectMetrics(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	for _, m := range ms {
		writeMetric(bw, m)
	}
	bw.Flush()
}

// auditCounter is a running sum of the RPC audit log, so that a scrape
// reads only the calls recorded since the one before.
type auditCounter struct {
	mu     sync.Mutex
	totals rpc.AuditTotals
}

// rpcMetrics count the RPCs in the audit log: those of the web page, the
// rules, and the CLI when it was given this database (--db).
func (s *Server) rpcMetrics(ctx context.Context) ([]Metric, error) {
	c := &s.rpcCalls
	c.mu.Lock()
	defer c.mu.Unlock()
	more, err := s.auditLog().Totals(ctx, c.totals.Last)
	if err != nil {
		return nil, err
	}
	c.totals.Add(more)
	t := c.totals
	result := func(name string, n int64) Sample {
		return Sample{Labels: [][2]string{{"result", name}}, Value: float64(n)}
	}
	return []Metric{
		{Name: "fleetfeed_rpc_requests_total", Type: "counter",
			Help:    "RPCs sent (one per request, whatever the number of servers asked), in the audit log, by whether the request itself failed.",
			Samples: []Sample{result("ok", t.Calls-t.Errors), result("error", t.Errors)}},
		{Name: "fleetfeed_rpc_async_requests_total", Type: "counter",
			Help:    "RPCs sent asynchronously (their answers come later), in the audit log.",
			Samples: []Sample{{Value: float64(t.Async)}}},
		{Name: "fleetfeed_rpc_replies_total", Type: "counter",
			Help:    "Answers of the servers asked by RPCs in the audit log, by result.",
			Samples: []Sample{result("ok", t.OK), result("failed", t.Failed), result("no_response", t.NoResponse)}},
	}, nil
}

// puppetMetrics are the last Puppet run of each node, as its newest
// Puppet post tells it (a run that changed nothing makes no post): its
// time, resources, changes and events, Puppet's own report metrics.
func (s *Server) puppetMetrics(ctx context.Context) ([]Metric, error) {
	posts, err := s.Timeline.LastPostBySource(ctx, "puppet")
	if err != nil {
		return nil, err
	}
	secs := Metric{Name: "fleetfeed_puppet_last_run_duration_seconds", Help: "How long the node's last posted Puppet run took.", Type: "gauge"}
	at := Metric{Name: "fleetfeed_puppet_last_run_timestamp_seconds", Help: "When the node's last posted Puppet run happened.", Type: "gauge"}
	res := Metric{Name: "fleetfeed_puppet_last_run_resources", Help: "Resources of the node's last posted Puppet run, by state.", Type: "gauge"}
	changes := Metric{Name: "fleetfeed_puppet_last_run_changes", Help: "Changes Puppet made in the node's last posted run.", Type: "gauge"}
	events := Metric{Name: "fleetfeed_puppet_last_run_events", Help: "Events of the node's last posted Puppet run, by status.", Type: "gauge"}
	for _, p := range posts {
		node := [2]string{"node", p.Node}
		at.Samples = append(at.Samples, Sample{Labels: [][2]string{node}, Value: float64(p.CreatedAt.UnixMilli()) / 1000})
		var d struct {
			RunSeconds     *float64           `json:"run_seconds"`
			ResourceCounts map[string]float64 `json:"resource_counts"`
			ChangeCount    *float64           `json:"change_count"`
			EventCounts    map[string]float64 `json:"event_counts"`
		}
		if json.Unmarshal(p.Details, &d) != nil {
			continue
		}
		if d.RunSeconds != nil {
			secs.Samples = append(secs.Samples, Sample{Labels: [][2]string{node}, Value: *d.RunSeconds})
		}
		if d.ChangeCount != nil {
			changes.Samples = append(changes.Samples, Sample{Labels: [][2]string{node}, Value: *d.ChangeCount})
		}
		res.Samples = appendByKey(res.Samples, node, "state", d.ResourceCounts)
		events.Samples = appendByKey(events.Samples, node, "status", d.EventCounts)
	}
	return []Metric{secs, at, res, changes, events}, nil
}

// appendByKey adds one sample per key of counts, in the order of the keys,
// labelled with node and label=key.
func appendByKey(samples []Sample, node [2]string, label string, counts map[string]float64) []Sample {
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		samples = append(samples, Sample{Labels: [][2]string{node, {label, k}}, Value: counts[k]})
	}
	return samples
}

func writeMetric(w *bufio.Writer, m Metric) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.Name, escapeHelp(m.Help), m.Name, m.Type)
	for _, smp := range m.Samples {
		w.WriteString(m.Name)
		if len(smp.Labels) > 0 {
			w.WriteByte('{')
			for i, l := range smp.Labels {
				if i > 0 {
					w.WriteByte(',')
				}
				fmt.Fprintf(w, "%s=\"%s\"", l[0], escapeLabel(l[1]))
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.WriteString(formatValue(smp.Value))
		w.WriteByte('\n')
	}
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// len is the number of connected stream clients.
func (set *streamSet) len() int {
	set.mu.Lock()
	defer set.mu.Unlock()
	return len(set.conns)
}
