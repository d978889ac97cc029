package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/web"
)

// The ingest benchmarks send batches of 1,000 Suricata EVE alert lines over
// real HTTP on loopback and count events from request to committed post.
// `make bench` runs them once each (-benchtime 1x): each does a fixed
// amount of work and reports events/s.

const (
	benchBatch   = 1000
	benchBatches = 30
	benchSenders = 2
)

// benchStart dates the benchmark's alerts: now, as a live sensor's are.
var benchStart = time.Now().UTC().Add(-time.Minute)

// eveLine is a Suricata alert in the shape Suricata writes it; n makes the
// flow, time and source address unique so nothing deduplicates or folds.
func eveLine(n int) string {
	ts := benchStart.Add(time.Duration(n) * time.Microsecond)
	return fmt.Sprintf(`{"timestamp":"%s+0000","flow_id":%d,"in_iface":"eth0","event_type":"alert","src_ip":"198.51.%d.%d","src_port":%d,"dest_ip":"192.0.2.%d","dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2010935,"rev":3,"signature":"ET SCAN Suspicious inbound to MSSQL port 1433","category":"Potentially Bad Traffic","severity":2},"http":{"hostname":"shop.example.com","url":"/search?q=1","http_user_agent":"curl/7.88","http_method":"GET","status":200}}`,
		ts.Format("2006-01-02T15:04:05.000000"), 1e9+n, (n/250)%250, n%250, 1024+n%60000, 10+n%20)
}

func eveBatch(start int) []byte {
	var b bytes.Buffer
	for i := 0; i < benchBatch; i++ {
		b.WriteString(eveLine(start + i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func benchServer(b *testing.B, dir string) (*httptest.Server, *feed.DB) {
	db := feed.NewDB(filepath.Join(dir, "fleetfeed.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	s := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	s.IngestToken = token
	return httptest.NewServer(s.Handler()), db
}

func postBatch(b *testing.B, url string, body []byte) {
	req, _ := http.NewRequest("POST", url+"/api/v1/ingest/suricata", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Errorf("ingest: %s", resp.Status)
	}
}

func runIngest(b *testing.B, ts *httptest.Server, offset int) {
	bodies := make([][]byte, benchBatches)
	for i := range bodies {
		bodies[i] = eveBatch(offset + i*benchBatch)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		// Two senders, as two sensors would post: one batch is read and
		// translated while the other is written.
		work := make(chan []byte)
		var wg sync.WaitGroup
		for w := 0; w < benchSenders; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for body := range work {
					postBatch(b, ts.URL, body)
				}
			}()
		}
		for _, body := range bodies {
			work <- body
		}
		close(work)
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*benchBatches*benchBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIngestSuricataEmptyStore: end-to-end ingest into an empty store.
func BenchmarkIngestSuricataEmptyStore(b *testing.B) {
	ts, db := benchServer(b, b.TempDir())
	defer db.Close()
	defer ts.Close()
	runIngest(b, ts, 0)
}

// BenchmarkIngestSuricata1MPosts: end-to-end ingest into a store that
// already holds a million posts.
func BenchmarkIngestSuricata1MPosts(b *testing.B) {
	ts, db := benchServer(b, b.TempDir())
	defer db.Close()
	defer ts.Close()
	if err := seedPosts(context.Background(), db, 1_000_000); err != nil {
		b.Fatal(err)
	}
	runIngest(b, ts, 5_000_000)
}

// BenchmarkRawSQLiteBatchInsert is the ceiling: the same rows (event, post,
// three tags) inserted with prepared statements in transactions of 1,000,
// with no HTTP, no parsing and no pipeline logic.
func BenchmarkRawSQLiteBatchInsert(b *testing.B) {
	db := feed.NewDB(filepath.Join(b.TempDir(), "raw.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(`INSERT INTO nodes (id, name, created_at) VALUES (1, 'web01', 0)`); err != nil {
		b.Fatal(err)
	}
	details := []byte(eveLine(0))
	b.ResetTimer()
	start := time.Now()
	id := int64(1)
	for i := 0; i < b.N; i++ {
		for batch := 0; batch < benchBatches; batch++ {
			tx, err := db.SQL().Begin()
			if err != nil {
				b.Fatal(err)
			}
			ev, _ := tx.Prepare(`INSERT INTO events (id, received_at) VALUES (?, 0)`)
			post, _ := tx.Prepare(`INSERT INTO posts (id, node_id, source, text, tags, severity, created_at, last_at, fold_hash, event_id, details) VALUES (?, 1, 'suricata', 'Suspicious traffic', '["security","warning","suricata"]', 'warning', 0, 0, ?, ?, ?)`)
			tag, _ := tx.Prepare(`INSERT INTO post_tags (tag, post_id) VALUES (?, ?)`)
			for j := 0; j < benchBatch; j++ {
				id++
				eid := fmt.Sprintf("suricata:%d", id)
				if _, err := ev.Exec(eid); err != nil {
					b.Fatal(err)
				}
				if _, err := post.Exec(id, id*7919, eid, details); err != nil {
					b.Fatal(err)
				}
				for _, t := range []string{"security", "warning", "suricata"} {
					if _, err := tag.Exec(t, id); err != nil {
						b.Fatal(err)
					}
				}
			}
			ev.Close()
			post.Close()
			tag.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*benchBatches*benchBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// seedPosts fills the store with n posts over 200 nodes, with tags and
// event ids, directly in SQL.
func seedPosts(ctx context.Context, db *feed.DB, n int) error {
	base := feed.MinIDAt(time.Now().Add(-30 * 24 * time.Hour))
	stmts := []string{
		`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 200)
		 INSERT INTO nodes (id, name, display_name, created_at) SELECT i, 'seed' || i, 'seed' || i || '.example.com', 0 FROM k`,
		fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)
		 INSERT INTO posts (id, node_id, source, text, tags, severity, created_at, last_at, fold_hash, event_id, details)
		 SELECT %d + i * 16, 1 + i %% 200, 'nagios', 'Load is high ' || i, '["nagios","warning"]', 'warning',
		        (%d + i * 16) >> 16, (%d + i * 16) >> 16, i * 7919, 'seed:' || i, '{}' FROM k`, n, base, base, base),
		`INSERT INTO events (id, received_at) SELECT event_id, created_at FROM posts`,
		`INSERT INTO post_tags (tag, post_id) SELECT 'nagios', id FROM posts`,
		`INSERT INTO post_tags (tag, post_id) SELECT 'warning', id FROM posts`,
		`ANALYZE`,
	}
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
