// Package web is fleetfeed's HTTP server: the JSON API, the ingest
// endpoints, the pages, the feeds and the live stream.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline"
	"fleetfeed/timeline/mail"
	"fleetfeed/timeline/people"
)

// DefaultMaxBody is the largest ingest request body accepted.
const DefaultMaxBody = 16 << 20

// Server serves fleetfeed over HTTP.
type Server struct {
	// Addr is the address to listen on, e.g. "127.0.0.1:8080".
	Addr string
	// IngestToken authenticates ingest requests; ingest is refused when
	// it is empty.
	IngestToken string
	// MaxBody bounds an ingest request's body; DefaultMaxBody when 0.
	MaxBody int64
	// BaseURL is the absolute URL readers reach the server at, e.g.
	// "https://fleet.example.com", for the links in feeds (and as an
	// allowed websocket Origin) behind a proxy; when empty, links are
	// built from each request's Host.
	BaseURL string
	// Stream tunes the streaming API.
	Stream StreamConfig

	// Private keeps anonymous visitors out: they must sign in to see
	// anything but the login page, the health check, ingest and
	// unsubscribe links; private feeds with a valid token still work.
	Private bool

	Pipeline *feed.Pipeline
	Nodes    *nodes.Store
	Timeline *timeline.Reader
	// People are the accounts and sessions; Follows what users follow
	// and their lists; Mail the e-mail settings, preferences and outbox.
	People  *people.Store
	Follows *timeline.Follows
	Mail    *mail.Service
	// Limiter slows down password guessing on the login form.
	Limiter *people.Limiter
	Logger  *slog.Logger
	// Actions, when set, let operators run RPCs from the post and
	// profile pages; see actions.go.
	Actions *Actions
	// Rules, when set, are the rules the server runs, which the
	// administrators' rules page shows and reloads; see rules_admin.go.
	Rules RulesAdmin
	// MetricSources add their metrics to /metrics.
	MetricSources []MetricSource

	ln      net.Listener
	server  *http.Server
	mux     *http.ServeMux
	ui      *ui
	events  eventCache
	streams streamSet
	// rpcCalls sums the audit log for the metrics.
	rpcCalls auditCounter
	// postRoutes are the patterns of the CSRF-checked POST routes.
	postRoutes []string
}

// NewServer returns a server over the pipeline's database.
func NewServer(p *feed.Pipeline) *Server {
	ppl := &people.Store{DB: p.DB}
	follows := &timeline.Follows{DB: p.DB}
	s := &Server{
		Pipeline: p,
		Nodes:    &nodes.Store{DB: p.DB},
		Timeline: &timeline.Reader{DB: p.DB},
		People:   ppl,
		Follows:  follows,
		Mail:     &mail.Service{DB: p.DB, People: ppl, Follows: follows},
		Limiter:  people.NewLimiter(),
		Logger:   slog.Default(),
		mux:      http.NewServeMux(),
		ui:       mustLoadUI(),
	}
	s.routes()
	return s
}

// routes registers every route, in one place.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)

	s.mux.HandleFunc("POST /api/v1/ingest/{source}", s.handleIngest)

	s.mux.HandleFunc("GET /api/v1/timelines/public", s.handlePublicTimeline)
	s.mux.HandleFunc("GET /api/v1/nodes", s.handleNodes)
	s.mux.HandleFunc("GET /api/v1/nodes/{name}", s.handleNode)
	s.mux.HandleFunc("GET /api/v1/nodes/{name}/posts", s.handleNodePosts)
	s.mux.HandleFunc("GET /api/v1/tags/{tag}/posts", s.handleTagPosts)
	s.mux.HandleFunc("GET /api/v1/posts/{id}", s.handlePost)
	s.mux.HandleFunc("GET /api/v1/stats", s.handleStats)
	s.mux.HandleFunc("GET /api/v1/streaming", s.handleStreaming)
	s.mux.HandleFunc("GET /api/v1/audit", s.requireRole(people.RoleAdmin, s.handleAudit))
	s.mux.HandleFunc("GET /admin/audit", htmlPage(s.requireRole(people.RoleAdmin, s.handleAuditPage)))

	s.mux.HandleFunc("GET /{$}", htmlPage(s.handleHome))
	s.mux.HandleFunc("GET /{path}", htmlPage(s.handleRoot)) // /@{node} and its feeds
	s.mux.HandleFunc("GET /tags/{tag}", htmlPage(s.handleTag))
	s.mux.HandleFunc("GET /posts/{id}", htmlPage(s.handlePostPage))
	s.mux.HandleFunc("GET /static/{file}", s.handleStatic)
	s.mux.HandleFunc("GET /public.rss", s.handlePublicFeed)
	s.mux.HandleFunc("GET /public.atom", s.handlePublicFeed)
	s.mux.HandleFunc("GET /public.json", s.handlePublicFeed)

	s.peopleRoutes()
	s.actionRoutes()
	s.rulesRoutes()
}

// Handler is the server's handler with its middleware, for tests and for
// Open.
func (s *Server) Handler() http.Handler {
	return s.recoverPanics(s.logRequests(securityHeaders(s.withVisitor(s.mux))))
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.server = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// URL is the base URL the server listens on, once open.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server, letting requests in flight finish until ctx
// ends, and disconnects the streaming clients.
func (s *Server) Close(ctx context.Context) error {
	if s.server == nil {
		return nil
	}
	err := s.server.Shutdown(ctx)
	s.streams.closeAll()
	return err
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if err := s.Pipeline.DB.SQL().PingContext(r.Context()); err != nil {
		s.Error(w, r, fmt.Errorf("database: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
