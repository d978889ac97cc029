package timeline_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// The home timeline benchmark: a store of a million posts from 10,000
// servers, and users following 10, 100 and 1,000 of them plus the
// #security hashtag. Each benchmark reads a fixed set of pages (the
// first page and pages at random depths) and reports the p50 and p99 of
// the per-page times, beside the plain SQL query a first attempt would
// write. `make bench` runs them once each (-benchtime 1x).

const (
	benchNodes   = 10_000
	benchPosts   = 1_000_000
	benchQueries = 300
)

var homeStore struct {
	once sync.Once
	dir  string
	db   *feed.DB
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if homeStore.db != nil {
		homeStore.db.Close()
		os.RemoveAll(homeStore.dir)
	}
	os.Exit(code)
}

// benchDB builds the store once per test binary: it takes a while.
func benchDB(b *testing.B) *feed.DB {
	homeStore.once.Do(func() {
		homeStore.dir, homeStore.err = os.MkdirTemp("", "fleetfeed-home-bench")
		if homeStore.err != nil {
			return
		}
		db := feed.NewDB(filepath.Join(homeStore.dir, "fleetfeed.db"))
		if homeStore.err = db.Open(); homeStore.err != nil {
			return
		}
		homeStore.db = db
		homeStore.err = seedHome(context.Background(), db)
	})
	if homeStore.err != nil {
		b.Fatal(homeStore.err)
	}
	return homeStore.db
}

// seedHome writes the servers, posts, tags and users in SQL. Post i is
// from server 1 + (i*7919 mod 10,000), so every server posts about every
// 10,000th post; one post in a hundred is #security. Search is not
// measured here, so the posts are left out of the full-text index.
func seedHome(ctx context.Context, db *feed.DB) error {
	base := feed.MinIDAt(time.Now().Add(-30 * 24 * time.Hour))
	stmts := []string{
		fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)
		 INSERT INTO nodes (id, name, display_name, created_at) SELECT i, 'node' || i, 'node' || i || '.example.com', 0 FROM k`, benchNodes),
		fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)
		 INSERT INTO posts (id, node_id, source, text, tags, severity, created_at, last_at, fold_hash, event_id, details)
		 SELECT %d + i * 16, 1 + (i * 7919) %% %d, 'nagios', 'Load is high ' || i,
		        CASE WHEN i %% 100 = 0 THEN '["security","warning"]' ELSE '["nagios","warning"]' END, 'warning',
		        (%d + i * 16) >> 16, (%d + i * 16) >> 16, i * 7919, 'seed:' || i, '{}' FROM k`, benchPosts, base, benchNodes, base, base),
		`INSERT INTO post_tags (tag, post_id) SELECT CASE WHEN (id - ` + fmt.Sprint(base) + `) / 16 % 100 = 0 THEN 'security' ELSE 'nagios' END, id FROM posts`,
		`INSERT INTO post_tags (tag, post_id) SELECT 'warning', id FROM posts`,
		`INSERT INTO users (id, name, password, role, created_at, updated_at) VALUES
		 (10, 'u10', '-', 'viewer', 0, 0), (100, 'u100', '-', 'viewer', 0, 0), (1000, 'u1000', '-', 'viewer', 0, 0)`,
		`INSERT INTO follow_tags (user_id, tag, created_at) SELECT id, 'security', 0 FROM users`,
		`ANALYZE`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	}
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	// User n follows n servers spread over the fleet.
	for _, n := range []int{10, 100, 1000} {
		if _, err := db.SQL().ExecContext(ctx, `WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ? - 1)
			INSERT INTO follow_nodes (user_id, node_id, created_at) SELECT ?, 1 + (i * 9973) % ?, 0 FROM k`, n, n, benchNodes); err != nil {
			return fmt.Errorf("seed follows: %w", err)
		}
	}
	return nil
}

// rawHome is the query one writes first: one statement, a subquery per
// source.
const rawHome = `SELECT ` + feed.PostColumns + ` FROM ` + feed.PostFrom + `
	WHERE (p.node_id IN (SELECT node_id FROM follow_nodes WHERE user_id = ?)
	    OR p.id IN (SELECT post_id FROM post_tags WHERE tag IN (SELECT tag FROM follow_tags WHERE user_id = ?)))
	  AND p.id < ?
	ORDER BY p.id DESC LIMIT ?`

// pagesToRead is the benchmark's fixed work: the first page, then pages
// whose max_id is spread over the store's ids.
func pagesToRead(db *feed.DB) []timeline.Page {
	var lo, hi int64
	db.SQL().QueryRow(`SELECT MIN(id), MAX(id) FROM posts`).Scan(&lo, &hi)
	rng := rand.New(rand.NewSource(1))
	pages := make([]timeline.Page, benchQueries)
	for i := range pages {
		pages[i].Limit = timeline.DefaultLimit
		if i%3 != 0 {
			pages[i].MaxID = lo + rng.Int63n(hi-lo)
		}
	}
	return pages
}

func report(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(d[len(d)-1].Microseconds())/1000, "max_ms")
	b.ReportMetric(0, "ns/op")
}

func benchHome(b *testing.B, user int64, raw bool) {
	db := benchDB(b)
	ctx := context.Background()
	f := &timeline.Follows{DB: db}
	pages := pagesToRead(db)
	// Warm the cache of interests and the page cache with one untimed
	// pass.
	for _, p := range pages {
		if _, err := f.Home(ctx, user, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var d []time.Duration
	for i := 0; i < b.N; i++ {
		for _, p := range pages {
			start := time.Now()
			var posts []*feed.Post
			var err error
			if raw {
				max := p.MaxID
				if max == 0 {
					max = 1 << 62
				}
				posts, err = feed.QueryPosts(ctx, db.SQL(), rawHome, user, user, max, p.Limit)
			} else {
				posts, err = f.Home(ctx, user, p)
			}
			d = append(d, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if p.MaxID == 0 && len(posts) != p.Limit {
				b.Fatalf("first page of %d posts, want %d", len(posts), p.Limit)
			}
		}
	}
	report(b, d)
}

func BenchmarkHomeTimeline(b *testing.B) {
	for _, n := range []int64{10, 100, 1000} {
		b.Run(fmt.Sprintf("follows=%d", n), func(b *testing.B) { benchHome(b, n, false) })
		b.Run(fmt.Sprintf("follows=%d/raw_sql", n), func(b *testing.B) { benchHome(b, n, true) })
	}
}

// TestHomeAgreesWithRawSQL checks on the benchmark's store that the merged
// home timeline and the plain query give the same pages. It needs the
// million-post store, so it runs only with -bench.
func BenchmarkHomeAgreesWithRawSQL(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	f := &timeline.Follows{DB: db}
	for _, user := range []int64{10, 100, 1000} {
		for _, p := range pagesToRead(db)[:30] {
			got, err := f.Home(ctx, user, p)
			if err != nil {
				b.Fatal(err)
			}
			max := p.MaxID
			if max == 0 {
				max = 1 << 62
			}
			want, err := feed.QueryPosts(ctx, db.SQL(), rawHome, user, user, max, p.Limit)
			if err != nil {
				b.Fatal(err)
			}
			if sentences(got) != sentences(want) {
				b.Fatalf("user %d page %+v:\n got %s\nwant %s", user, p, sentences(got), sentences(want))
			}
		}
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkListQuery reads list timelines of tag queries on the same
// store, each page through the query's driver (see drivers): a rare tag
// ANDed with a common one, an OR, and a NOT that can only be scanned.
func BenchmarkListQuery(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	r := &timeline.Reader{DB: db}
	pages := pagesToRead(db)
	for _, s := range []string{"#security AND #warning", "#security OR from:node7", "NOT #nagios", "#nagios AND NOT #warning"} {
		b.Run(s, func(b *testing.B) {
			q, err := timeline.ParseQuery(s)
			if err != nil {
				b.Fatal(err)
			}
			c, err := r.Compile(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			in := timeline.NewInterests(nil, nil, c)
			var d []time.Duration
			for i := 0; i < b.N; i++ {
				for _, p := range pages[:100] {
					start := time.Now()
					if _, err := r.Matching(ctx, in, p); err != nil {
						b.Fatal(err)
					}
					d = append(d, time.Since(start))
				}
			}
			report(b, d)
		})
	}
}
