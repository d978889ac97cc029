package feed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"fleetfeed/translators"
)

// NormalizeName puts a node name the way aliases are stored: lower case,
// without surrounding space or a trailing dot.
func NormalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// maxAliases bounds how many names one event may give a node.
const maxAliases = 16

// resolve finds the node an event's names belong to, creating it when no
// name is known, and records the names it did not know yet as aliases.
func (b *batch) resolve(ctx context.Context, ev *translators.Event) (*nodeRef, error) {
	primary := NormalizeName(ev.Node)
	if primary == "" {
		return nil, Errorf(EINVALID, "event %s names no node", ev.ID)
	}
	if len(primary) > 255 {
		return nil, Errorf(EINVALID, "event %s: node name longer than 255 characters", ev.ID)
	}
	names := []string{primary}
	for _, a := range ev.Aliases {
		a = NormalizeName(a)
		if a == "" || len(a) > 255 || !usefulAlias(a) || containsStr(names, a) {
			continue
		}
		if len(names) == maxAliases {
			break
		}
		names = append(names, a)
	}

	var node *nodeRef
	for _, n := range names {
		if r, ok := b.nodes[n]; ok {
			node = r
			break
		}
	}
	if node == nil {
		var err error
		for _, n := range names {
			if node, err = b.lookupAlias(ctx, n); err != nil {
				return nil, err
			} else if node != nil {
				break
			}
		}
	}
	if node == nil {
		var err error
		if node, err = b.createNode(ctx, primary); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if _, ok := b.nodes[n]; ok {
			continue
		}
		// A name another node already holds stays with that node.
		if _, err := b.exec(ctx, `INSERT OR IGNORE INTO node_aliases (alias, node_id) VALUES (?, ?)`, n, node.id); err != nil {
			return nil, fmt.Errorf("add alias: %w", err)
		}
		b.nodes[n] = node
	}
	if len(ev.Classes) > 0 {
		node.mergeClasses(ev.Classes)
	}
	return node, nil
}

func (b *batch) lookupAlias(ctx context.Context, alias string) (*nodeRef, error) {
	row, err := b.queryRow(ctx, `SELECT n.id, n.name, n.classes, n.last_seen FROM node_aliases a JOIN nodes n ON n.id = a.node_id WHERE a.alias = ?`, alias)
	if err != nil {
		return nil, err
	}
	var (
		r        nodeRef
		classes  string
		lastSeen int64
	)
	switch err := row.Scan(&r.id, &r.name, &classes, &lastSeen); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up node %q: %w", alias, err)
	}
	if err := json.Unmarshal([]byte(classes), &r.classes); err != nil {
		return nil, fmt.Errorf("node %s classes: %w", r.name, err)
	}
	r.roles = translators.RoleTags(r.classes)
	// Another batch may already hold this node: share one ref per id.
	if t, ok := b.touched[r.id]; ok {
		return t, nil
	}
	return &r, nil
}

// createNode makes a node for a name no node has (see CreateNode).
func (b *batch) createNode(ctx context.Context, name string) (*nodeRef, error) {
	id, handle, err := CreateNode(ctx, b.tx, name, b.now)
	if err != nil {
		return nil, err
	}
	ref := &nodeRef{id: id, name: handle}
	for _, a := range []string{name, handle} {
		b.nodes[a] = ref
	}
	return ref, nil
}

// CreateNode makes, inside tx, a node for a name no node has yet. Its
// handle is the short host name when that is free ("web01" for
// "web01.example.com"), else the whole name; its display name is the whole
// name; both become aliases. It returns the node's id and handle.
func CreateNode(ctx context.Context, tx *sql.Tx, name string, now time.Time) (int64, string, error) {
	name = NormalizeName(name)
	handle := name
	if isHostName(name) {
		if i := strings.IndexByte(name, '.'); i > 0 {
			short := name[:i]
			var taken bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM nodes WHERE name = ?) OR EXISTS (SELECT 1 FROM node_aliases WHERE alias = ?)`,
				short, short).Scan(&taken); err != nil {
				return 0, "", fmt.Errorf("check node name: %w", err)
			}
			if !taken {
				handle = short
			}
		}
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO nodes (name, display_name, created_at) VALUES (?, ?, ?)`, handle, name, now.UnixMilli())
	if err != nil {
		if IsUniqueViolation(err) {
			return 0, "", Errorf(ECONFLICT, "server name %q is taken", handle)
		}
		return 0, "", fmt.Errorf("create node: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return 0, "", err
	}
	for _, a := range []string{name, handle} {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO node_aliases (alias, node_id) VALUES (?, ?)`, a, id); err != nil {
			return 0, "", fmt.Errorf("add alias: %w", err)
		}
	}
	return id, handle, nil
}

func (r *nodeRef) mergeClasses(classes []string) {
	seen := map[string]bool{}
	for _, c := range r.classes {
		seen[c] = true
	}
	for _, c := range classes {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && !seen[c] {
			seen[c] = true
			r.classes = append(r.classes, c)
			r.dirty = true
		}
	}
	if r.dirty {
		sort.Strings(r.classes)
		r.roles = translators.RoleTags(r.classes)
	}
}

// flushNodes writes what the batch learned about its nodes: last seen,
// health, classes.
func (b *batch) flushNodes(ctx context.Context) error {
	for _, n := range b.touched {
		var classes any
		if n.dirty {
			j, _ := json.Marshal(n.classes)
			classes = string(j)
		}
		if _, err := b.exec(ctx, `UPDATE nodes SET last_seen = MAX(last_seen, ?),
			health = CASE WHEN ? = '' THEN health ELSE ? END,
			classes = COALESCE(?, classes) WHERE id = ?`,
			n.lastSeen.UnixMilli(), string(n.health), string(n.health), classes, n.id); err != nil {
			return fmt.Errorf("update node %s: %w", n.name, err)
		}
	}
	return nil
}

// usefulAlias rejects names many machines share.
func usefulAlias(a string) bool {
	switch a {
	case "localhost", "localhost.localdomain", "127.0.0.1", "::1", "0.0.0.0", "::", "00:00:00:00:00:00", "unknown", "-":
		return false
	}
	return true
}

// isHostName reports whether s looks like a DNS name rather than an IP
// address or MAC.
func isHostName(s string) bool {
	if net.ParseIP(s) != nil {
		return false
	}
	if _, err := net.ParseMAC(s); err == nil {
		return false
	}
	return strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
