package nodes

import (
	"context"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"fleetfeed/feed"
)

// Entry is one server of a nodes file: its handle and the profile to
// apply.
type Entry struct {
	Name    string
	Profile Profile
	// Line is where the entry starts in the file, for messages.
	Line int
}

// fileEntry is an entry as a nodes file writes it.
type fileEntry struct {
	Handle      string    `yaml:"handle"`
	DisplayName *string   `yaml:"display_name"`
	Bio         *string   `yaml:"bio"`
	Contact     *string   `yaml:"contact"`
	Location    *Location `yaml:"location"`
	Aliases     []string  `yaml:"aliases"`
	Classes     []string  `yaml:"classes"`
}

// ParseNodesFile reads a nodes file, YAML or JSON (JSON is read as YAML):
// either a list of servers, each with a handle,
//
//   - handle: web01
//     display_name: Shop front end 1
//     bio: Serves the shop's pages.
//     contact: web-team@example.com
//     location: {datacenter: AMS1, latitude: 52.37, longitude: 4.90}
//     aliases: [web01.shop.example.com, 10.0.0.11]
//     classes: [roles::frontend_web]
//
// or a map from handle to the same fields. Every field but the handle is
// optional; a field left out is left as it is. It checks every entry and
// returns an EINVALID error listing each bad one by line and name.
func ParseNodesFile(data []byte) ([]Entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, feed.Errorf(feed.EINVALID, "nodes file: %v", err)
	}
	if len(doc.Content) == 0 {
		return nil, feed.Errorf(feed.EINVALID, "nodes file: it is empty")
	}
	root := doc.Content[0]
	type item struct {
		key  string
		node *yaml.Node
		line int
	}
	var items []item
	switch root.Kind {
	case yaml.SequenceNode:
		for _, n := range root.Content {
			items = append(items, item{node: n, line: n.Line})
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			items = append(items, item{key: root.Content[i].Value, node: root.Content[i+1], line: root.Content[i].Line})
		}
	default:
		return nil, feed.Errorf(feed.EINVALID, "nodes file: line %d: expected a list or a map of servers", root.Line)
	}
	var problems []string
	seen := map[string]int{}
	var out []Entry
	for i, it := range items {
		where := fmt.Sprintf("line %d (entry %d)", it.line, i+1)
		var fe fileEntry
		if err := it.node.Decode(&fe); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, yamlMsg(err)))
			continue
		}
		if it.key != "" {
			if fe.Handle != "" && feed.NormalizeName(fe.Handle) != feed.NormalizeName(it.key) {
				problems = append(problems, fmt.Sprintf("%s: key %q and handle %q differ", where, it.key, fe.Handle))
				continue
			}
			fe.Handle = it.key
		}
		name := feed.NormalizeName(fe.Handle)
		if name != "" {
			where = fmt.Sprintf("line %d (%s)", it.line, name)
		}
		if name == "" {
			problems = append(problems, fmt.Sprintf("%s: no handle", where))
			continue
		}
		if err := validName(name); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", where, feed.ErrorMessage(err)))
			continue
		}
		if first, ok := seen[name]; ok {
			problems = append(problems, fmt.Sprintf("%s: the server is also at line %d", where, first))
			continue
		}
		seen[name] = it.line
		p := Profile{DisplayName: fe.DisplayName, Bio: fe.Bio, Contact: fe.Contact, Location: fe.Location, Aliases: fe.Aliases, Classes: fe.Classes}
		if err := p.Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", where, feed.ErrorMessage(err)))
			continue
		}
		out = append(out, Entry{Name: name, Profile: p, Line: it.line})
	}
	if len(problems) > 0 {
		return nil, feed.Errorf(feed.EINVALID, "nodes file: %d bad %s:\n  %s", len(problems), plural(len(problems), "entry", "entries"),
			strings.Join(problems, "\n  "))
	}
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// yamlMsg shortens yaml's decode errors ("yaml: unmarshal errors:\n  line
// 3: cannot unmarshal …") to their lines.
func yamlMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// UpsertAll applies many profiles in one transaction: all of them or, on
// error, none. Entries are checked as Upsert checks them. It returns how
// many servers were created and how many updated.
func (s *Store) UpsertAll(ctx context.Context, entries []Entry) (created, updated int, err error) {
	for _, e := range entries {
		if err := validName(feed.NormalizeName(e.Name)); err != nil {
			return 0, 0, err
		}
		if err := e.Profile.Validate(); err != nil {
			return 0, 0, feed.Errorf(feed.EINVALID, "%s: %s", e.Name, feed.ErrorMessage(err))
		}
	}
	tx, err := s.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	for _, e := range entries {
		name := feed.NormalizeName(e.Name)
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM nodes WHERE name = ?) OR EXISTS (SELECT 1 FROM node_aliases WHERE alias = ?)`,
			name, name).Scan(&exists); err != nil {
			return 0, 0, fmt.Errorf("import %s: %w", name, err)
		}
		if err := s.upsertTx(ctx, tx, name, e.Profile); err != nil {
			return 0, 0, fmt.Errorf("import %s: %w", name, err)
		}
		if exists {
			updated++
		} else {
			created++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("import: %w", err)
	}
	return created, updated, nil
}
