package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/rules"
	"fleetfeed/web"
)

func registerRulesFlags(f *pflag.FlagSet, cfg *ServeConfig) {
	name := rpcUser()
	f.StringVar(&cfg.Rules, "rules", "", "YAML rules file: RPCs to run when posts match (reloaded on SIGHUP)")
	f.StringVar(&cfg.RulesKey, "rules-key", rpcEnv("FLEETFEED_KEY", filepath.Join(rpcConfigDir(), "client.key")),
		"ed25519 private key that signs the rules' requests")
	f.StringVar(&cfg.RulesKeyName, "rules-key-name", rpcEnv("FLEETFEED_KEY_NAME", name), "name the agents know the rules' key by")
	f.StringVar(&cfg.RulesCaller, "rules-caller", "user="+name, "caller id the rules' requests carry")
}

// serveRules are the rules of --rules, loaded into an engine that is not
// running yet, and the key their requests are signed with, loaded before
// the server starts anything.
type serveRules struct {
	admin *rulesAdmin
	key   ed25519.PrivateKey
}

// loadRules loads --rules and --rules-key; nil when there is no --rules.
func loadRules(cfg ServeConfig, logger *slog.Logger) (*serveRules, error) {
	if cfg.Rules == "" {
		return nil, nil
	}
	logger = logger.With("component", "rules")
	admin := &rulesAdmin{path: cfg.Rules, engine: &rules.Engine{Logger: logger}, logger: logger}
	if err := admin.Reload(); err != nil {
		return nil, fmt.Errorf("--rules: %w", err)
	}
	key, err := rpc.LoadPrivateKey(cfg.RulesKey)
	if err != nil {
		return nil, fmt.Errorf("--rules-key: %w (create a key with: fleetfeed keygen)", err)
	}
	return &serveRules{admin: admin, key: key}, nil
}

// start runs the rules on the hub's posts, with an RPC client of their
// own that signs with --rules-key, trusts the keys replies are checked
// with, and records every call in the audit log; rules with facts read
// them from the node profiles. SIGHUP reloads the file, as the
// administrators' page does; a file that no longer loads keeps the rules
// in use. The function it returns stops the rules and waits for their
// runs and client to end.
func (sr *serveRules) start(ctx context.Context, cfg ServeConfig, p *feed.Pipeline, m *messaging, trusted *rpc.KeyRing,
	logger *slog.Logger) (stop func(), err error) {
	client, err := serverClient(ctx, cfg, "rules", sr.key, p, m, trusted, logger.With("component", "rules"))
	if err != nil {
		return nil, fmt.Errorf("rules client: %w", err)
	}
	// The engine has not run yet: the page only reads its rules and
	// runs, under its lock, so these fields are set before anyone reads
	// them.
	engine := sr.admin.engine
	engine.Hub, engine.Client, engine.Poster = p.Hub, client, p
	engine.Nodes = &nodes.Store{DB: p.DB}
	runCtx, stopRun := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		defer signal.Stop(hup)
		reloadRules(runCtx, hup, sr.admin)
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

// reloadRules reloads the rules each time reload delivers, until ctx
// ends.
func reloadRules(ctx context.Context, reload <-chan os.Signal, admin *rulesAdmin) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			admin.Reload() // it logs the outcome
		}
	}
}

// rulesAdmin is the rules engine and its file as the administrators' page
// sees them (a web.RulesAdmin); SIGHUP and the page's button both reload
// through Reload.
type rulesAdmin struct {
	path   string
	engine *rules.Engine
	logger *slog.Logger

	mu     sync.Mutex // one reload at a time
	loaded time.Time
	err    error
}

var _ web.RulesAdmin = (*rulesAdmin)(nil)

func (a *rulesAdmin) Path() string { return a.path }

func (a *rulesAdmin) Source() ([]byte, error) { return os.ReadFile(a.path) }

func (a *rulesAdmin) Rules() []rules.Status { return a.engine.Statuses() }

// Reload loads the file and puts its rules in use; a file that does not
// load keeps the rules in use, and the error is logged and kept for
// LastReload. The first load only returns its error: serve stops.
func (a *rulesAdmin) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := a.loaded.IsZero()
	rs, err := rules.Load(a.path)
	a.loaded, a.err = time.Now(), err
	switch {
	case err != nil && first:
		return err
	case err != nil:
		a.logger.Error("rules not reloaded; keeping the rules in use", "err", err)
		return err
	}
	a.engine.SetRules(rs)
	if first {
		a.logger.Info("rules loaded", "file", a.path, "rules", len(rs))
	} else {
		a.logger.Info("rules reloaded", "file", a.path, "rules", len(rs))
	}
	return nil
}

func (a *rulesAdmin) LastReload() (time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loaded, a.err
}
