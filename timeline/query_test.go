package timeline

import (
	"strings"
	"testing"

	"fleetfeed/feed"
)

// show prints a syntax tree in a fully parenthesized form.
func show(n qnode) string {
	switch n := n.(type) {
	case qAnd:
		return "(" + join(n.kids, " AND ") + ")"
	case qOr:
		return "(" + join(n.kids, " OR ") + ")"
	case qNot:
		return "NOT " + show(n.kid)
	case *qTag:
		return "#" + n.tag
	case *qNodes:
		return n.key + ":" + n.name
	case qSeverity:
		return "severity:" + string(n.sev)
	case *qWord:
		s := `"` + strings.Join(n.tokens, " ") + `"`
		if n.prefix {
			s += "*"
		}
		return s
	}
	return "?"
}

func join(kids []qnode, sep string) string {
	parts := make([]string, len(kids))
	for i, k := range kids {
		parts[i] = show(k)
	}
	return strings.Join(parts, sep)
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"#frontend_web AND #ams1", "(#frontend_web AND #ams1)"},
		{"#security OR #fail", "(#security OR #fail)"},
		{"NOT #ok", "NOT #ok"},
		{"#a OR #b AND #c", "(#a OR (#b AND #c))"},
		{"#a AND #b OR #c", "((#a AND #b) OR #c)"},
		{"NOT #a AND #b", "(NOT #a AND #b)"},
		{"NOT (#a OR #b)", "NOT (#a OR #b)"},
		{"(#a OR #b) #c", "((#a OR #b) AND #c)"},
		{"#Frontend-Web", "#frontend_web"},
		{"-#ok #nagios", "(NOT #ok AND #nagios)"},
		{"from:WEB01.example.com. severity:CRITICAL", "(from:web01.example.com AND severity:critical)"},
		{`dc:"AMS 1"`, "dc:AMS 1"},
		{"NOT NOT #a", "NOT NOT #a"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			q, err := ParseQuery(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(q.root); got != tc.want {
				t.Fatalf("parse = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseSearch(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"disk space", `("disk" AND "space")`},
		{`"disk space" low*`, `("disk space" AND "low"*)`},
		{"from:web01 #critical load", `(from:web01 AND #critical AND "load")`},
		{"Web01.Example.COM", `"web01 example com"`},
		{`"AND"`, `"and"`},
		{"not working", `("not" AND "working")`},
		{"disk -ok", `("disk" AND NOT "ok")`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			q, err := ParseSearch(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(q.root); got != tc.want {
				t.Fatalf("parse = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		search bool
		want   string
	}{
		{"", false, "the query is empty"},
		{"#a AND", false, "query error at character 4: AND needs a term after it, not end of the query"},
		{"#a OR OR #b", false, "query error at character 4: OR needs a term after it, not OR"},
		{"OR #a", false, "query error at character 1: OR needs a term before it"},
		{"(#a OR #b", false, "query error at character 1: this ( is not closed (found end of the query)"},
		{"#a)", false, "query error at character 3: this ) closes no ("},
		{"()", false, "query error at character 1: the parentheses hold nothing"},
		{"NOT", false, "query error at character 1: NOT needs a term after it, not end of the query"},
		{"#", false, `query error at character 1: "#" is not a hashtag`},
		{"severity:bad", false, `query error at character 1: severity "bad": use ok, info, warning or critical`},
		{"#a sevrity:critical", false, `query error at character 4: unknown term "sevrity:": use #tag, from:, dc: or severity:`},
		{"from:", false, "query error at character 1: from: needs a value"},
		{"#a disk", false, `query error at character 4: "disk" is a free word: a list query is made of #tags, from:, dc: and severity: terms joined by AND, OR, NOT`},
		{`disk "space`, true, "query error at character 6: the quote is not closed"},
		{"disk ...", true, `query error at character 6: "..." has no letters or digits to search for`},
		{strings.Repeat("(", 20) + "#a" + strings.Repeat(")", 20), false, "query error at character 17: parentheses nest deeper than 16"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := parseQuery(tc.in, tc.search)
			if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
				t.Fatalf("code = %q (%v), want %q", got, err, want)
			}
			if got := feed.ErrorMessage(err); got != tc.want {
				t.Fatalf("message = %q\nwant      %q", got, tc.want)
			}
		})
	}
}

func TestMatchesInMemory(t *testing.T) {
	post := &feed.Post{NodeID: 7, Text: "Disk space is running low on /var", Tags: []string{"nagios", "warning", "frontend_web"}, Severity: "warning"}
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"#frontend_web AND #warning", true},
		{"#frontend_web AND NOT #warning", false},
		{"#security OR #nagios", true},
		{"NOT #ok", true},
		{"severity:warning", true},
		{"severity:critical OR (#nagios AND NOT #ok)", true},
		{"disk low", true},
		{`"space is running"`, true},
		{`"running space"`, false},
		{"run*", true},
		{"frontend_web", true},
		{"frontend", false},
		{"disk #critical", false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := ParseSearch(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			c := &Compiled{Query: q, root: mergeWords(q.root)}
			if got := c.Matches(post); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{"#a AND (b OR NOT c)", `"x y" from:z`, "-(#a)", "dc:\"a b\" severity:ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseSearch(s)
		if err != nil {
			if feed.ErrorCode(err) != feed.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		var p sqlPred
		p.write(mergeWords(q.root))
		if strings.Count(p.b.String(), "?") != len(p.args) {
			t.Fatalf("placeholders and arguments differ: %s %v", p.b.String(), p.args)
		}
	})
}
