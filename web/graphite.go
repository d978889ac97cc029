package web

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Graphite's plaintext protocol (carbon's line receiver, TCP port 2003 by
// default) takes one metric a line:
//
//	<path> <value> <Unix timestamp in seconds>\n
//
// where path is a dotted name, each dot a level of Graphite's tree.
// GraphitePusher writes every sample of CollectMetrics that way: the
// path is the prefix, the metric's name without "fleetfeed_", then each
// label's name and value, with whatever a path cannot hold in a value
// (dots, spaces, slashes, …) made an underscore:
//
//	fleetfeed_puppet_last_run_duration_seconds{node="web01.example.com"} 7.5
//	fleetfeed.puppet_last_run_duration_seconds.node.web01_example_com 7.5 1795608000

const (
	// DefaultGraphiteInterval is how often GraphitePusher pushes.
	DefaultGraphiteInterval = time.Minute
	// DefaultGraphitePrefix starts the paths GraphitePusher writes.
	DefaultGraphitePrefix = "fleetfeed"

	graphiteMinBackoff = time.Second
	graphiteTimeout    = 10 * time.Second
)

// GraphitePusher pushes metrics to a Graphite receiver every Interval,
// on a new TCP connection each time: a receiver that restarted between
// two pushes then never swallows a push into a connection it has
// forgotten. A push that fails is retried after a pause that doubles from
// MinBackoff up to Interval; an outage is logged when it begins and when
// it ends, not at every attempt.
type GraphitePusher struct {
	// Addr is the receiver, HOST:PORT.
	Addr string
	// Prefix starts every path ("fleetfeed", "prod.fleetfeed"); see
	// ValidGraphitePrefix. Empty means no prefix.
	Prefix string
	// Interval is the time between pushes; DefaultGraphiteInterval if 0.
	Interval time.Duration
	// MinBackoff is the first pause before retrying a failed push (one
	// second if 0); Timeout bounds collecting, connecting and writing one
	// push (ten seconds if 0).
	MinBackoff time.Duration
	Timeout    time.Duration
	// Collect gathers the metrics of a push: Server.CollectMetrics.
	Collect func(context.Context) ([]Metric, error)
	Logger  *slog.Logger

	pushes, failures atomic.Int64
}

// Run pushes until ctx ends, then makes a last push unless the receiver
// is down, and returns. Run it in its own goroutine: it never returns
// early, and its failures are only logged.
func (p *GraphitePusher) Run(ctx context.Context) {
	interval := cmp.Or(p.Interval, DefaultGraphiteInterval)
	backoff := cmp.Or(p.MinBackoff, graphiteMinBackoff)
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "graphite", "addr", p.Addr)
	var (
		failed    int // failures in a row
		downSince time.Time
	)
	timer := time.NewTimer(0) // the first push at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if failed == 0 {
				last, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(p.Timeout, graphiteTimeout))
				if err := p.Push(last); err != nil {
					logger.Warn("last push to graphite, on shutdown, failed", "err", err)
				}
				cancel()
			}
			return
		case <-timer.C:
		}
		err := p.Push(ctx)
		switch {
		case ctx.Err() != nil:
			return // shut down while pushing: that was the last push
		case err != nil:
			if failed == 0 {
				downSince = time.Now()
				logger.Warn("graphite push failed; retrying quietly until it works", "err", err)
			}
			failed++
			timer.Reset(min(backoff<<min(failed-1, 20), interval))
		default:
			if failed > 0 {
				logger.Info("graphite push works again", "failed_attempts", failed,
					"down_for", time.Since(downSince).Round(time.Second).String())
				failed = 0
			}
			timer.Reset(interval)
		}
	}
}

// Push collects the metrics and sends them once.
func (p *GraphitePusher) Push(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			p.failures.Add(1)
		} else {
			p.pushes.Add(1)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(p.Timeout, graphiteTimeout))
	defer cancel()
	ms, err := p.Collect(ctx)
	if err != nil {
		return fmt.Errorf("collect metrics: %w", err)
	}
	at := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	bw := bufio.NewWriter(conn)
	if err := WriteGraphite(bw, p.Prefix, ms, at); err != nil {
		return fmt.Errorf("write to graphite: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write to graphite: %w", err)
	}
	return conn.Close()
}

// Metrics are the pusher's own counters, for Server.MetricSources.
func (p *GraphitePusher) Metrics() []Metric {
	return []Metric{
		counter("fleetfeed_graphite_pushes_total", "Pushes of the metrics to Graphite that got through.", float64(p.pushes.Load())),
		counter("fleetfeed_graphite_push_failures_total", "Pushes of the metrics to Graphite that failed.", float64(p.failures.Load())),
	}
}

// Failures is how many pushes have failed.
func (p *GraphitePusher) Failures() int64 { return p.failures.Load() }

// WriteGraphite writes the metrics' samples as lines of Graphite's
// plaintext protocol, all stamped at. Samples that are not numbers
// (NaN, ±Inf) are left out: Graphite cannot store them.
func WriteGraphite(w io.Writer, prefix string, ms []Metric, at time.Time) error {
	ts := " " + strconv.FormatInt(at.Unix(), 10) + "\n"
	var b strings.Builder
	for _, m := range ms {
		for _, smp := range m.Samples {
			if math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0) {
				continue
			}
			b.Reset()
			b.WriteString(GraphitePath(prefix, m.Name, smp.Labels))
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(smp.Value, 'f', -1, 64))
			b.WriteString(ts)
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// GraphitePath is the path of a sample: prefix, the metric's name without
// "fleetfeed_", then each label's name and value, every level but the
// prefix's made safe by graphiteLevel.
func GraphitePath(prefix, name string, labels [][2]string) string {
	parts := make([]string, 0, 2+2*len(labels))
	if prefix != "" {
		parts = append(parts, prefix)
	}
	parts = append(parts, graphiteLevel(strings.TrimPrefix(name, "fleetfeed_")))
	for _, l := range labels {
		parts = append(parts, graphiteLevel(l[0]), graphiteLevel(l[1]))
	}
	return strings.Join(parts, ".")
}

// graphiteLevel makes s one level of a path: letters, digits, '_' and '-'
// stay, anything else (the dots of a host name, spaces, slashes, the
// wildcards of Graphite's queries) becomes '_'; "" becomes "_".
func graphiteLevel(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

var graphitePrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ValidGraphitePrefix reports whether prefix can start a path: empty, or
// levels of letters, digits, '_' and '-' joined by dots.
func ValidGraphitePrefix(prefix string) bool {
	return prefix == "" || graphitePrefix.MatchString(prefix)
}
