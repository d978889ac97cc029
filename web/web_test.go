package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/web"
)

const token = "s3cret-token"

// newServer starts a server over a new database in a temp dir.
func newServer(t *testing.T) (*httptest.Server, *web.Server) {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	s.IngestToken = token
	s.MaxBody = 64 << 10
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func do(t *testing.T, method, url, contentType, body string, mod ...func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for _, m := range mod {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, raw)
		}
	}
	return a
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

type stats struct{ Events, Posts, Nodes int }

func getStats(t *testing.T, base string) stats {
	var s stats
	getJSON(t, base+"/api/v1/stats", &s)
	return s
}

const twoEvents = `{"id":"e1","source":"nagios","node":"web01.example.com","aliases":["192.0.2.10"],"post":{"text":"Disk space is running low","tags":["nagios","warning"],"severity":"warning","thread":"check:disk","opens":true}}
{"id":"e2","source":"nagios","node":"web01.example.com","post":{"text":"Disk space is back to normal","tags":["nagios","ok"],"severity":"ok","thread":"check:disk","closes":true}}
`

func TestIngestAndRead(t *testing.T) {
	ts, _ := newServer(t)
	a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/x-ndjson", twoEvents)
	if got, want := a.status, http.StatusAccepted; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, a.raw)
	}
	posts := a.body["posts"].([]any)
	if got, want := len(posts), 2; got != want {
		t.Fatalf("posts = %d, want %d", got, want)
	}
	// The same request again is deduplicated.
	a = do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/x-ndjson", twoEvents)
	if got, want := a.body["duplicates"], float64(2); got != want {
		t.Fatalf("duplicates = %v, want %v", got, want)
	}
	if got, want := getStats(t, ts.URL), (stats{Events: 2, Posts: 2, Nodes: 1}); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}

	var public []map[string]any
	getJSON(t, ts.URL+"/api/v1/timelines/public", &public)
	if got, want := len(public), 2; got != want {
		t.Fatalf("public timeline has %d posts, want %d", got, want)
	}
	newest := public[0]
	for _, k := range []string{"id", "node", "text", "tags", "severity", "source", "created_at", "in_reply_to", "count", "details"} {
		if _, ok := newest[k]; !ok {
			t.Errorf("post JSON lacks %q: %v", k, newest)
		}
	}
	if got, want := newest["text"], "Disk space is back to normal #nagios #ok"; got != want {
		t.Fatalf("text = %v, want %v", got, want)
	}
	if got, want := newest["in_reply_to"], public[1]["id"]; got != want {
		t.Fatalf("recovery in_reply_to = %v, want %v", got, want)
	}

	var thread struct {
		Post   map[string]any   `json:"post"`
		Thread []map[string]any `json:"thread"`
	}
	getJSON(t, ts.URL+"/api/v1/posts/"+newest["id"].(string), &thread)
	if got, want := len(thread.Thread), 2; got != want {
		t.Fatalf("thread has %d posts, want %d", got, want)
	}

	var node map[string]any
	getJSON(t, ts.URL+"/api/v1/nodes/192.0.2.10", &node) // by alias
	if got, want := node["name"], "web01"; got != want {
		t.Fatalf("node name = %v, want %v", got, want)
	}
	if got, want := node["health"], "ok"; got != want {
		t.Fatalf("health after recovery = %v, want %v", got, want)
	}
	var nodePosts, tagPosts, older []map[string]any
	getJSON(t, ts.URL+"/api/v1/nodes/web01/posts", &nodePosts)
	getJSON(t, ts.URL+"/api/v1/tags/warning/posts", &tagPosts)
	getJSON(t, ts.URL+"/api/v1/timelines/public?limit=1&max_id="+newest["id"].(string), &older)
	if len(nodePosts) != 2 || len(tagPosts) != 1 || len(older) != 1 || older[0]["id"] != public[1]["id"] {
		t.Fatalf("node %d posts, tag %d posts, older page %v", len(nodePosts), len(tagPosts), older)
	}
	var nodesList []map[string]any
	getJSON(t, ts.URL+"/api/v1/nodes", &nodesList)
	if got, want := len(nodesList), 1; got != want {
		t.Fatalf("nodes = %d, want %d", got, want)
	}
}

func TestIngestRefusesBadRequests(t *testing.T) {
	ts, _ := newServer(t)
	big := strings.Repeat(`{"id":"x","node":"a"}`+"\n", 5000)
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		mod         func(*http.Request)
		status      int
		errHas      string
		line        float64
	}{
		{"no token", "/api/v1/ingest/events", "application/json", twoEvents, func(r *http.Request) { r.Header.Del("Authorization") }, 401, "token", 0},
		{"wrong token", "/api/v1/ingest/events", "application/json", twoEvents, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401, "token", 0},
		{"unknown source", "/api/v1/ingest/syslog", "application/json", twoEvents, nil, 404, "unknown source", 0},
		{"wrong content type", "/api/v1/ingest/events", "image/png", twoEvents, nil, 415, "takes", 0},
		{"too large", "/api/v1/ingest/events", "application/x-ndjson", big, nil, 413, "limit", 0},
		{"empty", "/api/v1/ingest/events", "application/x-ndjson", "", nil, 400, "empty", 0},
		{"bad line", "/api/v1/ingest/events", "application/x-ndjson", twoEvents + "{not json}\n", nil, 400, "line 3", 3},
		{"bad event", "/api/v1/ingest/events", "application/x-ndjson", `{"id":"z","node":"a","post":{"text":"hi","severity":"loud"}}`, nil, 400, "severity", 1},
		{"GET", "/api/v1/ingest/events", "", "", nil, 405, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.name == "GET" {
				method = "GET"
			}
			var mods []func(*http.Request)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			a := do(t, method, ts.URL+tt.path, tt.contentType, tt.body, mods...)
			if got, want := a.status, tt.status; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, a.raw)
			}
			if tt.errHas != "" {
				msg, _ := a.body["error"].(string)
				if !strings.Contains(msg, tt.errHas) {
					t.Fatalf("error %q does not mention %q", msg, tt.errHas)
				}
			}
			if tt.line != 0 {
				if got, want := a.body["line"], tt.line; got != want {
					t.Fatalf("line = %v, want %v", got, want)
				}
			}
		})
	}
	if got, want := getStats(t, ts.URL), (stats{}); got != want {
		t.Fatalf("store changed by refused requests: %+v", got)
	}
	// And the server still works.
	if a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/x-ndjson", twoEvents); a.status != http.StatusAccepted {
		t.Fatalf("good request after bad ones: %d %s", a.status, a.raw)
	}
}

func TestIngestBasicAuthAsPuppetSendsIt(t *testing.T) {
	ts, _ := newServer(t)
	body := `{"id":"e9","node":"db01","post":{"text":"Puppet updated 2 things","tags":["puppet","changed"],"severity":"info"}}`
	a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/json", body, func(r *http.Request) {
		r.Header.Del("Authorization")
		r.SetBasicAuth("puppet", token)
	})
	if got, want := a.status, http.StatusAccepted; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, a.raw)
	}
}

func TestReadAPIErrors(t *testing.T) {
	ts, _ := newServer(t)
	for path, status := range map[string]int{
		"/api/v1/nodes/nobody":                   404,
		"/api/v1/nodes/nobody/posts":             404,
		"/api/v1/posts/123":                      404,
		"/api/v1/posts/abc":                      400,
		"/api/v1/timelines/public?limit=-1":      400,
		"/api/v1/timelines/public?max_id=banana": 400,
		"/healthz":                               200,
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, status; got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
}

// sharedTestdata is the folder of real tool output beside the project.
const sharedTestdata = "../../shared/testdata"

func readShared(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedTestdata, rel))
	if err != nil {
		t.Fatalf("read shared testdata: %v", err)
	}
	return string(b)
}
