package timeline

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// Compiled is a query resolved against the servers the database knows:
// from:, dc:, datacenter-named #tags and free words that match servers
// hold node ids. It answers Matches in memory and drives SQL timelines.
// A Compiled is immutable; servers that change datacenter or name are
// seen by the next compile.
type Compiled struct {
	Query *Query
	root  qnode
}

// Matches reports whether the post satisfies the query.
func (c *Compiled) Matches(p *feed.Post) bool {
	m := matchPost{p: p}
	return m.eval(c.root)
}

// resolver finds the node ids a query's server terms name, reading each
// table at most once per compile.
type resolver struct {
	ctx context.Context
	db  *sql.DB
	dcs map[string]idSet // by datacenter name as a tag
}

// Compile resolves a parsed query against the database.
func (r *Reader) Compile(ctx context.Context, q *Query) (*Compiled, error) {
	res := &resolver{ctx: ctx, db: r.DB.SQL()}
	root, err := res.resolve(q.root)
	if err != nil {
		return nil, fmt.Errorf("compile query: %w", err)
	}
	return &Compiled{Query: q, root: mergeWords(root)}, nil
}

func (res *resolver) datacenters() (map[string]idSet, error) {
	if res.dcs != nil {
		return res.dcs, nil
	}
	rows, err := res.db.QueryContext(res.ctx, `SELECT id, datacenter FROM nodes WHERE datacenter != ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res.dcs = map[string]idSet{}
	for rows.Next() {
		var (
			id int64
			dc string
		)
		if err := rows.Scan(&id, &dc); err != nil {
			return nil, err
		}
		t := translators.Tag(dc)
		if res.dcs[t] == nil {
			res.dcs[t] = idSet{}
		}
		res.dcs[t][id] = struct{}{}
	}
	return res.dcs, rows.Err()
}

func (res *resolver) ids(query string, args ...any) (idSet, error) {
	rows, err := res.db.QueryContext(res.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := idSet{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		set[id] = struct{}{}
	}
	return set, rows.Err()
}

func (res *resolver) resolve(n qnode) (qnode, error) {
	switch n := n.(type) {
	case qAnd:
		kids, err := res.resolveAll(n.kids)
		return qAnd{kids}, err
	case qOr:
		kids, err := res.resolveAll(n.kids)
		return qOr{kids}, err
	case qNot:
		k, err := res.resolve(n.kid)
		return qNot{k}, err
	case *qTag:
		dcs, err := res.datacenters()
		if err != nil {
			return nil, err
		}
		return &qTag{tag: n.tag, nodes: dcs[n.tag]}, nil
	case *qNodes:
		var set idSet
		var err error
		if n.key == "dc" {
			var dcs map[string]idSet
			dcs, err = res.datacenters()
			set = dcs[translators.Tag(n.name)]
		} else {
			set, err = res.ids(`SELECT id FROM nodes WHERE name = ? UNION SELECT node_id FROM node_aliases WHERE alias = ?`, n.name, n.name)
		}
		if err != nil {
			return nil, err
		}
		return &qNodes{key: n.key, name: n.name, nodes: set}, nil
	case *qWord:
		set, err := res.ids(`SELECT docid FROM nodes_fts WHERE nodes_fts MATCH ?`, ftsPhrase(n))
		if err != nil {
			return nil, err
		}
		return &qWord{tokens: n.tokens, prefix: n.prefix, nodes: set}, nil
	}
	return n, nil
}

func (res *resolver) resolveAll(in []qnode) ([]qnode, error) {
	out := make([]qnode, len(in))
	for i, k := range in {
		var err error
		if out[i], err = res.resolve(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mergeWords joins the free words of an AND that match no server into one
// full-text term, so that "disk space low" is one index lookup.
func mergeWords(n qnode) qnode {
	switch n := n.(type) {
	case qAnd:
		var kids []qnode
		var words []*qWord
		for _, k := range n.kids {
			k = mergeWords(k)
			if w, ok := k.(*qWord); ok && len(w.nodes) == 0 {
				words = append(words, w)
				continue
			}
			kids = append(kids, k)
		}
		if len(words) == 1 {
			kids = append(kids, words[0])
		} else if len(words) > 1 {
			kids = append(kids, &qWords{words: words})
		}
		if len(kids) == 1 {
			return kids[0]
		}
		return qAnd{kids}
	case qOr:
		kids := make([]qnode, len(n.kids))
		for i, k := range n.kids {
			kids[i] = mergeWords(k)
		}
		return qOr{kids}
	case qNot:
		return qNot{mergeWords(n.kid)}
	}
	return n
}

// qWords is every one of several free words, none of which names a server.
type qWords struct{ words []*qWord }

func (*qWords) isQ() {}

// ftsPhrase writes a word term in FTS4 syntax. Tokens hold only letters,
// digits and '_', so quoting them is safe; quotes also keep AND, OR and
// NOT from being read as operators.
func ftsPhrase(w *qWord) string {
	s := `"` + strings.Join(w.tokens, " ")
	if w.prefix {
		s += "*"
	}
	return s + `"`
}

func ftsMatch(n qnode) string {
	switch n := n.(type) {
	case *qWord:
		return ftsPhrase(n)
	case *qWords:
		parts := make([]string, len(n.words))
		for i, w := range n.words {
			parts[i] = ftsPhrase(w)
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// SQL: a predicate over posts p.

type sqlPred struct {
	b    strings.Builder
	args []any
}

func (s *sqlPred) nodeIn(set idSet) {
	if len(set) == 0 {
		s.b.WriteString("0")
		return
	}
	s.b.WriteString("p.node_id IN (")
	s.b.WriteString(idList(set))
	s.b.WriteString(")")
}

func idList(set idSet) string {
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func (s *sqlPred) write(n qnode) {
	switch n := n.(type) {
	case qAnd, qOr:
		kids, op := []qnode(nil), " AND "
		if a, ok := n.(qAnd); ok {
			kids = a.kids
		} else {
			kids, op = n.(qOr).kids, " OR "
		}
		s.b.WriteString("(")
		for i, k := range kids {
			if i > 0 {
				s.b.WriteString(op)
			}
			s.write(k)
		}
		s.b.WriteString(")")
	case qNot:
		s.b.WriteString("NOT ")
		s.write(n.kid)
	case *qTag:
		s.b.WriteString("(EXISTS (SELECT 1 FROM post_tags WHERE tag = ? AND post_id = p.id)")
		s.args = append(s.args, n.tag)
		if len(n.nodes) > 0 {
			s.b.WriteString(" OR ")
			s.nodeIn(n.nodes)
		}
		s.b.WriteString(")")
	case *qNodes:
		s.nodeIn(n.nodes)
	case qSeverity:
		s.b.WriteString("p.severity = ?")
		s.args = append(s.args, string(n.sev))
	case *qWord, *qWords:
		s.b.WriteString("(p.id IN (SELECT docid FROM posts_fts WHERE posts_fts MATCH ?)")
		s.args = append(s.args, ftsMatch(n))
		if w, ok := n.(*qWord); ok && len(w.nodes) > 0 {
			s.b.WriteString(" OR ")
			s.nodeIn(w.nodes)
		}
		s.b.WriteString(")")
	default:
		s.b.WriteString("0")
	}
}

// Drivers: where a query's candidate posts come from, walked newest first
// through an index so that a page stops after limit matches.

type driverKind int

const (
	driveTag driverKind = iota
	driveNodes
	driveFTS
)

type driver struct {
	kind  driverKind
	tag   string
	nodes idSet
	match string
}

// cost orders drivers for an AND: fewer candidates first, roughly.
func (d driver) cost() int {
	switch d.kind {
	case driveNodes:
		if len(d.nodes) <= maxNodeWalks {
			return 1
		}
		return 4
	case driveFTS:
		return 2
	}
	return 3
}

// drivers returns the sources whose union holds every post the node
// matches; ok is false when there is no such bound (NOT, severity) and the
// posts must be scanned.
func drivers(n qnode) (ds []driver, ok bool) {
	switch n := n.(type) {
	case *qTag:
		ds = []driver{{kind: driveTag, tag: n.tag}}
		if len(n.nodes) > 0 {
			ds = append(ds, driver{kind: driveNodes, nodes: n.nodes})
		}
		return ds, true
	case *qNodes:
		if len(n.nodes) == 0 {
			return nil, true
		}
		return []driver{{kind: driveNodes, nodes: n.nodes}}, true
	case *qWord, *qWords:
		ds = []driver{{kind: driveFTS, match: ftsMatch(n)}}
		if w, ok := n.(*qWord); ok && len(w.nodes) > 0 {
			ds = append(ds, driver{kind: driveNodes, nodes: w.nodes})
		}
		return ds, true
	case qOr:
		for _, k := range n.kids {
			kd, ok := drivers(k)
			if !ok {
				return nil, false
			}
			ds = append(ds, kd...)
		}
		return ds, true
	case qAnd:
		best, bestCost := []driver(nil), -1
		for _, k := range n.kids {
			kd, ok := drivers(k)
			if !ok {
				continue
			}
			c := 0
			for _, d := range kd {
				c += d.cost()
			}
			if bestCost < 0 || c < bestCost {
				best, bestCost = kd, c
			}
		}
		return best, bestCost >= 0
	}
	return nil, false
}
