package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/translators"
)

// request is what the recording server saw of one request.
type request struct {
	method, path, auth, contentType string
	body                            []byte
}

// recorder is an ingest endpoint that records requests and refuses every
// refuseEvery-th one the way the web server refuses a payload.
type recorder struct {
	mu          sync.Mutex
	reqs        []request
	refuseEvery int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	n := len(rec.reqs)
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rec.refuseEvery > 0 && n%rec.refuseEvery == 0 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error": "nagios: missing host"}`)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, `{"source": "x", "events": 1}`)
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// logs collects what Logf is given.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// wantTypes are the content types each source's payloads carry.
var wantTypes = map[string]string{
	translators.SourcePuppet:   "application/x-yaml",
	translators.SourceNagios:   "application/x-www-form-urlencoded",
	translators.SourceSuricata: "application/x-ndjson",
	translators.SourceFail2ban: "application/x-www-form-urlencoded",
}

func checkRequests(t *testing.T, reqs []request) {
	t.Helper()
	for i, r := range reqs {
		if got, want := r.method, http.MethodPost; got != want {
			t.Errorf("request %d: method %s, want %s", i, got, want)
		}
		source, ok := strings.CutPrefix(r.path, "/api/v1/ingest/")
		if !ok {
			t.Errorf("request %d: path %s, want /api/v1/ingest/{source}", i, r.path)
			continue
		}
		if got, want := r.contentType, wantTypes[source]; got != want {
			t.Errorf("request %d to %s: Content-Type %q, want %q", i, r.path, got, want)
		}
		if got, want := r.auth, "Bearer s3cret"; got != want {
			t.Errorf("request %d: Authorization %q, want %q", i, got, want)
		}
		if len(r.body) == 0 {
			t.Errorf("request %d: empty body", i)
		}
	}
}

func TestRun(t *testing.T) {
	rec := &recorder{refuseEvery: 4}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	var l logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			BaseURL:    srv.URL + "/",
			Token:      "s3cret",
			Fleet:      NewFleet(12, 1),
			Interval:   time.Millisecond,
			Seed:       1,
			Backlog:    5,
			HTTPClient: srv.Client(),
			Logf:       l.logf,
		})
	}()
	deadline := time.Now().Add(3 * time.Second)
	for len(rec.requests()) < 30 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after its context was canceled, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop within 2 s of its context being canceled")
	}
	reqs := rec.requests()
	if got, want := len(reqs), 30; got < want {
		t.Fatalf("%d requests, want at least %d", got, want)
	}
	checkRequests(t, reqs)

	// The server refused every fourth request: each was logged, and the
	// fleet played on.
	lines := l.all()
	if got, want := len(lines), len(reqs)/4; got < want-1 || got > want {
		t.Errorf("%d lines logged for %d refusals: %q", got, want, lines)
	}
	for _, line := range lines {
		if !strings.Contains(line, "nagios: missing host") || !strings.Contains(line, "400") {
			t.Errorf("logged %q, want the server's error and status", line)
		}
	}
}

// Run stops when its context ends, even while the server keeps it waiting.
func TestRunStopsWhileServerHangs(t *testing.T) {
	hung := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client has gone only once the body
		// is read.
		io.Copy(io.Discard, r.Body)
		select {
		case hung <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	var l logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{BaseURL: srv.URL, Token: "s3cret", Fleet: NewFleet(3, 1), Seed: 2, HTTPClient: srv.Client(), Logf: l.logf})
	}()
	select {
	case <-hung:
	case <-time.After(2 * time.Second):
		t.Fatal("no request reached the server")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop within 2 s of its context being canceled")
	}
	if lines := l.all(); len(lines) > 0 {
		t.Errorf("a canceled request was logged as an error: %q", lines)
	}
}

// A server that is not there is logged, and the fleet plays on.
func TestRunServerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var l logs
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := Run(ctx, Config{BaseURL: url, Fleet: NewFleet(3, 1), Interval: time.Millisecond, Backlog: 2, Logf: l.logf}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(l.all()); got < 3 {
		t.Errorf("%d errors logged, want one per attempt (at least 3)", got)
	}
}

func TestBurst(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const n = 30
	cfg := Config{BaseURL: srv.URL, Token: "s3cret", Fleet: NewFleet(DefaultSize, 1), Seed: 4, HTTPClient: srv.Client()}
	start := time.Now()
	if err := Burst(context.Background(), cfg, n); err != nil {
		t.Fatalf("Burst: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Burst took %v: it should not pause", took)
	}
	reqs := rec.requests()
	if got := len(reqs); got < n {
		t.Fatalf("%d requests, want at least %d", got, n)
	}
	checkRequests(t, reqs)
	// Every incident the burst opened, it closed.
	in := newIncidents(t)
	for _, r := range reqs {
		source := strings.TrimPrefix(r.path, "/api/v1/ingest/")
		in.play(Payload{Source: source, ContentType: r.contentType, Body: r.body}, time.Time{})
	}
	if len(in.open) > 0 {
		t.Errorf("the burst left incidents open: %v", in.open)
	}
}

func TestBurstCanceled(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Burst(ctx, Config{BaseURL: srv.URL, HTTPClient: srv.Client()}, 10)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Burst with a canceled context = %v, want context.Canceled", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no base url", Config{}},
		{"not http", Config{BaseURL: "ftp://127.0.0.1:8080"}},
		{"no host", Config{BaseURL: "http://"}},
		{"negative interval", Config{BaseURL: "http://127.0.0.1:8080", Interval: -time.Second}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			if err := Run(context.Background(), tc.cfg); err == nil {
				t.Error("Run accepted the config")
			}
			if err := Burst(context.Background(), tc.cfg, 1); err == nil {
				t.Error("Burst accepted the config")
			}
		})
	}
}
