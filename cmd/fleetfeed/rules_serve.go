package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rules"
)

func registerRulesFlags(f *pflag.FlagSet, cfg *ServeConfig) {
	name := rpcUser()
	f.StringVar(&cfg.Rules, "rules", "", "YAML rules file: RPCs to run when posts match (reloaded on SIGHUP)")
	f.StringVar(&cfg.RulesKey, "rules-key", rpcEnv("FLEETFEED_KEY", filepath.Join(rpcConfigDir(), "client.key")),
		"ed25519 private key that signs the rules' requests")
	f.StringVar(&cfg.RulesKeyName, "rules-key-name", rpcEnv("FLEETFEED_KEY_NAME", name), "name the agents know the rules' key by")
	f.StringVar(&cfg.RulesCaller, "rules-caller", "user="+name, "caller id the rules' requests carry")
}

// serveRules are the rules of --rules and the key their requests are
// signed with, loaded before the server starts anything.
type serveRules struct {
	rules []*rules.Rule
	key   ed25519.PrivateKey
}

// loadRules loads --rules and --rules-key; nil when there is no --rules.
func loadRules(cfg ServeConfig) (*serveRules, error) {
	if cfg.Rules == "" {
		return nil, nil
	}
	rs, err := rules.Load(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("--rules: %w", err)
	}
	key, err := rpc.LoadPrivateKey(cfg.RulesKey)
	if err != nil {
		return nil, fmt.Errorf("--rules-key: %w (create a key with: fleetfeed keygen)", err)
	}
	return &serveRules{rules: rs, key: key}, nil
}

// start runs the rules on the hub's posts, with an RPC client of their
// own that signs with --rules-key, trusts the keys replies are checked
// with, and records every call in the audit log. SIGHUP reloads the
// file; a file that no longer loads keeps the rules in use. The function
// it returns stops the rules and waits for their runs and client to end.
func (sr *serveRules) start(ctx context.Context, cfg ServeConfig, p *feed.Pipeline, m *messaging, trusted *rpc.KeyRing,
	logger *slog.Logger) (stop func(), err error) {
	rs, key := sr.rules, sr.key
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := rpc.NewClient(dctx, m.conn, rpc.ClientConfig{
		Collective: cfg.Collective,
		SenderID:   "fleetfeed-rules-" + rpc.NewRequestID()[:8],
		CallerID:   cfg.RulesCaller,
		Signer:     &rpc.Signer{Name: cfg.RulesKeyName, Key: key},
		Trusted:    trusted,
		DDLs:       agent.BuiltinDDLs(),
		Audit:      &rpc.SQLiteAuditLog{DB: p.DB},
		Logger:     logger.With("component", "rules"),
	})
	if err != nil {
		return nil, fmt.Errorf("rules client: %w", err)
	}
	engine := &rules.Engine{Hub: p.Hub, Client: client, Poster: p, Logger: logger.With("component", "rules")}
	engine.SetRules(rs)
	logger.Info("rules loaded", "file", cfg.Rules, "rules", len(rs))
	runCtx, stopRun := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		defer signal.Stop(hup)
		reloadRules(runCtx, hup, cfg.Rules, engine, logger)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		defer client.Close()
		if err := engine.Run(runCtx); err != nil {
			logger.Error("rules stopped", "err", err)
		}
	}()
	return func() {
		stopRun()
		<-done
		<-done
	}, nil
}

// reloadRules loads the rules file again each time reload delivers, until
// ctx ends.
func reloadRules(ctx context.Context, reload <-chan os.Signal, path string, engine *rules.Engine, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			rs, err := rules.Load(path)
			if err != nil {
				logger.Error("rules not reloaded; keeping the rules in use", "err", err)
				continue
			}
			engine.SetRules(rs)
			logger.Info("rules reloaded", "file", path, "rules", len(rs))
		}
	}
}
