package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"fleetfeed/translators"
)

// Defaults of Config.
const (
	// DefaultInterval is the mean pause between events: a human pace.
	DefaultInterval = 2 * time.Second
	// DefaultBacklog is how many events Run sends at once when it starts,
	// so the timeline is not empty for whoever opens it first.
	DefaultBacklog = 30
)

// Config configures Run and Burst.
type Config struct {
	// BaseURL is the fleetfeed server's address, "http://127.0.0.1:8080";
	// payloads go to BaseURL + "/api/v1/ingest/" + source. Required.
	BaseURL string
	// Token is the ingest token, sent as "Authorization: Bearer TOKEN".
	Token string
	// Fleet are the servers that post; NewFleet(DefaultSize, 1) when
	// empty.
	Fleet []Server
	// Interval is the mean pause between events (DefaultInterval when
	// zero). Pauses vary at random around it.
	Interval time.Duration
	// Seed seeds what happens; zero picks one from the clock, so two runs
	// against the same database do not send the same reports again.
	Seed int64
	// Backlog is how many events Run sends without pausing when it
	// starts, dated back as if they had come at Interval: DefaultBacklog
	// when zero, none when negative.
	Backlog int
	// HTTPClient sends the requests; a client with a 10-second timeout
	// when nil.
	HTTPClient *http.Client
	// Logf logs what went wrong (a request the server refused, a server
	// that does not answer); nothing is logged when nil.
	Logf func(format string, args ...any)
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return c, fmt.Errorf("demo: base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("demo: base url %q: want http://host:port", c.BaseURL)
	}
	if c.Interval < 0 {
		return c, fmt.Errorf("demo: interval %v is negative", c.Interval)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	if len(c.Fleet) == 0 {
		c.Fleet = NewFleet(DefaultSize, 1)
	}
	switch {
	case c.Backlog == 0:
		c.Backlog = DefaultBacklog
	case c.Backlog < 0:
		c.Backlog = 0
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}

// Run plays the fleet until ctx is done: first the backlog, then one event
// after another at the configured pace, each POSTed to the ingest endpoint
// of its source. A request that fails is logged through Logf and the fleet
// plays on. Run returns nil once ctx is done, or an error when the Config
// is not usable.
func Run(ctx context.Context, cfg Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	s := newSim(c.Fleet, rand.New(rand.NewPCG(uint64(c.Seed), 1)))
	pace := rand.New(rand.NewPCG(uint64(c.Seed), 2))
	if c.backlog(ctx, s, c.Backlog) != nil {
		return nil
	}
	timer := time.NewTimer(pause(pace, c.Interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		c.send(ctx, s.next(time.Now()))
		timer.Reset(pause(pace, c.Interval))
	}
}

// Burst sends n events as fast as the server takes them, dated back as if
// they had come at Interval, then the rest of every incident they opened,
// so it leaves no problem open. It returns ctx's error if ctx ends first,
// or an error when the Config is not usable.
func Burst(ctx context.Context, cfg Config, n int) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	s := newSim(c.Fleet, rand.New(rand.NewPCG(uint64(c.Seed), 1)))
	if err := c.backlog(ctx, s, n); err != nil {
		return err
	}
	for s.open() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.send(ctx, s.flush(time.Now()))
	}
	return nil
}

// backlog sends n events without pausing, dated back as if they had come
// at the configured pace up to now. It returns ctx's error if ctx ends
// first.
func (c Config) backlog(ctx context.Context, s *sim, n int) error {
	start := time.Now()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.send(ctx, s.next(start.Add(-time.Duration(n-1-i)*c.Interval)))
	}
	return nil
}

// pause draws the wait before the next event: exponential around mean,
// neither a burst nor a lull.
func pause(r *rand.Rand, mean time.Duration) time.Duration {
	d := time.Duration(r.ExpFloat64() * float64(mean))
	return min(max(d, mean/10), 4*mean)
}

// send posts p and logs what went wrong, unless ctx is over.
func (c Config) send(ctx context.Context, p Payload) {
	if err := c.post(ctx, p); err != nil && ctx.Err() == nil {
		c.Logf("demo: %v", err)
	}
}

// userAgents are what each tool calls itself.
var userAgents = map[string]string{
	translators.SourcePuppet:   "Puppet/" + puppetVersion + " Ruby/3.1.2-p20 (x86_64-linux-gnu)",
	translators.SourceNagios:   "curl/7.88.1",
	translators.SourceFail2ban: "curl/7.88.1",
}

// post sends one payload to its ingest endpoint.
func (c Config) post(ctx context.Context, p Payload) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/api/v1/ingest/"+url.PathEscape(p.Source), bytes.NewReader(p.Body))
	if err != nil {
		return fmt.Errorf("%s event for %s: %w", p.Source, p.Node, err)
	}
	req.Header.Set("Content-Type", p.ContentType)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	ua := userAgents[p.Source]
	if ua == "" {
		ua = "fleetfeed-demo"
	}
	req.Header.Set("User-Agent", ua)
	if p.Source == translators.SourcePuppet {
		req.Header.Set("X-Puppet-Version", puppetVersion)
	}
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s event for %s: %w", p.Source, p.Node, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if err != nil {
		return fmt.Errorf("%s event for %s: read answer: %w", p.Source, p.Node, err)
	}
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return fmt.Errorf("%s event for %s: %w", p.Source, p.Node, refusal(resp.Status, body))
}

// errRefused is wrapped by the errors of requests the server refused.
var errRefused = errors.New("refused")

// refusal turns an error answer ({"error": "..."}) into an error.
func refusal(status string, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Errorf("%w: %s: %s", errRefused, status, msg)
}
