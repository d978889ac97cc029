package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/cmd/fleetfeed/internal/demo"
	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/broker"
	"fleetfeed/timeline/people"
	"fleetfeed/web"
)

// ServeConfig is the configuration of `fleetfeed serve`.
type ServeConfig struct {
	HTTP        string
	DB          string
	IngestToken string
	Demo        bool
	DemoSize    int
	DemoPace    time.Duration
	FoldWindow  time.Duration
	MaxBody     int64

	// Broker names an external STOMP broker (stomp://user:pass@host:61613);
	// empty starts the embedded one on StompListen.
	Broker        string
	StompListen   string
	StompLogin    string
	StompPasscode string
	Collective    string
	// AgentKeys is a folder of agents' public keys (NAME.pub); when set,
	// registrations must be signed by one trusted for their identity.
	AgentKeys string
	// DemoTrust is a folder of public keys the demo agents accept
	// requests from (where `fleetfeed keygen` writes).
	DemoTrust string

	// Private makes anonymous visitors sign in to see anything.
	Private bool
	// BaseURL is the address readers reach the web page at, for links
	// in feeds and e-mail; "http://" + HTTP when empty.
	BaseURL string
	// AdminUser and AdminPassword create the first administrator when
	// there is none yet.
	AdminUser     string
	AdminPassword string

	// Rules is a rules file (see package rules); empty runs no rules.
	// RulesKey signs their RPCs as RulesKeyName, for RulesCaller.
	Rules        string
	RulesKey     string
	RulesKeyName string
	RulesCaller  string
	// Actions is an actions file (see web.ParseActions): which actions
	// the pages offer operators; empty offers the default ones.
	Actions string

	// Graphite is where the metrics are pushed, if anywhere.
	Graphite GraphiteConfig
}

// DefaultServeConfig holds the defaults of `fleetfeed serve`.
func DefaultServeConfig() ServeConfig {
	return ServeConfig{
		HTTP:       "127.0.0.1:8080",
		DB:         "fleetfeed.db",
		DemoSize:   40,
		DemoPace:   2 * time.Second,
		FoldWindow: feed.DefaultFoldWindow,
		MaxBody:    web.DefaultMaxBody,

		StompListen: broker.DefaultEmbeddedAddr,
		StompLogin:  "fleetfeed",
		Collective:  "fleetfeed",
		DemoTrust:   defaultKeyDir(),
		AdminUser:   "admin",
		Graphite:    defaultGraphiteConfig(),
	}
}

// Validate checks the configuration before anything starts.
func (c *ServeConfig) Validate() error {
	if c.HTTP == "" {
		return errors.New("--http: an address is required")
	}
	if c.DB == "" {
		return errors.New("--db: a database file is required")
	}
	if c.FoldWindow < 0 {
		return errors.New("--fold-window must not be negative")
	}
	if c.MaxBody < 1024 {
		return errors.New("--max-body must be at least 1024 bytes")
	}
	if c.Demo && c.DemoSize < 1 {
		return errors.New("--demo-size must be at least 1")
	}
	if err := collectiveOK(c.Collective); err != nil {
		return err
	}
	if c.Broker == "" && c.StompLogin == "" {
		return errors.New("--stomp-login must not be empty")
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return errors.New("--base-url must start with http:// or https://")
	}
	if err := c.Graphite.Validate(); err != nil {
		return err
	}
	return nil
}

func newServeCommand() *cobra.Command {
	cfg := DefaultServeConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fleetfeed server",
		Long: `Run the fleetfeed server: the web page, the JSON API and the ingest endpoints.

The ingest token comes from --ingest-token or the FLEETFEED_INGEST_TOKEN
environment variable; with --demo and no token, a random one is made and
printed.

Unless --broker names an external STOMP broker (RabbitMQ, ActiveMQ), an
embedded one listens on --stomp-listen; its passcode comes from
--stomp-passcode or $FLEETFEED_STOMP_PASSCODE, and is made up and printed
when neither is set. The server consumes the events and registration
queues of its collective.

Accounts: on a first start with no administrator, --admin-user and
--admin-password (or $FLEETFEED_ADMIN_PASSWORD) create one; without a
password, the server says how to make one with ` + "`fleetfeed user add`" + `.
With --private, anonymous visitors must sign in to see anything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.IngestToken == "" {
				cfg.IngestToken = os.Getenv("FLEETFEED_INGEST_TOKEN")
			}
			if cfg.StompPasscode == "" {
				cfg.StompPasscode = os.Getenv("FLEETFEED_STOMP_PASSCODE")
			}
			if cfg.AdminPassword == "" {
				cfg.AdminPassword = os.Getenv("FLEETFEED_ADMIN_PASSWORD")
			}
			return runServe(cmd.Context(), cfg, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.HTTP, "http", cfg.HTTP, "address to serve HTTP on")
	f.StringVar(&cfg.DB, "db", cfg.DB, "SQLite database file")
	f.StringVar(&cfg.IngestToken, "ingest-token", "", "token that ingest requests must carry (default $FLEETFEED_INGEST_TOKEN)")
	f.BoolVar(&cfg.Demo, "demo", false, "run a simulated fleet that posts through the ingest API")
	f.IntVar(&cfg.DemoSize, "demo-size", cfg.DemoSize, "number of servers in the demo fleet")
	f.DurationVar(&cfg.DemoPace, "demo-pace", cfg.DemoPace, "mean pause between the demo fleet's events")
	f.DurationVar(&cfg.FoldWindow, "fold-window", cfg.FoldWindow, "how long repeats fold into one post")
	f.Int64Var(&cfg.MaxBody, "max-body", cfg.MaxBody, "largest ingest request body, in bytes")
	f.StringVar(&cfg.Broker, "broker", "", "external STOMP broker URL, stomp://user:pass@host:61613 (default: run the embedded broker)")
	f.StringVar(&cfg.StompListen, "stomp-listen", cfg.StompListen, "address of the embedded STOMP broker")
	f.StringVar(&cfg.StompLogin, "stomp-login", cfg.StompLogin, "login of the embedded STOMP broker")
	f.StringVar(&cfg.StompPasscode, "stomp-passcode", "", "passcode of the embedded STOMP broker (default $FLEETFEED_STOMP_PASSCODE)")
	f.StringVar(&cfg.Collective, "collective", cfg.Collective, "collective: the prefix of every STOMP destination")
	f.StringVar(&cfg.AgentKeys, "agent-keys", "", "folder of agents' public keys that registrations must be signed with")
	f.StringVar(&cfg.DemoTrust, "demo-trust", cfg.DemoTrust, "folder of public keys (NAME.pub) the demo agents accept requests from")
	f.BoolVar(&cfg.Private, "private", false, "make anonymous visitors sign in to see anything (private feeds with a token still work)")
	f.StringVar(&cfg.BaseURL, "base-url", "", "address readers reach the web page at, for links in feeds and e-mail (default http://ADDR of --http)")
	f.StringVar(&cfg.AdminUser, "admin-user", cfg.AdminUser, "name of the first administrator, made on a first start with --admin-password")
	f.StringVar(&cfg.AdminPassword, "admin-password", "", "password of the first administrator (default $FLEETFEED_ADMIN_PASSWORD)")
	registerRulesFlags(f, &cfg)
	registerGraphiteFlags(f, &cfg.Graphite)
	f.StringVar(&cfg.Actions, "actions", "", "YAML file of the actions the pages offer operators on posts and profiles (default: the built-in ones)")
	return cmd
}

func runServe(ctx context.Context, cfg ServeConfig, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	actions, err := loadActions(cfg)
	if err != nil {
		return err
	}
	rs, err := loadRules(cfg, logger)
	if err != nil {
		return err
	}
	if cfg.IngestToken == "" && cfg.Demo {
		cfg.IngestToken = randomToken()
		logger.Info("no ingest token given; made one for this run", "token", cfg.IngestToken)
	}
	if cfg.IngestToken == "" {
		logger.Warn("no ingest token: ingest endpoints will refuse every request (set --ingest-token)")
	}
	if cfg.Broker == "" && cfg.StompPasscode == "" {
		cfg.StompPasscode = randomToken()
		logger.Info("no STOMP passcode given; made one for this run", "login", cfg.StompLogin, "passcode", cfg.StompPasscode)
	}
	db := feed.NewDB(cfg.DB)
	if err := db.Open(); err != nil {
		return err
	}
	defer db.Close()
	pipeline := &feed.Pipeline{DB: db, Hub: feed.NewHub(), FoldWindow: cfg.FoldWindow}
	srv := web.NewServer(pipeline)
	srv.Addr = cfg.HTTP
	srv.IngestToken = cfg.IngestToken
	srv.MaxBody = cfg.MaxBody
	srv.Logger = logger
	srv.Private = cfg.Private
	srv.BaseURL = cfg.BaseURL
	if rs != nil {
		srv.Rules = rs.admin
	}
	srv.Mail.Logger = logger
	srv.Mail.BaseURL = cfg.BaseURL
	if srv.Mail.BaseURL == "" {
		srv.Mail.BaseURL = "http://" + cfg.HTTP
	}
	if err := ensureAdmin(ctx, srv.People, cfg, logger); err != nil {
		return err
	}
	// Actions on posts need the rules' key; their client connects below.
	actionsKey, err := loadActionsKey(cfg)
	if err != nil {
		logger.Warn("actions on posts are off", "err", err)
	}
	actionsCtx, cancelActions := context.WithCancel(ctx)
	defer cancelActions()
	var actionsCaller *lateCaller
	if actionsKey != nil {
		actionsCaller = &lateCaller{}
		srv.Actions = &web.Actions{Client: actionsCaller, Config: actions, Context: actionsCtx, Logger: logger.With("component", "actions")}
	} else if err == nil {
		logger.Info("actions on posts are off: no RPC key (create one with: fleetfeed keygen)", "key", cfg.RulesKey)
	}
	if err := srv.Open(); err != nil {
		return err
	}
	logger.Info("fleetfeed is serving", "url", srv.URL(), "db", cfg.DB)

	m, err := startMessaging(ctx, cfg, logger)
	if err != nil {
		srv.Close(context.Background())
		return err
	}
	defer m.close()
	srv.MetricSources = append(srv.MetricSources, brokerMetrics(m.conn))
	stopGraphite := startGraphite(ctx, cfg.Graphite, srv, logger)
	defer stopGraphite() // a last push, before the database closes
	var agentRing *rpc.KeyRing
	if cfg.AgentKeys != "" {
		agentRing = rpc.NewKeyRing()
		if err := agentRing.AddDir(cfg.AgentKeys); err != nil {
			return fmt.Errorf("--agent-keys: %w", err)
		}
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go keepRunning(runCtx, logger, "events consumer", func(ctx context.Context) error {
		return consumeEvents(ctx, m.conn, cfg.Collective, pipeline)
	})
	go keepRunning(runCtx, logger, "registration consumer", func(ctx context.Context) error {
		return consumeRegistrations(ctx, m.conn, cfg.Collective, srv.Nodes, agentRing, logger)
	})
	// Replies to requests sent with --async (and, later, from the page)
	// are stored as they come, when signed by a known agent key.
	replyKeys := rpc.NewKeyRing()
	if cfg.AgentKeys != "" {
		if err := replyKeys.AddDir(cfg.AgentKeys); err != nil {
			return fmt.Errorf("--agent-keys: %w", err)
		}
	}
	go keepRunning(runCtx, logger, "reply listener", func(ctx context.Context) error {
		return rpc.ListenReplies(ctx, m.conn, cfg.Collective, rpc.DefaultAsyncListener, replyKeys,
			&rpc.SQLiteReplyStore{DB: db}, logger.With("component", "replies"))
	})

	if rs != nil {
		stopRules, err := rs.start(runCtx, cfg, pipeline, m, replyKeys, logger)
		if err != nil {
			srv.Close(context.Background())
			return err
		}
		defer stopRules() // before the broker connection closes
	}
	if actionsCaller != nil {
		client, err := connectActions(runCtx, cfg, actionsKey, actionsCaller, pipeline, m, replyKeys, logger)
		if err != nil {
			logger.Warn("actions on posts cannot send RPCs", "err", err)
		} else {
			defer func() { // before the broker connection closes
				cancelActions()
				srv.Actions.Wait()
				client.Close()
			}()
		}
	}

	go srv.Timeline.RunIndexer(runCtx, 2*time.Second, func(err error) {
		logger.Warn("search index", "err", err)
	})
	go srv.Mail.Run(runCtx, pipeline.Hub)
	go expireSessions(runCtx, srv.People, logger)

	done := make(chan error, 1)
	if cfg.Demo {
		go func() { done <- runDemo(runCtx, cfg, srv, m, replyKeys, logger) }()
	}
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if cfg.Demo {
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			logger.Warn("demo fleet stopped", "err", err)
		}
	}
	return nil
}

// ensureAdmin makes the first administrator when there is none: from
// cfg.AdminUser and cfg.AdminPassword, or, without a password, it says
// how to make one. The password is never logged.
func ensureAdmin(ctx context.Context, store *people.Store, cfg ServeConfig, logger *slog.Logger) error {
	ok, err := store.HasAdmin(ctx)
	if err != nil || ok {
		return err
	}
	if cfg.AdminPassword == "" {
		logger.Warn("there is no administrator yet: make one with `fleetfeed user add NAME --role admin`, " +
			"or start with --admin-user NAME and $FLEETFEED_ADMIN_PASSWORD")
		return nil
	}
	u, err := store.Create(ctx, people.NewUser{Name: cfg.AdminUser, Password: cfg.AdminPassword, Role: people.RoleAdmin})
	if err != nil {
		return fmt.Errorf("first administrator: %s", feed.ErrorMessage(err))
	}
	logger.Info("made the first administrator", "user", u.Name)
	return nil
}

// expireSessions deletes ended sessions every hour until ctx ends.
func expireSessions(ctx context.Context, store *people.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := store.DeleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("delete expired sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runDemo gives the demo fleet its profiles, starts its agents on the
// broker and starts it posting.
func runDemo(ctx context.Context, cfg ServeConfig, srv *web.Server, m *messaging, replyKeys *rpc.KeyRing, logger *slog.Logger) error {
	fleet := demo.NewFleet(cfg.DemoSize, 1)
	store := &nodes.Store{DB: srv.Pipeline.DB}
	for _, s := range fleet {
		if _, err := store.Upsert(ctx, s.Name, s.Profile()); err != nil {
			return fmt.Errorf("demo profile %s: %w", s.Name, err)
		}
	}
	trust := rpc.NewKeyRing()
	if cfg.DemoTrust != "" {
		if err := trust.AddDir(cfg.DemoTrust); err != nil && !errors.Is(err, fs.ErrNotExist) {
			logger.Warn("demo agents trust no client keys", "dir", cfg.DemoTrust, "err", err)
		}
	}
	demoCfg := demo.Config{
		BaseURL:  srv.URL(),
		Token:    cfg.IngestToken,
		Fleet:    fleet,
		Interval: cfg.DemoPace,
		Logf: func(format string, args ...any) {
			logger.Warn(fmt.Sprintf(format, args...), "component", "demo")
		},
	}
	// A Puppet run an action or rule starts on the demo fleet reports in
	// like a real one, through the HTTP ingest.
	runs, err := demo.NewPuppetRuns(ctx, demoCfg)
	if err != nil {
		return err
	}
	sim, err := startDemoAgents(ctx, fleet, m, cfg.Collective, trust, runs.Started, logger)
	if err != nil {
		return err
	}
	if err := replyKeys.Add(sim.KeyName(), sim.PublicKey(), "*"); err != nil {
		return err
	}
	// The CLI checks replies against the keys it trusts: leave the demo
	// fleet's key where `fleetfeed rpc --trust` can find it.
	if cfg.DemoTrust != "" {
		pem, err := rpc.MarshalPublicKey(sim.PublicKey())
		if err != nil {
			return err
		}
		path := filepath.Join(cfg.DemoTrust, sim.KeyName()+".pub")
		if err := os.MkdirAll(cfg.DemoTrust, 0o700); err != nil {
			logger.Warn("demo fleet key not written", "err", err)
		} else if err := os.WriteFile(path, pem, 0o644); err != nil {
			logger.Warn("demo fleet key not written", "err", err)
		} else {
			logger.Info("to send RPCs to the demo fleet: fleetfeed keygen (once), then",
				"export", fmt.Sprintf("FLEETFEED_BROKER=%s FLEETFEED_TRUST='%s=*'", m.url, path))
		}
	}
	logger.Info("demo fleet started", "servers", len(fleet), "agents trust keys", strings.Join(trust.Names(), ", "))
	return demo.Run(ctx, demoCfg)
}

// keepRunning runs a long-lived loop, restarting it after a pause when it
// fails, until ctx is done.
func keepRunning(ctx context.Context, logger *slog.Logger, what string, run func(context.Context) error) {
	for {
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		logger.Warn(what+" stopped; restarting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// defaultKeyDir is where `fleetfeed keygen` keeps keys.
func defaultKeyDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "fleetfeed")
	}
	return ""
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
