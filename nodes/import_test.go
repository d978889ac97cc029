package nodes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/translators"
)

const nodesYAML = `
- handle: web01
  display_name: Shop front end 1
  bio: Serves the shop's pages.
  contact: web-team@example.com
  location: {datacenter: AMS1, latitude: 52.37, longitude: 4.90}
  aliases: [web01.shop.example.com, 10.0.0.11]
  classes: [roles::frontend_web]
- handle: db01
  location: {datacenter: FRA1, latitude: 50.11, longitude: 8.68}
`

const nodesJSON = `{
  "web01": {"bio": "Serves the shop."},
  "mail01": {"display_name": "Mail relay", "classes": ["roles::mail"]}
}`

func TestImportNodes(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	entries, err := nodes.ParseNodesFile([]byte(nodesYAML))
	if err != nil {
		t.Fatal(err)
	}
	created, updated, err := s.UpsertAll(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if created != 2 || updated != 0 {
		t.Fatalf("created %d, updated %d; want 2, 0", created, updated)
	}
	n, err := s.Get(ctx, "10.0.0.11")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "web01" || n.DisplayName != "Shop front end 1" || n.Location.Datacenter != "AMS1" || strings.Join(n.Roles, ",") != "frontend_web" {
		t.Fatalf("web01 = %+v", n)
	}

	entries, err = nodes.ParseNodesFile([]byte(nodesJSON))
	if err != nil {
		t.Fatal(err)
	}
	if created, updated, err = s.UpsertAll(ctx, entries); err != nil || created != 1 || updated != 1 {
		t.Fatalf("JSON import: created %d, updated %d, %v", created, updated, err)
	}
	n, _ = s.Get(ctx, "web01")
	if n.Bio != "Serves the shop." || n.DisplayName != "Shop front end 1" {
		t.Fatalf("after the JSON import web01 = %+v: fields left out must stay", n)
	}
}

func TestImportNodesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"every bad entry", `
- handle: web01
  contact: not an address
- display_name: no handle
- handle: web01
- handle: "bad name"
- handle: db01
  location: {datacenter: X, latitude: 95, longitude: 4}
- handle: lb01
  classes: roles::lb
`, []string{
			"nodes file: 6 bad entries:",
			`line 2 (web01): contact "not an address" is not an e-mail address`,
			"line 4 (entry 2): no handle",
			"line 5 (web01): the server is also at line 2",
			`line 6 (bad name): "bad name" is not a server name`,
			"line 7 (db01): location 95, 4 is not on Earth",
			"line 9 (entry 6): line 10: cannot unmarshal !!str `roles::lb` into []string",
		}},
		{"not a list", "just text", []string{"line 1: expected a list or a map of servers"}},
		{"bad yaml", "- handle: [", []string{"nodes file: yaml:"}},
		{"key and handle differ", "web01: {handle: web02}", []string{`line 1 (entry 1): key "web01" and handle "web02" differ`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nodes.ParseNodesFile([]byte(tc.file))
			if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
				t.Fatalf("code %q (%v), want %q", got, err, want)
			}
			for _, w := range tc.want {
				if !strings.Contains(feed.ErrorMessage(err), w) {
					t.Errorf("message lacks %q:\n%s", w, feed.ErrorMessage(err))
				}
			}
		})
	}
}

func TestUpsertAllIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	// The first entry is stored, then the second fails: the whole
	// import must roll back.
	entries := []nodes.Entry{
		{Name: "web01", Profile: nodes.Profile{Bio: ptr("one")}},
		{Name: "web02", Profile: nodes.Profile{Facts: map[string]any{"bad": func() {}}}},
	}
	if _, _, err := s.UpsertAll(ctx, entries); err == nil {
		t.Fatal("an import with a bad entry succeeded")
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("%d servers after a failed import, want 0", n)
	}
}

func TestDatacenters(t *testing.T) {
	ctx := context.Background()
	s, p := newStore(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p.DB.Now = func() time.Time { return now }
	entries, err := nodes.ParseNodesFile([]byte(`
web01: {location: {datacenter: AMS1, latitude: 52.0, longitude: 4.0}}
web02: {location: {datacenter: AMS1, latitude: 53.0, longitude: 5.0}}
db01: {location: {datacenter: FRA1}}
mail01: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpsertAll(ctx, entries); err != nil {
		t.Fatal(err)
	}
	post := func(id, node string, sev translators.Severity, opens bool, at time.Time) {
		now = at
		if _, err := p.Ingest(ctx, []translators.Event{{ID: id, Node: node, Time: at,
			Post: &translators.Draft{Text: "Something happened " + id, Tags: []string{string(sev)}, Severity: sev, Thread: "check:" + id, Opens: opens}}}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Posts are stored in time order, as they are: their ids carry the
	// time they were stored.
	post("c", "db01", translators.SeverityInfo, false, t0.Add(-48*time.Hour))
	post("a", "web02", translators.SeverityCritical, true, t0.Add(-3*time.Hour))
	post("b", "web01", translators.SeverityInfo, false, t0.Add(-30*time.Minute))
	post("d", "mail01", translators.SeverityWarning, true, t0.Add(-time.Minute))

	dcs, err := s.Datacenters(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(dcs), 2; got != want {
		t.Fatalf("%d datacenters, want %d", got, want)
	}
	ams, fra := dcs[0], dcs[1]
	if ams.Name != "AMS1" || ams.Servers != 2 || ams.Unhealthy != 1 || ams.Health != translators.SeverityCritical ||
		ams.PostsHour != 1 || ams.PostsDay != 2 || *ams.Latitude != 52.5 || *ams.Longitude != 4.5 {
		t.Fatalf("AMS1 = %+v", ams)
	}
	if fra.Name != "FRA1" || fra.Servers != 1 || fra.Health != translators.SeverityOK || fra.PostsDay != 0 || fra.Latitude != nil {
		t.Fatalf("FRA1 = %+v", fra)
	}
}
