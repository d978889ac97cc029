package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/translators"
	"fleetfeed/web"
)

// feedBenchRounds is how many times each measurement is taken; the
// benchmark reports the median, so that `make bench` (-benchtime 1x) gets
// a steady figure from one run.
const feedBenchRounds = 500

// BenchmarkFeeds measures a feed of 50 posts in each format: rendering it
// alone, answering a request for it (query and render), and answering a
// conditional request that matches (304, nothing rendered).
func BenchmarkFeeds(b *testing.B) {
	db := feed.NewDB(filepath.Join(b.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	s.BaseURL = "https://fleet.example.com"
	s.Logger = quietLogger()
	var evs []translators.Event
	for i := range 60 {
		evs = append(evs, translators.Event{
			ID: fmt.Sprintf("feedbench:%d", i), Source: translators.SourceSuricata, Node: fmt.Sprintf("web%02d.example.com", i%7),
			Post: &translators.Draft{
				Text:     fmt.Sprintf("Someone probed the shop's search page with a suspicious request (%d)", i),
				Tags:     []string{"security", "warning", "suricata"},
				Severity: translators.SeverityWarning,
				Details:  map[string]any{"signature": "ET WEB_SERVER Possible SQL Injection", "src_ip": "198.51.100.7", "payload": "<script>alert(1)</script>"},
			},
		})
	}
	if _, err := s.Pipeline.Ingest(context.Background(), evs); err != nil {
		b.Fatal(err)
	}
	posts, err := s.Timeline.Public(context.Background(), timeline.Page{Limit: 50})
	if err != nil || len(posts) != 50 {
		b.Fatalf("%d posts, %v", len(posts), err)
	}
	h := s.Handler()

	for _, format := range timeline.FeedFormats {
		b.Run(string(format), func(b *testing.B) {
			for range b.N {
				meta := timeline.FeedMeta{
					Title: "fleetfeed: public timeline", Description: "What every server says.",
					PageURL: s.BaseURL + "/", FeedURL: s.BaseURL + "/public." + string(format),
					PostURL: func(p *feed.Post) string { return s.BaseURL + "/posts/" + feed.FormatID(p.ID) },
					TagURL:  func(t string) string { return s.BaseURL + "/tags/" + t },
					NodeURL: func(n string) string { return s.BaseURL + "/@" + n },
				}
				var buf bytes.Buffer
				render := median(func() {
					buf.Reset()
					if err := timeline.WriteFeed(&buf, format, meta, posts); err != nil {
						b.Fatal(err)
					}
				})
				url := "/public." + string(format) + "?limit=50"
				var etag string
				full := median(func() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d", url, rec.Code)
					}
					etag = rec.Header().Get("ETag")
				})
				notModified := median(func() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("GET", url, nil)
					req.Header.Set("If-None-Match", etag)
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusNotModified {
						b.Fatalf("GET %s with its ETag: %d", url, rec.Code)
					}
				})
				b.ReportMetric(render.Seconds()*1000, "render-p50-ms")
				b.ReportMetric(full.Seconds()*1000, "request-p50-ms")
				b.ReportMetric(notModified.Seconds()*1000, "304-p50-ms")
				b.ReportMetric(float64(buf.Len())/1024, "KB")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// median runs f feedBenchRounds times and returns its median duration.
func median(f func()) time.Duration {
	d := make([]time.Duration, feedBenchRounds)
	for i := range d {
		start := time.Now()
		f()
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[len(d)/2]
}
