package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
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

// handleMetrics serves fleetfeed's metrics for Prometheus: the pipeline's
// counters, live stream clients, the last Puppet run of each node that
// made a post, and those of Server.MetricSources.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	st := s.Pipeline.Stats()
	ms := []Metric{
		counter("fleetfeed_events_total", "Events ingested since start.", float64(st.Events)),
		counter("fleetfeed_duplicate_events_total", "Events ignored as already seen since start.", float64(st.Duplicates)),
		counter("fleetfeed_posts_total", "Posts stored since start.", float64(st.Posts)),
		counter("fleetfeed_folds_total", "Repeats folded into existing posts since start.", float64(st.Folds)),
		gauge("fleetfeed_stream_clients", "Clients of the streaming API connected now.", float64(s.streams.len())),
		gauge("fleetfeed_hub_subscribers", "In-process subscribers to new posts.", float64(s.Pipeline.Hub.Len())),
	}
	puppet, err := s.puppetMetrics(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ms = append(ms, puppet...)
	for _, src := range s.MetricSources {
		ms = append(ms, src()...)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	for _, m := range ms {
		writeMetric(bw, m)
	}
	bw.Flush()
}

// puppetMetrics are the last Puppet run of each node, as its newest
// Puppet post tells it (a run that changed nothing makes no post).
func (s *Server) puppetMetrics(r *http.Request) ([]Metric, error) {
	posts, err := s.Timeline.LastPostBySource(r.Context(), "puppet")
	if err != nil {
		return nil, err
	}
	secs := Metric{Name: "fleetfeed_puppet_last_run_duration_seconds", Help: "How long the node's last posted Puppet run took.", Type: "gauge"}
	at := Metric{Name: "fleetfeed_puppet_last_run_timestamp_seconds", Help: "When the node's last posted Puppet run happened.", Type: "gauge"}
	res := Metric{Name: "fleetfeed_puppet_last_run_resources", Help: "Resources of the node's last posted Puppet run, by state.", Type: "gauge"}
	for _, p := range posts {
		node := [2]string{"node", p.Node}
		at.Samples = append(at.Samples, Sample{Labels: [][2]string{node}, Value: float64(p.CreatedAt.UnixMilli()) / 1000})
		var d struct {
			RunSeconds     *float64           `json:"run_seconds"`
			ResourceCounts map[string]float64 `json:"resource_counts"`
		}
		if json.Unmarshal(p.Details, &d) != nil {
			continue
		}
		if d.RunSeconds != nil {
			secs.Samples = append(secs.Samples, Sample{Labels: [][2]string{node}, Value: *d.RunSeconds})
		}
		states := make([]string, 0, len(d.ResourceCounts))
		for k := range d.ResourceCounts {
			states = append(states, k)
		}
		sort.Strings(states)
		for _, k := range states {
			res.Samples = append(res.Samples, Sample{Labels: [][2]string{node, {"state", k}}, Value: d.ResourceCounts[k]})
		}
	}
	return []Metric{secs, at, res}, nil
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
