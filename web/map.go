package web

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline"
)

// The map: /map draws every datacenter on the embedded world map (1000 ×
// 500, equirectangular), as a circle coloured by its worst health, with a
// label that says the health in words, sized by the last hour's posts.
// map.js polls /api/v1/datacenters every 30 seconds to keep it current.
// Each circle links to /map/{datacenter}: its servers and their posts.

// Map geometry: the world map's size, and the circles' radii.
const (
	mapWidth, mapHeight = 1000, 500
	dotMinRadius        = 5
	dotMaxRadius        = 24
)

// mapX and mapY project a longitude and latitude onto the world map.
func mapX(lon float64) float64 { return (lon + 180) * mapWidth / 360 }
func mapY(lat float64) float64 { return (90 - lat) * mapHeight / 180 }

// dotRadius grows with the square root of the last hour's posts, so that
// the circle's area tells the activity.
func dotRadius(postsHour int) float64 {
	return math.Min(dotMaxRadius, dotMinRadius+2*math.Sqrt(float64(postsHour)))
}

// datacenterView is a datacenter as the map shows it.
type datacenterView struct {
	*nodes.Datacenter
	URL         string
	HealthLabel string
	// OnMap says whether it has coordinates; X, Y and R place its circle.
	OnMap   bool
	X, Y, R string
	// LabelX and LabelY place its label, right of the circle.
	LabelX, LabelY string
}

func newDatacenterView(d *nodes.Datacenter) datacenterView {
	v := datacenterView{Datacenter: d, URL: "/map/" + url.PathEscape(d.Name), HealthLabel: severityLabel(d.Health)}
	if d.Latitude != nil && d.Longitude != nil {
		x, y, r := mapX(*d.Longitude), mapY(*d.Latitude), dotRadius(d.PostsHour)
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
		v.OnMap, v.X, v.Y, v.R = true, f(x), f(y), f(r)
		v.LabelX, v.LabelY = f(x+r+3), f(y+4)
	}
	return v
}

// mapView is the map page.
type mapView struct {
	Width, Height int
	World         string
	Datacenters   []datacenterView
}

func (s *Server) handleMap(w http.ResponseWriter, r *http.Request) {
	dcs, err := s.Nodes.Datacenters(r.Context(), s.now())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	v := mapView{Width: mapWidth, Height: mapHeight, World: s.ui.urls.World}
	for _, d := range dcs {
		v.Datacenters = append(v.Datacenters, newDatacenterView(d))
	}
	s.render(w, r, http.StatusOK, "map.html", pageData{
		Title: "Map", Description: "Where the fleet's servers stand, and how they are.", Section: "map",
		Scripts: []string{s.ui.urls.Map}, Body: v,
	})
}

// handleDatacentersAPI is GET /api/v1/datacenters: every datacenter with
// its health and activity.
func (s *Server) handleDatacentersAPI(w http.ResponseWriter, r *http.Request) {
	dcs, err := s.Nodes.Datacenters(r.Context(), s.now())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if dcs == nil {
		dcs = []*nodes.Datacenter{}
	}
	writeJSON(w, http.StatusOK, dcs)
}

// datacenterPage is a datacenter's page.
type datacenterPage struct {
	Name     string
	Servers  []serverRow
	Timeline timelineView
}

// serverRow is a server in a datacenter's table.
type serverRow struct {
	Name, DisplayName, URL, Health, HealthLabel string
}

// handleDatacenter lists a datacenter's servers and their posts.
func (s *Server) handleDatacenter(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("datacenter")
	list, err := s.Nodes.List(r.Context(), nodes.ListOptions{Datacenter: name})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if len(list) == 0 {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no server stands in datacenter %q", name))
		return
	}
	tl, ok := s.readTimeline(w, r, "/map/"+url.PathEscape(name), "",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
			return s.Timeline.Datacenter(ctx, name, p)
		})
	if !ok {
		return
	}
	tl.Live = false
	tl.Label = "Posts from " + name
	tl.Empty = "No server here has posted yet."
	v := datacenterPage{Name: name, Timeline: tl}
	for _, n := range list {
		v.Servers = append(v.Servers, serverRow{Name: n.Name, DisplayName: displayName(n), URL: nodePath(n.Name),
			Health: string(n.Health), HealthLabel: severityLabel(n.Health)})
	}
	s.render(w, r, http.StatusOK, "datacenter.html", pageData{
		Title: "Datacenter " + name, Description: "The servers in " + name + " and their posts.", Section: "map", Body: v,
	})
}
