package timeline

import (
	"path/filepath"
	"strings"
	"testing"

	"fleetfeed/feed"
)

// TestQueryPlans checks that each kind of walk reads an index in id order
// (no temporary B-tree for ORDER BY, no full scan), as EXPLAIN QUERY PLAN
// shows it.
func TestQueryPlans(t *testing.T) {
	db := feed.NewDB(filepath.Join(t.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := func(q string, args ...any) string {
		rows, err := db.SQL().Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, aux int
			var detail string
			if err := rows.Scan(&id, &parent, &aux, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "; ")
	}
	b := Page{MaxID: 1 << 40, Limit: 20}.bounds()
	var pred sqlPred
	pred.write(&qTag{tag: "critical"})
	for _, tc := range []struct {
		name, sql string
		args      []any
		want      []string
	}{
		{"server", `SELECT id FROM posts WHERE node_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, []any{1, b.hi, 20},
			[]string{"SEARCH posts USING COVERING INDEX posts_node (node_id=? AND id<?)"}},
		{"hashtag", `SELECT post_id FROM post_tags WHERE tag = ? AND post_id < ? ORDER BY post_id DESC LIMIT ?`, []any{"x", b.hi, 20},
			[]string{"SEARCH post_tags USING PRIMARY KEY (tag=? AND post_id<?)"}},
		{"query by tag", `SELECT t.post_id FROM post_tags t CROSS JOIN posts p ON p.id = t.post_id WHERE t.tag = ? AND t.post_id < ? AND ` +
			pred.b.String() + ` ORDER BY t.post_id DESC LIMIT ?`, []any{"x", b.hi, "critical", 20},
			[]string{"SEARCH t USING PRIMARY KEY (tag=? AND post_id<?)", "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)"}},
		{"words", `SELECT posts_fts.docid FROM posts_fts CROSS JOIN posts p ON p.id = posts_fts.docid WHERE posts_fts MATCH ? AND posts_fts.docid < ? ORDER BY posts_fts.docid DESC LIMIT ?`,
			[]any{`"disk"`, b.hi, 20}, []string{"SCAN posts_fts VIRTUAL TABLE INDEX", ":DESC", "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)"}},
		{"scan", `SELECT p.id FROM posts p WHERE 1 AND p.id < ? AND p.severity = ? ORDER BY p.id DESC LIMIT ?`, []any{b.hi, "ok", 20},
			[]string{"SEARCH p USING INTEGER PRIMARY KEY (rowid<?)"}},
		{"newest per server", `WITH t AS MATERIALIZED (SELECT (SELECT MAX(id) FROM posts WHERE node_id = j.value AND id < ?) AS m FROM json_each(?) j)
			SELECT m FROM t WHERE m IS NOT NULL ORDER BY m DESC LIMIT ?`,
			[]any{b.hi, "[1,2]", 20}, []string{"SEARCH posts USING COVERING INDEX posts_node (node_id=? AND id<?)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan(tc.sql, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("plan lacks %q:\n%s", w, got)
				}
			}
			if strings.Count(got, "CORRELATED SCALAR SUBQUERY") > 1 {
				t.Errorf("the subquery runs twice a row:\n%s", got)
			}
			if tc.name != "newest per server" && strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("plan sorts:\n%s", got)
			}
			t.Log(got)
		})
	}
}
