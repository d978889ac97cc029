package nodes

import (
	"context"
	"fmt"
	"sort"
	"time"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// Datacenter is a place servers stand, for the map: where it is, how its
// servers are, and how busy they have been.
type Datacenter struct {
	Name string `json:"name"`
	// Latitude and Longitude are the mean of its servers' coordinates;
	// nil when none of them has any.
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	// Health is the worst health of its servers (see Node.Health).
	Health translators.Severity `json:"health"`
	// Servers counts its servers; Unhealthy those not ok.
	Servers   int `json:"servers"`
	Unhealthy int `json:"unhealthy"`
	// PostsHour and PostsDay count its servers' posts stored in the hour
	// and the day before the time Datacenters was asked for.
	PostsHour int `json:"posts_hour"`
	PostsDay  int `json:"posts_day"`
}

// Datacenters returns every datacenter some server stands in, by name,
// with activity counted up to now. Servers without a datacenter are left
// out. The servers of one are List(ListOptions{Datacenter: name}); its
// posts are the timeline package's Datacenter timeline.
func (s *Store) Datacenters(ctx context.Context, now time.Time) ([]*Datacenter, error) {
	all, err := s.List(ctx, ListOptions{})
	if err != nil {
		return nil, err
	}
	byName := map[string]*Datacenter{}
	sums := map[string]*[3]float64{} // lat, lon, count
	for _, n := range all {
		name := n.Location.Datacenter
		if name == "" {
			continue
		}
		d := byName[name]
		if d == nil {
			d = &Datacenter{Name: name, Health: translators.SeverityOK}
			byName[name] = d
			sums[name] = &[3]float64{}
		}
		d.Servers++
		if n.Health.Rank() > d.Health.Rank() {
			d.Health = n.Health
		}
		if n.Health != translators.SeverityOK && n.Health != translators.SeverityInfo {
			d.Unhealthy++
		}
		if n.Location.Latitude != nil {
			s := sums[name]
			s[0] += *n.Location.Latitude
			s[1] += *n.Location.Longitude
			s[2]++
		}
	}
	// Post ids start with the time they were stored at, so the day's
	// posts are an id range of the primary key.
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT n.datacenter, SUM(p.id >= ?), COUNT(*) FROM posts p JOIN nodes n ON n.id = p.node_id
		WHERE p.id >= ? AND p.id < ? AND n.datacenter != '' GROUP BY n.datacenter`,
		feed.MinIDAt(now.Add(-time.Hour)), feed.MinIDAt(now.Add(-24*time.Hour)), feed.MinIDAt(now.Add(time.Millisecond)))
	if err != nil {
		return nil, fmt.Errorf("datacenter activity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name      string
			hour, day int
		)
		if err := rows.Scan(&name, &hour, &day); err != nil {
			return nil, fmt.Errorf("datacenter activity: %w", err)
		}
		if d := byName[name]; d != nil {
			d.PostsHour, d.PostsDay = hour, day
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("datacenter activity: %w", err)
	}
	out := make([]*Datacenter, 0, len(byName))
	for name, d := range byName {
		if s := sums[name]; s[2] > 0 {
			lat, lon := s[0]/s[2], s[1]/s[2]
			d.Latitude, d.Longitude = &lat, &lon
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
