// Package nodes owns server profiles: identity, display name, bio, contact,
// location, roles, facts and health, read and written in the feed database.
package nodes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// Node is a server's profile.
type Node struct {
	ID          int64          `json:"-"`
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name"`
	Bio         string         `json:"bio"`
	Contact     string         `json:"contact"`
	Location    Location       `json:"location"`
	Classes     []string       `json:"classes"`
	Roles       []string       `json:"roles"`
	Facts       map[string]any `json:"facts"`
	Agents      []string       `json:"agents"`
	Aliases     []string       `json:"aliases"`
	LastSeen    *time.Time     `json:"last_seen"`
	// Health is the worst severity among the node's open incidents, or
	// the health its configuration management last reported, or ok.
	Health translators.Severity `json:"health"`
	// OpenIncidents is the number of problems not yet ended.
	OpenIncidents int       `json:"open_incidents"`
	CreatedAt     time.Time `json:"created_at"`
}

// Location is where a server stands.
type Location struct {
	Datacenter string   `json:"datacenter"`
	Latitude   *float64 `json:"latitude"`
	Longitude  *float64 `json:"longitude"`
}

// Store reads and writes profiles.
type Store struct {
	DB *feed.DB
}

const nodeColumns = `n.id, n.name, n.display_name, n.bio, n.contact, n.datacenter, n.latitude, n.longitude,
	n.classes, n.facts, n.agents, n.health, n.last_seen, n.created_at,
	(SELECT COUNT(*) FROM incidents i WHERE i.node_id = n.id),
	COALESCE((SELECT i.severity FROM incidents i WHERE i.node_id = n.id ORDER BY
		CASE i.severity WHEN 'critical' THEN 4 WHEN 'warning' THEN 3 WHEN 'info' THEN 2 ELSE 1 END DESC LIMIT 1), '')`

func scanNode(s feed.Scanner) (*Node, error) {
	var (
		n                      Node
		classes, facts, agents string
		health, worst          string
		lastSeen, created      int64
		lat, lon               sql.NullFloat64
	)
	if err := s.Scan(&n.ID, &n.Name, &n.DisplayName, &n.Bio, &n.Contact, &n.Location.Datacenter, &lat, &lon,
		&classes, &facts, &agents, &health, &lastSeen, &created, &n.OpenIncidents, &worst); err != nil {
		return nil, err
	}
	if lat.Valid && lon.Valid {
		n.Location.Latitude, n.Location.Longitude = &lat.Float64, &lon.Float64
	}
	if err := json.Unmarshal([]byte(classes), &n.Classes); err != nil {
		return nil, fmt.Errorf("node %s classes: %w", n.Name, err)
	}
	if err := json.Unmarshal([]byte(facts), &n.Facts); err != nil {
		return nil, fmt.Errorf("node %s facts: %w", n.Name, err)
	}
	if err := json.Unmarshal([]byte(agents), &n.Agents); err != nil {
		return nil, fmt.Errorf("node %s agents: %w", n.Name, err)
	}
	n.Roles = translators.RoleTags(n.Classes)
	if n.Roles == nil {
		n.Roles = []string{}
	}
	if lastSeen > 0 {
		t := time.UnixMilli(lastSeen).UTC()
		n.LastSeen = &t
	}
	n.CreatedAt = time.UnixMilli(created).UTC()
	n.Health = translators.SeverityOK
	if translators.Severity(health).Valid() {
		n.Health = translators.Severity(health)
	}
	if w := translators.Severity(worst); w.Rank() > n.Health.Rank() {
		n.Health = w
	}
	return &n, nil
}

// Get returns the node with the given handle or alias, with its aliases,
// or an ENOTFOUND error.
func (s *Store) Get(ctx context.Context, name string) (*Node, error) {
	name = feed.NormalizeName(name)
	n, err := scanNode(s.DB.SQL().QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes n
		WHERE n.name = ? OR n.id = (SELECT node_id FROM node_aliases WHERE alias = ?)
		ORDER BY n.name = ? DESC LIMIT 1`, name, name, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, feed.Errorf(feed.ENOTFOUND, "no server named %q", name)
	} else if err != nil {
		return nil, fmt.Errorf("get node %q: %w", name, err)
	}
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT alias FROM node_aliases WHERE node_id = ? ORDER BY alias`, n.ID)
	if err != nil {
		return nil, fmt.Errorf("node aliases: %w", err)
	}
	defer rows.Close()
	n.Aliases = []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		n.Aliases = append(n.Aliases, a)
	}
	return n, rows.Err()
}

// ListOptions filter List.
type ListOptions struct {
	// Datacenter, when set, keeps the nodes of one datacenter.
	Datacenter string
	// Role, when set, keeps the nodes with that role tag.
	Role string
}

// List returns every node, by name. Aliases are not filled in.
func (s *Store) List(ctx context.Context, opt ListOptions) ([]*Node, error) {
	q := `SELECT ` + nodeColumns + ` FROM nodes n WHERE 1=1`
	var args []any
	if opt.Datacenter != "" {
		q += ` AND n.datacenter = ?`
		args = append(args, opt.Datacenter)
	}
	q += ` ORDER BY n.name`
	rows, err := s.DB.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer rows.Close()
	var out []*Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		if opt.Role != "" && !contains(n.Roles, opt.Role) {
			continue
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Profile holds the fields an administrator (or a nodes file) sets. A nil
// field is left as it is.
type Profile struct {
	DisplayName *string        `json:"display_name,omitempty" yaml:"display_name,omitempty"`
	Bio         *string        `json:"bio,omitempty" yaml:"bio,omitempty"`
	Contact     *string        `json:"contact,omitempty" yaml:"contact,omitempty"`
	Location    *Location      `json:"location,omitempty" yaml:"location,omitempty"`
	Classes     []string       `json:"classes,omitempty" yaml:"classes,omitempty"`
	Facts       map[string]any `json:"facts,omitempty" yaml:"facts,omitempty"`
	Aliases     []string       `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	// Agents are the RPC agents the server runs, from its registration.
	Agents []string `json:"agents,omitempty" yaml:"agents,omitempty"`
	// Seen, when set, moves the node's last-seen time forward to it.
	Seen *time.Time `json:"-" yaml:"-"`
}

// Validate checks a profile's fields.
func (p *Profile) Validate() error {
	if p.DisplayName != nil && len(*p.DisplayName) > 255 {
		return feed.Errorf(feed.EINVALID, "display name longer than 255 characters")
	}
	if p.Bio != nil && len([]rune(*p.Bio)) > 500 {
		return feed.Errorf(feed.EINVALID, "bio longer than 500 characters")
	}
	if p.Contact != nil && *p.Contact != "" {
		if _, err := mail.ParseAddress(*p.Contact); err != nil {
			return feed.Errorf(feed.EINVALID, "contact %q is not an e-mail address", *p.Contact)
		}
	}
	if l := p.Location; l != nil {
		if (l.Latitude == nil) != (l.Longitude == nil) {
			return feed.Errorf(feed.EINVALID, "location needs both latitude and longitude")
		}
		if l.Latitude != nil && (*l.Latitude < -90 || *l.Latitude > 90 || *l.Longitude < -180 || *l.Longitude > 180) {
			return feed.Errorf(feed.EINVALID, "location %v, %v is not on Earth", *l.Latitude, *l.Longitude)
		}
	}
	return nil
}

// Upsert creates the node called name if there is none, then applies the
// profile's non-nil fields, in one transaction.
func (s *Store) Upsert(ctx context.Context, name string, p Profile) (*Node, error) {
	name = feed.NormalizeName(name)
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := s.upsertTx(ctx, tx, name, p); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.Get(ctx, name)
}

// validName checks a normalized server name.
func validName(name string) error {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, " /?#@") {
		return feed.Errorf(feed.EINVALID, "%q is not a server name", name)
	}
	return nil
}

// upsertTx is Upsert inside tx, for a name and profile already checked.
func (s *Store) upsertTx(ctx context.Context, tx *sql.Tx, name string, p Profile) error {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM nodes WHERE name = ? UNION ALL SELECT node_id FROM node_aliases WHERE alias = ? LIMIT 1`, name, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if id, _, err = feed.CreateNode(ctx, tx, name, s.DB.Now()); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("find node: %w", err)
	}
	set := func(col string, v any) error {
		_, err := tx.ExecContext(ctx, `UPDATE nodes SET `+col+` = ? WHERE id = ?`, v, id)
		return err
	}
	var errs []error
	if p.DisplayName != nil {
		errs = append(errs, set("display_name", strings.TrimSpace(*p.DisplayName)))
	}
	if p.Bio != nil {
		errs = append(errs, set("bio", strings.TrimSpace(*p.Bio)))
	}
	if p.Contact != nil {
		errs = append(errs, set("contact", strings.TrimSpace(*p.Contact)))
	}
	if l := p.Location; l != nil {
		errs = append(errs, set("datacenter", strings.TrimSpace(l.Datacenter)))
		var lat, lon any
		if l.Latitude != nil {
			lat, lon = *l.Latitude, *l.Longitude
		}
		errs = append(errs, set("latitude", lat), set("longitude", lon))
	}
	if p.Classes != nil {
		j, _ := json.Marshal(normalizeClasses(p.Classes))
		errs = append(errs, set("classes", string(j)))
	}
	if p.Facts != nil {
		j, err := json.Marshal(p.Facts)
		if err != nil {
			return feed.Errorf(feed.EINVALID, "facts are not JSON: %v", err)
		}
		errs = append(errs, set("facts", string(j)))
	}
	if p.Agents != nil {
		j, _ := json.Marshal(normalizeClasses(p.Agents))
		errs = append(errs, set("agents", string(j)))
	}
	if p.Seen != nil {
		_, err := tx.ExecContext(ctx, `UPDATE nodes SET last_seen = MAX(last_seen, ?) WHERE id = ?`, p.Seen.UnixMilli(), id)
		errs = append(errs, err)
	}
	for _, a := range p.Aliases {
		if a = feed.NormalizeName(a); a != "" {
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO node_aliases (alias, node_id) VALUES (?, ?)`, a, id)
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("update node %s: %w", name, err)
	}
	return nil
}

func normalizeClasses(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, c := range in {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// Count returns the number of nodes.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes`).Scan(&n)
	return n, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
