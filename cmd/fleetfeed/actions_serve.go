package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/web"
)

// The web pages' actions sign their RPCs with the rules' key
// (--rules-key, named --rules-key-name, caller --rules-caller), with a
// client of their own; each call's Via names the web user. Without that
// key file the pages offer no actions. Which actions they offer on which
// posts is --actions (YAML, in the shape of web/actions_default.yaml), or
// the default actions.

// loadActions loads --actions, checked against the built-in agents'
// DDLs; the default actions when it is empty.
func loadActions(cfg ServeConfig) (*web.ActionConfig, error) {
	if cfg.Actions == "" {
		return web.DefaultActions(), nil
	}
	c, err := web.LoadActions(cfg.Actions, agent.BuiltinDDLs())
	if err != nil {
		return nil, fmt.Errorf("--actions: %w", err)
	}
	return c, nil
}

// loadActionsKey loads --rules-key for the actions; nil, without an error,
// when the file does not exist.
func loadActionsKey(cfg ServeConfig) (ed25519.PrivateKey, error) {
	key, err := rpc.LoadPrivateKey(cfg.RulesKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--rules-key: %w", err)
	}
	return key, nil
}

// lateCaller is the actions' RPC client, which can only be made once the
// broker connection is up, after the web server has started.
type lateCaller struct{ c atomic.Pointer[rpc.Client] }

var _ web.ActionCaller = (*lateCaller)(nil)

func (l *lateCaller) Do(ctx context.Context, call rpc.Call) (*rpc.Result, error) {
	c := l.c.Load()
	if c == nil {
		return nil, errors.New("the RPC client is not connected yet")
	}
	return c.Do(ctx, call)
}

func (l *lateCaller) Discover(ctx context.Context, call rpc.Call) (*rpc.Discovery, error) {
	c := l.c.Load()
	if c == nil {
		return nil, errors.New("the RPC client is not connected yet")
	}
	return c.Discover(ctx, call)
}

// connectActions makes the actions' RPC client and hands it to caller: it
// signs with key, trusts the keys replies are checked with and records
// every call in the audit log. The caller closes it.
func connectActions(ctx context.Context, cfg ServeConfig, key ed25519.PrivateKey, caller *lateCaller,
	p *feed.Pipeline, m *messaging, trusted *rpc.KeyRing, logger *slog.Logger) (*rpc.Client, error) {
	client, err := serverClient(ctx, cfg, "web", key, p, m, trusted, logger.With("component", "actions"))
	if err != nil {
		return nil, fmt.Errorf("actions client: %w", err)
	}
	caller.c.Store(client)
	logger.Info("actions on posts are on", "key", cfg.RulesKeyName, "caller", cfg.RulesCaller)
	return client, nil
}

// serverClient is an RPC client of the server's own (the web actions',
// "web", or the rules', "rules"): it signs with key as --rules-key-name for
// --rules-caller, trusts the keys replies are checked with and records
// every call in the audit log.
func serverClient(ctx context.Context, cfg ServeConfig, role string, key ed25519.PrivateKey,
	p *feed.Pipeline, m *messaging, trusted *rpc.KeyRing, logger *slog.Logger) (*rpc.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return rpc.NewClient(dctx, m.conn, rpc.ClientConfig{
		Collective: cfg.Collective,
		SenderID:   "fleetfeed-" + role + "-" + rpc.NewRequestID()[:8],
		CallerID:   cfg.RulesCaller,
		Signer:     &rpc.Signer{Name: cfg.RulesKeyName, Key: key},
		Trusted:    trusted,
		DDLs:       agent.BuiltinDDLs(),
		Audit:      &rpc.SQLiteAuditLog{DB: p.DB},
		Logger:     logger,
	})
}
