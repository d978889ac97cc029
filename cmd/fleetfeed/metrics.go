package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/pflag"

	"fleetfeed/rpc/broker"
	"fleetfeed/web"
)

// brokerMetrics are the server's broker connection's counters.
func brokerMetrics(c *broker.Conn) web.MetricSource {
	return func() []web.Metric {
		st := c.Stats()
		connected := 0.0
		if st.Connected {
			connected = 1
		}
		return []web.Metric{
			{Name: "fleetfeed_broker_connected", Help: "Whether the server is connected to the STOMP broker.", Type: "gauge",
				Samples: []web.Sample{{Value: connected}}},
			{Name: "fleetfeed_broker_reconnects_total", Help: "Connections to the STOMP broker re-established after they were lost.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Reconnects)}}},
			{Name: "fleetfeed_broker_messages_received_total", Help: "Messages received from the STOMP broker.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Received)}}},
			{Name: "fleetfeed_broker_messages_sent_total", Help: "Messages sent to the STOMP broker.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Sent)}}},
		}
	}
}

// GraphiteConfig is where `fleetfeed serve` pushes its metrics, if
// anywhere.
type GraphiteConfig struct {
	// Addr is carbon's plaintext receiver, HOST:PORT; empty pushes
	// nothing.
	Addr     string
	Prefix   string
	Interval time.Duration
}

func defaultGraphiteConfig() GraphiteConfig {
	return GraphiteConfig{Prefix: web.DefaultGraphitePrefix, Interval: web.DefaultGraphiteInterval}
}

func registerGraphiteFlags(f *pflag.FlagSet, cfg *GraphiteConfig) {
	f.StringVar(&cfg.Addr, "graphite", "", "push the metrics of /metrics to Graphite's plaintext receiver at HOST:PORT (carbon listens on 2003)")
	f.StringVar(&cfg.Prefix, "graphite-prefix", cfg.Prefix, "first levels of the Graphite paths, e.g. prod.fleetfeed")
	f.DurationVar(&cfg.Interval, "graphite-interval", cfg.Interval, "time between pushes to Graphite")
}

// Validate checks the flags when --graphite is given.
func (c *GraphiteConfig) Validate() error {
	if c.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--graphite must be HOST:PORT: %w", err)
	}
	if !web.ValidGraphitePrefix(c.Prefix) {
		return errors.New("--graphite-prefix must be levels of letters, digits, _ and - joined by dots, like prod.fleetfeed")
	}
	if c.Interval < time.Second {
		return errors.New("--graphite-interval must be at least 1s")
	}
	return nil
}

// startGraphite pushes srv's metrics to Graphite in the background, if
// cfg says where. stop ends the pushing after a last push, and waits for
// it; call it before the database closes.
func startGraphite(ctx context.Context, cfg GraphiteConfig, srv *web.Server, logger *slog.Logger) (stop func()) {
	if cfg.Addr == "" {
		return func() {}
	}
	p := &web.GraphitePusher{Addr: cfg.Addr, Prefix: cfg.Prefix, Interval: cfg.Interval,
		Collect: srv.CollectMetrics, Logger: logger}
	srv.MetricSources = append(srv.MetricSources, p.Metrics)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	logger.Info("pushing metrics to graphite", "addr", cfg.Addr, "prefix", cfg.Prefix, "every", cfg.Interval.String())
	return func() {
		cancel()
		<-done
	}
}
