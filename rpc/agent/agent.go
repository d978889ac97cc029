// Package agent is fleetfeed's agent daemon ("fleetfeed agent"): it runs
// on a server, answers RPC requests sent over the broker by the fleetfeed
// server and operators, and publishes the server's inventory.
//
// An Agent subscribes to its node's direct queue and to the broadcast
// topic of each plugin (rpcutil, puppet, service, package, and any
// others), checks every request as the rpc package documentation
// describes, runs the action and sends a signed reply. Sim runs many
// simulated agents in one process for demos and benchmarks.
package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"fleetfeed/rpc"
)

// Agent is the daemon of one node.
type Agent struct {
	cfg        Config
	conn       rpc.Connector
	log        *slog.Logger
	signer     *rpc.Signer
	keys       *rpc.KeyRing
	plugins    map[string]Plugin
	agentNames []string // sorted plugin names
	replay     *replayCache
	stats      *counters
	start      time.Time
	sem        chan struct{} // bounds concurrent requests
	inflight   sync.WaitGroup
	verified   *verifyCache // shared by a Sim's agents; nil verifies every time
	auditLevel slog.Level   // of the line logged for each action run

	mu      sync.RWMutex
	facts   map[string]any
	classes []string
}

// New makes an agent from cfg: it fills defaults, loads the keys, facts and
// classes the configuration names, and builds the plugins. conn is the
// broker connection; it is used from Run on. A nil logger discards logs.
func New(cfg Config, conn rpc.Connector, logger *slog.Logger) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	if logger == nil {
		logger = discardLogger
	}
	key, ring, err := cfg.loadKeys()
	if err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	a := &Agent{
		cfg:     cfg,
		conn:    conn,
		log:     logger.With("identity", cfg.Identity),
		signer:  &rpc.Signer{Name: cfg.KeyName, Key: key},
		keys:    ring,
		plugins: map[string]Plugin{},
		replay:  newReplayCache(cfg.ReplayCacheSize),
		stats:   newCounters(),
		start:   cfg.Now(),
		sem:     make(chan struct{}, cfg.Workers),
		// Every action run is logged: the audit trail of who did what.
		auditLevel: slog.LevelInfo,
	}
	plugins, err := a.buildPlugins()
	if err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	for _, p := range plugins {
		d := p.DDL()
		if err := d.Check(); err != nil {
			return nil, fmt.Errorf("new agent: %w", err)
		}
		if _, dup := a.plugins[d.Metadata.Name]; dup {
			return nil, fmt.Errorf("new agent: plugin %s loaded twice", d.Metadata.Name)
		}
		a.plugins[d.Metadata.Name] = p
		a.agentNames = append(a.agentNames, d.Metadata.Name)
	}
	slices.Sort(a.agentNames)
	a.facts, a.classes, err = a.loadInventory(context.Background())
	if err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	return a, nil
}

// buildPlugins makes rpcutil, the enabled plugins and the extra ones.
func (a *Agent) buildPlugins() ([]Plugin, error) {
	cfg := a.cfg
	plugins := []Plugin{&rpcutilPlugin{agent: a}}
	for _, name := range cfg.Plugins.Enabled {
		switch name {
		case "rpcutil":
		case "puppet":
			plugins = append(plugins, newPuppetPlugin(cfg.Plugins.Puppet, cfg.Runner, cfg.Now))
		case "service":
			plugins = append(plugins, newServicePlugin(cfg.Plugins.Service, cfg.Runner))
		case "package":
			plugins = append(plugins, newPackagePlugin(cfg.Plugins.Package, cfg.Runner))
		default:
			return nil, fmt.Errorf("unknown plugin %q", name)
		}
	}
	return append(plugins, cfg.ExtraPlugins...), nil
}

// Identity is the node's identity.
func (a *Agent) Identity() string { return a.cfg.Identity }

// Agents returns the names of the loaded plugins, sorted.
func (a *Agent) Agents() []string { return slices.Clone(a.agentNames) }

// DDLs returns the loaded plugins' DDLs, sorted by name.
func (a *Agent) DDLs() []*rpc.DDL {
	ddls := make([]*rpc.DDL, 0, len(a.agentNames))
	for _, n := range a.agentNames {
		ddls = append(ddls, a.plugins[n].DDL())
	}
	return ddls
}

// Stats returns a snapshot of the agent's counters.
func (a *Agent) Stats() Stats { return a.stats.snapshot(a.start, a.replay.evicted()) }

// Destinations returns what Run subscribes to: the node's queue first,
// then each plugin's broadcast topic.
func (a *Agent) Destinations() []string {
	dests := []string{rpc.NodeDestination(a.cfg.Collective, a.cfg.Identity)}
	for _, n := range a.agentNames {
		dests = append(dests, rpc.BroadcastDestination(a.cfg.Collective, n))
	}
	return dests
}

// Run subscribes, registers, and answers requests until ctx ends (then it
// waits for running actions, which see ctx cancelled, and returns nil) or
// a subscription ends (then it returns an error).
func (a *Agent) Run(ctx context.Context) error {
	return a.run(ctx, true)
}

// run is Run; broadcast false leaves the broadcast topics to a Sim that
// subscribes once for all its agents.
func (a *Agent) run(ctx context.Context, broadcast bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dests := a.Destinations()
	if !broadcast {
		dests = dests[:1]
	}
	var subs []rpc.Subscription
	defer func() {
		for _, s := range subs {
			s.Unsubscribe() //nolint:errcheck // the connection may be gone already
		}
	}()
	for _, d := range dests {
		s, err := a.conn.Subscribe(ctx, d, rpc.AckAuto)
		if err != nil {
			return fmt.Errorf("agent %s: subscribe %s: %w", a.cfg.Identity, d, err)
		}
		subs = append(subs, s)
	}
	errc := make(chan error, len(subs))
	var readers sync.WaitGroup
	for i, s := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			a.consume(ctx, s, dests[i], i == 0, errc)
		}()
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		a.registrationLoop(ctx)
	}()
	// A Sim's agents would say this thousands of times.
	level := slog.LevelInfo
	if !broadcast {
		level = slog.LevelDebug
	}
	a.log.Log(ctx, level, "agent started", "collective", a.cfg.Collective, "agents", a.agentNames)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	readers.Wait()
	a.inflight.Wait()
	a.log.Log(context.Background(), level, "agent stopped")
	return err
}

func (a *Agent) consume(ctx context.Context, s rpc.Subscription, dest string, direct bool, errc chan<- error) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-s.C():
			if !ok {
				errc <- fmt.Errorf("agent %s: subscription %s ended: %w", a.cfg.Identity, dest, rpc.ErrClosed)
				return
			}
			if !a.dispatch(ctx, m.Body, direct) {
				return
			}
		}
	}
}

// dispatch handles body on a worker once one is free; it reports false if
// ctx ended first.
func (a *Agent) dispatch(ctx context.Context, body []byte, direct bool) bool {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	a.inflight.Add(1)
	go func() {
		defer func() { <-a.sem; a.inflight.Done() }()
		a.handle(ctx, body, direct)
	}()
	return true
}

// handle checks one request and, if it passes, runs it and replies. See
// the rpc package documentation for the order of the checks.
func (a *Agent) handle(ctx context.Context, body []byte, direct bool) {
	a.stats.received.Add(1)
	now := a.cfg.Now()
	var req *rpc.Request
	var err error
	if a.verified != nil {
		req, err = a.verified.verify(body)
	} else {
		req, err = rpc.VerifyRequest(body, a.keys)
	}
	if err != nil {
		a.drop(verifyReason(err), nil, err)
		return
	}
	if req.Collective != a.cfg.Collective {
		a.drop(ReasonCollective, req, fmt.Errorf("collective %q, this node is in %q", req.Collective, a.cfg.Collective))
		return
	}
	if err := req.CheckTime(now, a.cfg.ClockSkew); err != nil {
		reason := ReasonExpired
		if errors.Is(err, rpc.ErrFuture) {
			reason = ReasonFuture
		}
		a.drop(reason, req, err)
		return
	}
	if a.replay.check(req.RequestID, req.Expires(), now) {
		a.drop(ReasonReplay, req, errors.New("request id seen before"))
		return
	}
	inv := a.Inventory()
	plugin, known := a.plugins[req.Agent]
	if direct {
		if !req.Filter.NamesIdentity(a.cfg.Identity) {
			a.drop(ReasonNotTargeted, req, errors.New("direct request does not name this node"))
			return
		}
	} else if !known || !req.Filter.Match(inv) {
		a.drop(ReasonNotTargeted, req, nil)
		return
	}
	if d := a.cfg.Policy.Authorize(req.CallerID, req.Agent, req.Action, inv); !d.Allowed {
		a.drop(ReasonUnauthorized, req, errors.New(d.String()))
		a.reply(ctx, req, nil, &rpc.StatusError{Code: rpc.StatusAborted, Msg: "You are not authorized to call this agent or action"}, nil)
		return
	}
	if !known {
		a.drop(ReasonUnknownAgent, req, nil)
		a.reply(ctx, req, nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown agent %s", req.Agent), nil)
		return
	}
	ddl := plugin.DDL()
	act := ddl.Action(req.Action)
	if act == nil {
		a.drop(ReasonUnknownAction, req, nil)
		a.reply(ctx, req, nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown action %s for agent %s", req.Action, req.Agent), nil)
		return
	}
	inputs, err := act.ValidateInputs(req.Data)
	if err != nil {
		a.drop(ReasonInvalidData, req, err)
		code := rpc.StatusInvalidData
		if ie := (*rpc.InputError)(nil); errors.As(err, &ie) {
			code = ie.Code
		}
		a.reply(ctx, req, act, &rpc.StatusError{Code: code, Msg: err.Error()}, nil)
		return
	}
	a.stats.passed.Add(1)
	a.log.Log(ctx, a.auditLevel, "rpc request", "requestid", req.RequestID, "caller", req.CallerID, "sender", req.SenderID,
		"agent", req.Agent, "action", req.Action, "inputs", inputs)
	actx, cancel := context.WithTimeout(ctx, ddl.TimeoutDuration())
	defer cancel()
	data, err := a.call(actx, plugin, &Request{Wire: req, Action: req.Action, Inputs: inputs, Node: inv})
	if err != nil {
		a.stats.failed.Add(1)
	}
	a.reply(ctx, req, act, err, data)
}

// call runs the action, turning a panic into a status 5 error.
func (a *Agent) call(ctx context.Context, p Plugin, r *Request) (data map[string]any, err error) {
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("action panicked", "requestid", r.Wire.RequestID, "agent", r.Wire.Agent, "action", r.Action,
				"panic", v, "stack", string(debug.Stack()))
			data, err = nil, &rpc.StatusError{Code: rpc.StatusUnknownError, Msg: "the action failed unexpectedly"}
		}
	}()
	return p.Do(ctx, r)
}

// replyTimeout bounds sending one reply.
const replyTimeout = 10 * time.Second

// reply sends a signed reply: the outputs (over the DDL's defaults) and
// the status that err gives.
func (a *Agent) reply(ctx context.Context, req *rpc.Request, act *rpc.ActionDDL, err error, data map[string]any) {
	rep := rpc.NewReply(req, a.cfg.Identity)
	rep.MsgTime = a.cfg.Now().Unix()
	if act != nil {
		for name, out := range act.Output {
			if out.Default != nil {
				rep.Data[name] = out.Default
			}
		}
	}
	for k, v := range data {
		rep.Data[k] = v
	}
	if err != nil {
		var se *rpc.StatusError
		if errors.As(err, &se) {
			rep.StatusCode, rep.StatusMsg = se.Code, se.Msg
		} else {
			rep.StatusCode, rep.StatusMsg = rpc.StatusAborted, err.Error()
		}
	}
	body, err := a.signer.SignReply(rep)
	if err != nil {
		a.stats.replyErrors.Add(1)
		a.log.Error("reply not signed", "requestid", req.RequestID, "err", err)
		return
	}
	// An action cut short by shutdown still says so.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
	defer cancel()
	if err := a.conn.Send(ctx, req.ReplyDestination(), body, rpc.SendOptions{}); err != nil {
		a.stats.replyErrors.Add(1)
		a.log.Warn("reply not sent", "requestid", req.RequestID, "err", err)
		return
	}
	a.stats.replies.Add(1)
}

// drop counts and logs a refused request. A broadcast that does not
// target this node is routine and logged at debug level only.
func (a *Agent) drop(reason Reason, req *rpc.Request, err error) {
	a.stats.dropped[reason].Add(1)
	attrs := []any{"reason", string(reason)}
	if req != nil {
		attrs = append(attrs, "requestid", req.RequestID, "caller", req.CallerID, "sender", req.SenderID,
			"agent", req.Agent, "action", req.Action)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	level := slog.LevelWarn
	if reason == ReasonNotTargeted && err == nil {
		level = slog.LevelDebug
	}
	a.log.Log(context.Background(), level, "request dropped", attrs...)
}

func verifyReason(err error) Reason {
	switch {
	case errors.Is(err, rpc.ErrProtocol):
		return ReasonProtocol
	case errors.Is(err, rpc.ErrUnknownKey), errors.Is(err, rpc.ErrPrincipal):
		return ReasonUntrusted
	case errors.Is(err, rpc.ErrBadSignature):
		return ReasonSignature
	}
	return ReasonMalformed
}

// registrationLoop registers after the splay and then every interval.
func (a *Agent) registrationLoop(ctx context.Context) {
	interval := a.cfg.RegistrationInterval
	if interval < 0 {
		return
	}
	if splay := a.cfg.RegistrationSplay; splay > 0 {
		t := time.NewTimer(rand.N(splay))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if err := a.Register(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("registration failed", "err", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.refreshInventory(ctx)
			if err := a.Register(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("registration failed", "err", err)
			}
		}
	}
}

// Registration returns the inventory message the agent publishes, unsigned.
func (a *Agent) Registration() *rpc.Registration {
	inv := a.Inventory()
	interval := 0
	if a.cfg.RegistrationInterval > 0 {
		interval = int(a.cfg.RegistrationInterval / time.Second)
	}
	return &rpc.Registration{
		Protocol:   rpc.ProtocolRegistration,
		Identity:   a.cfg.Identity,
		Collective: a.cfg.Collective,
		FQDN:       a.fqdn(inv.Facts),
		MACs:       a.macs(inv.Facts),
		Facts:      inv.Facts,
		Classes:    inv.Classes,
		Agents:     inv.Agents,
		Location:   rpc.LocationFromFacts(inv.Facts),
		Version:    Version,
		Time:       a.cfg.Now().Unix(),
		Interval:   interval,
		PublicKey:  rpc.EncodePublicKey(a.signer.Key.Public().(ed25519.PublicKey)),
	}
}

// Register publishes the agent's inventory now.
func (a *Agent) Register(ctx context.Context) error {
	reg := a.Registration()
	body, err := a.signer.SignRegistration(reg)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	opts := rpc.SendOptions{}
	if a.cfg.RegistrationInterval > 0 {
		opts.TTL = a.cfg.RegistrationInterval
	}
	if err := a.conn.Send(ctx, rpc.RegistrationDestination(a.cfg.Collective), body, opts); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	a.stats.registrations.Add(1)
	return nil
}
