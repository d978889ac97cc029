package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"fleetfeed/rpc"
)

// SimConfig configures a simulated fleet: many agents in one process,
// talking through the broker like real ones, with made-up facts and
// commands that only pretend.
type SimConfig struct {
	// Count is the number of agents.
	Count      int
	Collective string
	// Identity names agent i (from 0); nil gives DemoIdentity.
	Identity func(i int) string
	// Facts gives agent i its facts and classes; nil gives DemoFacts.
	Facts func(i int, identity string) (map[string]any, []string)
	// Key signs every simulated agent's replies and registrations, under
	// KeyName (default "sim"): clients trust that one key for every
	// simulated identity (principals "*"). Nil generates a key; see
	// Sim.PublicKey.
	Key     ed25519.PrivateKey
	KeyName string
	// Keys are the keys whose requests the agents accept.
	Keys   *rpc.KeyRing
	Policy rpc.Policy
	// RegistrationInterval and RegistrationSplay are as in Config; the
	// splay defaults to the smaller of the interval and 30 s so that the
	// fleet does not register all at once.
	RegistrationInterval time.Duration
	RegistrationSplay    time.Duration
	// Workers bounds each agent's concurrent requests (default 2).
	Workers int
	// PerAgentBroadcast makes every agent subscribe to the broadcast
	// topics itself, as real nodes do. By default the Sim subscribes once
	// per topic and hands each broadcast to every agent in process, which
	// spares the broker Count×plugins subscriptions.
	PerAgentBroadcast bool
	// StateDir holds the simulated Puppet files (<identity>.disabled.lock,
	// <identity>.last_run_summary.yaml, …); empty makes a temporary
	// directory that Close removes.
	StateDir string
	// Runner runs the plugins' commands; nil pretends (SimRunner).
	Runner Runner
	// OnPuppetRun, if set, is called when a simulated agent starts a
	// Puppet run (a runonce the agent said yes to), with the agent's
	// identity and whether the run is a noop run. It is called on the
	// agent's request goroutine, before the reply is sent: it must
	// return at once (the demo sends the run's report a few seconds
	// later from a goroutine of its own).
	OnPuppetRun func(identity string, noop bool)
	Now         func() time.Time
}

// Sim is a simulated fleet.
type Sim struct {
	cfg     SimConfig
	conns   []rpc.Connector
	log     *slog.Logger
	agents  []*Agent
	pub     ed25519.PublicKey
	tempDir string
}

// NewSim makes cfg.Count agents; agent i uses conns[i%len(conns)].
func NewSim(cfg SimConfig, conns []rpc.Connector, logger *slog.Logger) (*Sim, error) {
	if cfg.Count <= 0 {
		return nil, errors.New("new sim: count must be positive")
	}
	if len(conns) == 0 {
		return nil, errors.New("new sim: no connector")
	}
	if logger == nil {
		logger = discardLogger
	}
	if cfg.Identity == nil {
		cfg.Identity = DemoIdentity
	}
	if cfg.Facts == nil {
		cfg.Facts = DemoFacts
	}
	if cfg.KeyName == "" {
		cfg.KeyName = "sim"
	}
	if cfg.Key == nil {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("new sim: %w", err)
		}
		cfg.Key = key
	}
	if cfg.Keys == nil {
		return nil, errors.New("new sim: no trusted keys")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.RegistrationSplay == 0 {
		cfg.RegistrationSplay = 30 * time.Second
		if cfg.RegistrationInterval > 0 {
			cfg.RegistrationSplay = min(cfg.RegistrationInterval, cfg.RegistrationSplay)
		}
	}
	if cfg.Runner == nil {
		cfg.Runner = SimRunner{}
	}
	s := &Sim{cfg: cfg, conns: conns, log: logger, pub: cfg.Key.Public().(ed25519.PublicKey)}
	if cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "fleetfeed-sim-")
		if err != nil {
			return nil, fmt.Errorf("new sim: %w", err)
		}
		s.tempDir, s.cfg.StateDir = dir, dir
	}
	verified := newVerifyCache(cfg.Keys)
	for i := range cfg.Count {
		id := cfg.Identity(i)
		facts, classes := cfg.Facts(i, id)
		state := func(name string) string { return filepath.Join(s.cfg.StateDir, id+"."+name) }
		runner := cfg.Runner
		if cfg.OnPuppetRun != nil {
			runner = puppetRunHook{Runner: runner, identity: id, hook: cfg.OnPuppetRun}
		}
		a, err := New(Config{
			Identity:             id,
			Collective:           cfg.Collective,
			KeyName:              cfg.KeyName,
			Key:                  cfg.Key,
			Keys:                 cfg.Keys,
			Policy:               cfg.Policy,
			Facts:                facts,
			Classes:              classes,
			MACs:                 macsFromFacts(facts),
			RegistrationInterval: cfg.RegistrationInterval,
			RegistrationSplay:    cfg.RegistrationSplay,
			ReplayCacheSize:      10_000,
			Workers:              cfg.Workers,
			Runner:               runner,
			Now:                  cfg.Now,
			Plugins: PluginsConfig{Puppet: PuppetConfig{
				Command:        simPuppet,
				LastRunFile:    state("last_run_summary.yaml"),
				CatalogRunLock: state("agent_catalog_run.lock"),
				DisabledLock:   state("agent_disabled.lock"),
				PIDFile:        state("agent.pid"),
			}},
		}, conns[i%len(conns)], logger)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("new sim: agent %d: %w", i, err)
		}
		a.verified = verified
		a.auditLevel = slog.LevelDebug // a broadcast would log a line per agent
		s.agents = append(s.agents, a)
	}
	return s, nil
}

// Agents returns the simulated agents.
func (s *Sim) Agents() []*Agent { return s.agents }

// PublicKey is the key the simulated agents sign with, under KeyName.
func (s *Sim) PublicKey() ed25519.PublicKey { return s.pub }

// KeyName is the name the simulated agents' key goes by.
func (s *Sim) KeyName() string { return s.cfg.KeyName }

// Stats totals the agents' counters.
func (s *Sim) Stats() Stats {
	var total Stats
	for _, a := range s.agents {
		total.Add(a.Stats())
	}
	if len(s.agents) > 0 {
		total.StartTime = s.agents[0].start
	}
	return total
}

// Run runs every agent until ctx ends or one fails.
func (s *Sim) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(s.agents)+1)
	var wg sync.WaitGroup
	if !s.cfg.PerAgentBroadcast {
		for _, dest := range s.agents[0].Destinations()[1:] {
			sub, err := s.conns[0].Subscribe(ctx, dest, rpc.AckAuto)
			if err != nil {
				return fmt.Errorf("sim: subscribe %s: %w", dest, err)
			}
			defer sub.Unsubscribe() //nolint:errcheck // the connection may be gone already
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.fanOut(ctx, sub, dest, errc)
			}()
		}
	}
	for _, a := range s.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.run(ctx, s.cfg.PerAgentBroadcast); err != nil {
				errc <- err
			}
		}()
	}
	s.log.Info("simulated fleet started", "agents", len(s.agents), "collective", s.agents[0].cfg.Collective)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	s.log.Info("simulated fleet stopped", "stats", s.Stats())
	return err
}

// fanOut hands each broadcast to every agent, as the broker would.
func (s *Sim) fanOut(ctx context.Context, sub rpc.Subscription, dest string, errc chan<- error) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-sub.C():
			if !ok {
				errc <- fmt.Errorf("sim: subscription %s ended: %w", dest, rpc.ErrClosed)
				return
			}
			for _, a := range s.agents {
				if !a.dispatch(ctx, m.Body, false) {
					return
				}
			}
		}
	}
}

// Close removes the temporary state directory, if NewSim made one.
func (s *Sim) Close() error {
	if s.tempDir == "" {
		return nil
	}
	return os.RemoveAll(s.tempDir)
}

// DemoIdentity names simulated node i: web, db and lb nodes in turn.
func DemoIdentity(i int) string {
	return fmt.Sprintf("%s%04d.sim.example.net", demoRole(i), i)
}

func demoRole(i int) string { return []string{"web", "web", "db", "lb"}[i%4] }

var demoSites = []struct {
	name     string
	lat, lon float64
}{
	{"ams1", 52.37, 4.90},
	{"fra2", 50.11, 8.68},
	{"nyc3", 40.71, -74.01},
	{"sfo1", 37.77, -122.42},
	{"sin1", 1.35, 103.82},
}

// DemoFacts gives simulated node i plausible facts (operating system,
// datacenter and its coordinates, environment, networking, memory) and
// role classes matching DemoIdentity.
func DemoFacts(i int, identity string) (map[string]any, []string) {
	site := demoSites[i%len(demoSites)]
	roleClass := map[string]string{"web": "roles::frontend_web", "db": "roles::database", "lb": "roles::load_balancer"}[demoRole(i)]
	env := "production"
	if i%10 == 9 {
		env = "staging"
	}
	mac := fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
	facts := map[string]any{
		"datacenter":  site.name,
		"latitude":    site.lat,
		"longitude":   site.lon,
		"environment": env,
		"kernel":      "Linux",
		"os": map[string]any{
			"family": "Debian", "name": "Debian",
			"release": map[string]any{"full": "12.8", "major": "12"},
		},
		"networking": map[string]any{
			"fqdn": identity, "hostname": strings.SplitN(identity, ".", 2)[0],
			"ip": fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff), "mac": mac,
		},
		"processors": map[string]any{"count": 2 << (i % 3)},
		"memory":     map[string]any{"system": map[string]any{"total_bytes": int64(4<<30) << (i % 3)}},
	}
	classes := []string{"settings", "profile::base", roleClass}
	return facts, classes
}

func macsFromFacts(facts map[string]any) []string {
	if v, ok := rpc.LookupFact(facts, "networking.mac"); ok {
		if s, ok := v.(string); ok {
			return []string{s}
		}
	}
	return nil
}

// simPuppet is the simulated agents' puppet command.
const simPuppet = "puppet"

// puppetRunHook tells SimConfig.OnPuppetRun about the Puppet runs one
// simulated agent starts.
type puppetRunHook struct {
	Runner
	identity string
	hook     func(identity string, noop bool)
}

// Start starts cmd and, when it is a Puppet run, calls the hook.
func (h puppetRunHook) Start(cmd Command) error {
	if err := h.Runner.Start(cmd); err != nil {
		return err
	}
	if cmd.Path == simPuppet && len(cmd.Args) >= 2 && cmd.Args[0] == "agent" && cmd.Args[1] == "--onetime" {
		h.hook(h.identity, slices.Contains(cmd.Args, "--noop"))
	}
	return nil
}

// SimRunner pretends to run the plugins' commands: every service is
// active, every package installed at version 1.0-1, every Puppet run
// starts.
type SimRunner struct{}

// Run answers as systemctl, dpkg-query or rpm would.
func (SimRunner) Run(ctx context.Context, cmd Command) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	switch filepath.Base(cmd.Path) {
	case "systemctl":
		if len(cmd.Args) > 0 && cmd.Args[0] == "is-active" {
			return Output{Stdout: []byte("active\n")}, nil
		}
		return Output{}, nil
	case "dpkg-query":
		return Output{Stdout: []byte("install ok installed\t1.0-1\tamd64\n")}, nil
	case "rpm":
		return Output{Stdout: []byte("1.0-1\tx86_64\n")}, nil
	}
	return Output{}, nil
}

// Start pretends to start a command.
func (SimRunner) Start(Command) error { return nil }

// LookPath finds every program.
func (SimRunner) LookPath(name string) (string, error) { return name, nil }
