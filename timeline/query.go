package timeline

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// A Query selects posts by a small boolean language over their hashtags,
// their server and their severity. Lists hold queries; search uses the
// same language plus free words.
//
//	#frontend_web AND #ams1
//	#security OR #fail
//	NOT #ok
//	(#nagios OR #icinga2) AND severity:critical AND NOT from:db01
//
// Terms:
//
//	#tag            the post carries the hashtag — or its server stands in
//	                a datacenter whose name, made a hashtag, is the tag:
//	                posts carry role tags but no datacenter tags, and
//	                #ams1 should find the servers in AMS1
//	dc:NAME         the post's server stands in that datacenter
//	from:NAME       the post is about that server (handle or alias)
//	severity:LEVEL  the post's severity: ok, info, warning, critical
//	word, "a phrase", prefix*
//	                (search only) the words appear in the post's sentence
//	                or tags, or in its server's name, display name or bio
//
// Operators, upper case: NOT binds tighter than AND, AND tighter than OR;
// parentheses group. Terms side by side are ANDed. "-term" is NOT term.
// A query that does not parse is an EINVALID error saying at which
// character and why.
type Query struct {
	text   string
	search bool
	root   qnode
}

// String is the query as written.
func (q *Query) String() string { return q.text }

// Query limits keep a query's SQL small.
const (
	maxQueryLen   = 1000
	maxQueryTerms = 64
	maxQueryDepth = 16
)

// ParseQuery parses a list's tag query: free words are not allowed.
func ParseQuery(s string) (*Query, error) { return parseQuery(s, false) }

// ParseSearch parses a search: a query that may also hold free words and
// "phrases".
func ParseSearch(s string) (*Query, error) { return parseQuery(s, true) }

// The query's syntax tree. Terms that name servers are resolved to node
// ids when the query is compiled against the database (see compile).
type qnode interface{ isQ() }

type (
	qAnd struct{ kids []qnode }
	qOr  struct{ kids []qnode }
	qNot struct{ kid qnode }
	qTag struct {
		tag   string
		nodes idSet // servers in a datacenter named like the tag
	}
	qNodes struct {
		key, name string // "from" or "dc"
		nodes     idSet
	}
	qSeverity struct{ sev translators.Severity }
	qWord     struct {
		tokens []string // a phrase of one or more tokens
		prefix bool     // the last token is a prefix
		nodes  idSet    // servers whose name or bio match
	}
)

func (qAnd) isQ()      {}
func (qOr) isQ()       {}
func (qNot) isQ()      {}
func (*qTag) isQ()     {}
func (*qNodes) isQ()   {}
func (qSeverity) isQ() {}
func (*qWord) isQ()    {}

type idSet map[int64]struct{}

// Lexer.

type tokKind int

const (
	tEOF tokKind = iota
	tTerm
	tAnd
	tOr
	tNot
	tOpen
	tClose
)

type token struct {
	kind   tokKind
	text   string // a term as written, quotes removed
	quoted bool   // the whole term was one "phrase"
	neg    bool   // written -term
	pos    int    // 1-based character position
}

func queryError(pos int, format string, args ...any) error {
	return feed.Errorf(feed.EINVALID, "query error at character %d: %s", pos, fmt.Sprintf(format, args...))
}

func lexQuery(s string) ([]token, error) {
	var toks []token
	r := []rune(s)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
			continue
		case c == '(':
			toks = append(toks, token{kind: tOpen, pos: i + 1})
			i++
			continue
		case c == ')':
			toks = append(toks, token{kind: tClose, pos: i + 1})
			i++
			continue
		}
		start := i
		t := token{kind: tTerm, pos: start + 1}
		if c == '-' && i+1 < len(r) && !unicode.IsSpace(r[i+1]) && r[i+1] != ')' && r[i+1] != '-' {
			t.neg = true
			i++
		}
		var b strings.Builder
		quotes := 0
		for i < len(r) && !unicode.IsSpace(r[i]) && r[i] != '(' && r[i] != ')' {
			if r[i] == '"' {
				open := i
				j := i + 1
				for j < len(r) && r[j] != '"' {
					j++
				}
				if j == len(r) {
					return nil, queryError(open+1, "the quote is not closed")
				}
				b.WriteString(string(r[i+1 : j]))
				quotes++
				i = j + 1
				continue
			}
			b.WriteRune(r[i])
			i++
		}
		t.text = b.String()
		t.quoted = quotes == 1 && r[start+boolInt(t.neg)] == '"' && r[i-1] == '"'
		if !t.neg && quotes == 0 {
			switch t.text {
			case "AND":
				t.kind = tAnd
			case "OR":
				t.kind = tOr
			case "NOT":
				t.kind = tNot
			}
		}
		toks = append(toks, t)
	}
	return append(toks, token{kind: tEOF, pos: len(r) + 1}), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Parser: or := and (OR and)*; and := unary ([AND] unary)*;
// unary := NOT unary | primary; primary := ( or ) | term.

type parser struct {
	toks   []token
	i      int
	search bool
	terms  int
	depth  int
}

func parseQuery(s string, search bool) (*Query, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, feed.Errorf(feed.EINVALID, "the query is empty")
	}
	if utf8.RuneCountInString(s) > maxQueryLen {
		return nil, feed.Errorf(feed.EINVALID, "the query is longer than %d characters", maxQueryLen)
	}
	toks, err := lexQuery(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, search: search}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tClose {
			return nil, queryError(t.pos, "this ) closes no (")
		}
		return nil, queryError(t.pos, "unexpected %s", describe(t))
	}
	return &Query{text: s, search: search, root: root}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of the query"
	case tAnd:
		return "AND"
	case tOr:
		return "OR"
	case tNot:
		return "NOT"
	case tOpen:
		return "("
	case tClose:
		return ")"
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) or() (qnode, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []qnode{first}
	for p.peek().kind == tOr {
		op := p.next()
		if !p.startsUnary() {
			return nil, queryError(op.pos, "OR needs a term after it, not %s", describe(p.peek()))
		}
		k, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return qOr{kids}, nil
}

func (p *parser) startsUnary() bool {
	switch p.peek().kind {
	case tTerm, tNot, tOpen:
		return true
	}
	return false
}

func (p *parser) and() (qnode, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []qnode{first}
	for {
		if t := p.peek(); t.kind == tAnd {
			p.next()
			if !p.startsUnary() {
				return nil, queryError(t.pos, "AND needs a term after it, not %s", describe(p.peek()))
			}
		} else if !p.startsUnary() {
			break
		}
		k, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return qAnd{kids}, nil
}

func (p *parser) unary() (qnode, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		if !p.startsUnary() {
			return nil, queryError(t.pos, "NOT needs a term after it, not %s", describe(p.peek()))
		}
		k, err := p.unary()
		if err != nil {
			return nil, err
		}
		return qNot{k}, nil
	}
	return p.primary()
}

func (p *parser) primary() (qnode, error) {
	t := p.next()
	switch t.kind {
	case tOpen:
		if p.depth++; p.depth > maxQueryDepth {
			return nil, queryError(t.pos, "parentheses nest deeper than %d", maxQueryDepth)
		}
		if p.peek().kind == tClose {
			return nil, queryError(t.pos, "the parentheses hold nothing")
		}
		k, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tClose {
			return nil, queryError(t.pos, "this ( is not closed (found %s)", describe(c))
		}
		p.depth--
		return k, nil
	case tTerm:
		if p.terms++; p.terms > maxQueryTerms {
			return nil, queryError(t.pos, "more than %d terms", maxQueryTerms)
		}
		k, err := p.term(t)
		if err != nil {
			return nil, err
		}
		if t.neg {
			return qNot{k}, nil
		}
		return k, nil
	case tClose:
		return nil, queryError(t.pos, "this ) closes no (")
	case tEOF:
		return nil, queryError(t.pos, "the query ends where a term was expected")
	}
	return nil, queryError(t.pos, "%s needs a term before it", describe(t))
}

func (p *parser) term(t token) (qnode, error) {
	pos := t.pos + boolInt(t.neg)
	s := t.text
	if !t.quoted {
		if strings.HasPrefix(s, "#") {
			tag := translators.Tag(s)
			if tag == "" {
				return nil, queryError(pos, "%q is not a hashtag", s)
			}
			return &qTag{tag: tag}, nil
		}
		if i := strings.IndexByte(s, ':'); i > 0 && isKey(s[:i]) {
			key, val := strings.ToLower(s[:i]), strings.TrimSpace(s[i+1:])
			if val == "" {
				return nil, queryError(pos, "%s: needs a value", key)
			}
			switch key {
			case "from":
				return &qNodes{key: key, name: feed.NormalizeName(val)}, nil
			case "dc":
				if translators.Tag(val) == "" {
					return nil, queryError(pos, "%q is not a datacenter name", val)
				}
				return &qNodes{key: key, name: val}, nil
			case "severity":
				sev := translators.Severity(strings.ToLower(val))
				if !sev.Valid() {
					return nil, queryError(pos, "severity %q: use ok, info, warning or critical", val)
				}
				return qSeverity{sev}, nil
			}
			return nil, queryError(pos, "unknown term %q: use #tag, from:, dc: or severity:", s[:i+1])
		}
	}
	if !p.search {
		return nil, queryError(pos, "%q is a free word: a list query is made of #tags, from:, dc: and severity: terms joined by AND, OR, NOT", s)
	}
	w := &qWord{}
	if !t.quoted && strings.HasSuffix(s, "*") {
		w.prefix = true
		s = strings.TrimSuffix(s, "*")
	}
	w.tokens = wordTokens(s)
	if len(w.tokens) == 0 {
		return nil, queryError(pos, "%q has no letters or digits to search for", t.text)
	}
	return w, nil
}

func isKey(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			if r < 'A' || r > 'Z' {
				return false
			}
		}
	}
	return true
}

// wordTokens splits s as the full-text index does (unicode61 with '_' a
// word character): lower-case runs of letters, digits and '_'.
func wordTokens(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		flush()
	}
	flush()
	return out
}

// Matching in memory, for live streams. A query must be compiled first so
// that its server terms know their node ids.

// eval reports whether the post satisfies the node; m caches the post's
// word tokens across terms.
func (m *matchPost) eval(n qnode) bool {
	switch n := n.(type) {
	case qAnd:
		for _, k := range n.kids {
			if !m.eval(k) {
				return false
			}
		}
		return true
	case qOr:
		for _, k := range n.kids {
			if m.eval(k) {
				return true
			}
		}
		return false
	case qNot:
		return !m.eval(n.kid)
	case *qTag:
		return hasTag(m.p.Tags, n.tag) || n.nodes.has(m.p.NodeID)
	case *qNodes:
		return n.nodes.has(m.p.NodeID)
	case qSeverity:
		return m.p.Severity == n.sev
	case *qWord:
		if n.nodes.has(m.p.NodeID) {
			return true
		}
		if m.text == nil {
			m.text = wordTokens(m.p.Text)
			m.tags = wordTokens(strings.Join(m.p.Tags, " "))
		}
		return hasPhrase(m.text, n.tokens, n.prefix) || hasPhrase(m.tags, n.tokens, n.prefix)
	case *qWords:
		for _, w := range n.words {
			if !m.eval(w) {
				return false
			}
		}
		return true
	}
	return false
}

type matchPost struct {
	p          *feed.Post
	text, tags []string
}

func (s idSet) has(id int64) bool {
	_, ok := s[id]
	return ok
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func hasPhrase(words, phrase []string, prefix bool) bool {
	for i := 0; i+len(phrase) <= len(words); i++ {
		ok := true
		for j, w := range phrase {
			last := j == len(phrase)-1
			if words[i+j] != w && !(last && prefix && strings.HasPrefix(words[i+j], w)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
