package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker"
)

func newAgentCommand() *cobra.Command {
	var (
		configPath, brokerURL, identity string
		debug                           bool
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent that answers RPCs on this server",
		Long: `Run the agent daemon: it registers this server's inventory (facts, classes,
agents) with the fleetfeed server and answers signed RPC requests for its
plugins (rpcutil, puppet, service, package), as its configuration allows.

See rpc/agent/agent.example.yaml for the configuration file and
rpc/agent/fleetfeed-agent.service for a systemd unit. --broker and
--identity override the file; the broker URL may also come from
$FLEETFEED_BROKER.`,
		Example: `  fleetfeed agent --config /etc/fleetfeed/agent.yaml
  fleetfeed agent --config agent.yaml --broker stomp://agent:secret@fleetfeed.example.com:61613`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			return runAgent(cmd.Context(), configPath, brokerURL, identity, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "/etc/fleetfeed/agent.yaml", "agent configuration file (YAML)")
	f.StringVar(&brokerURL, "broker", "", "STOMP broker URL, stomp://user:pass@host:61613 (overrides the file)")
	f.StringVar(&identity, "identity", "", "this node's identity (overrides the file; default the host name)")
	f.BoolVar(&debug, "debug", false, "log every request")
	return cmd
}

func runAgent(ctx context.Context, configPath, brokerURL, identity string, logger *slog.Logger) error {
	cfg, err := agent.LoadConfig(configPath)
	if err != nil {
		return err
	}
	if brokerURL != "" {
		cfg.Broker = brokerURL
	}
	if cfg.Broker == "" {
		cfg.Broker = os.Getenv("FLEETFEED_BROKER")
	}
	if cfg.Broker == "" {
		return errors.New("no broker: set broker in the configuration file, --broker or $FLEETFEED_BROKER")
	}
	if identity != "" {
		cfg.Identity = identity
	}
	dialCtx, cancel := context.WithTimeout(ctx, time.Minute)
	conn, err := broker.Dial(dialCtx, cfg.Broker, broker.Options{Logger: logger.With("component", "stomp")})
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the broker: %w", err)
	}
	defer conn.Close()
	a, err := agent.New(cfg, conn, logger)
	if err != nil {
		return err
	}
	logger.Info("agent started", "identity", a.Identity(), "agents", a.Agents())
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
