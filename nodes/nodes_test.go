package nodes_test

import (
	"context"
	"path/filepath"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/translators"
)

func newStore(t *testing.T) (*nodes.Store, *feed.Pipeline) {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &nodes.Store{DB: db}, &feed.Pipeline{DB: db}
}

func ptr[T any](v T) *T { return &v }

func TestUpsertAndGet(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	n, err := s.Upsert(ctx, "web01", nodes.Profile{
		DisplayName: ptr("web01.shop.example.com"),
		Bio:         ptr("Serves the shop's product pages"),
		Contact:     ptr("web-team@example.com"),
		Location:    &nodes.Location{Datacenter: "ams1", Latitude: ptr(52.37), Longitude: ptr(4.90)},
		Classes:     []string{"Roles::Frontend_web", "profile::nginx"},
		Aliases:     []string{"192.0.2.10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.Roles, []string{"frontend_web"}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("roles = %v, want %v", got, want)
	}
	byAlias, err := s.Get(ctx, "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := byAlias.Name, "web01"; got != want {
		t.Fatalf("name = %q, want %q", got, want)
	}
	if got, want := byAlias.Location.Datacenter, "ams1"; got != want {
		t.Fatalf("datacenter = %q, want %q", got, want)
	}
	// A partial profile leaves the other fields alone.
	if _, err := s.Upsert(ctx, "web01", nodes.Profile{Bio: ptr("New bio")}); err != nil {
		t.Fatal(err)
	}
	n, _ = s.Get(ctx, "web01")
	if n.Bio != "New bio" || n.Contact != "web-team@example.com" {
		t.Fatalf("after partial update: bio %q contact %q", n.Bio, n.Contact)
	}
	list, err := s.List(ctx, nodes.ListOptions{Role: "frontend_web"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(list), 1; got != want {
		t.Fatalf("list by role = %d, want %d", got, want)
	}
}

func TestUpsertRejectsBadProfiles(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for name, p := range map[string]nodes.Profile{
		"contact":       {Contact: ptr("not an address")},
		"half location": {Location: &nodes.Location{Latitude: ptr(1.0)}},
		"off the earth": {Location: &nodes.Location{Latitude: ptr(100.0), Longitude: ptr(0.0)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Upsert(ctx, "web01", p)
			if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
				t.Fatalf("error code = %q, want %q (%v)", got, want, err)
			}
		})
	}
	if _, err := s.Upsert(ctx, "bad name/../x", nodes.Profile{}); feed.ErrorCode(err) != feed.EINVALID {
		t.Fatalf("bad name: %v", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("%d nodes after refused upserts", n)
	}
	if _, err := s.Get(ctx, "web01"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("get missing: %v", err)
	}
}

func TestHealthFollowsOpenIncidents(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	problem := translators.Event{ID: "1", Source: "nagios", Node: "db01", Post: &translators.Draft{
		Text: "The database is not answering", Tags: []string{"nagios", "critical"}, Severity: "critical", Thread: "check:svc:mysql", Opens: true}}
	recovery := translators.Event{ID: "2", Source: "nagios", Node: "db01", Post: &translators.Draft{
		Text: "The database is answering again", Tags: []string{"nagios", "ok"}, Severity: "ok", Thread: "check:svc:mysql", Closes: true}}
	if _, err := p.Ingest(ctx, []translators.Event{problem}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Get(ctx, "db01")
	if err != nil {
		t.Fatal(err)
	}
	if n.Health != translators.SeverityCritical || n.OpenIncidents != 1 {
		t.Fatalf("health %q with %d open incidents, want critical with 1", n.Health, n.OpenIncidents)
	}
	if _, err := p.Ingest(ctx, []translators.Event{recovery}); err != nil {
		t.Fatal(err)
	}
	n, _ = s.Get(ctx, "db01")
	if n.Health != translators.SeverityOK || n.OpenIncidents != 0 {
		t.Fatalf("health %q with %d open incidents, want ok with 0", n.Health, n.OpenIncidents)
	}
	if n.LastSeen == nil {
		t.Fatal("last seen not set")
	}
}
