package rpc

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// The compound filter language ("-S"), one expression per entry of
// Filter.Compound:
//
//	expr      = term { ("or" | "||") term }
//	term      = factor { ("and" | "&&") factor }
//	factor    = ("not" | "!") factor | "(" expr ")" | statement
//	statement = fact op value                   os.family=Debian, memory.total_bytes>=8e9, kernel=/^lin/
//	          | "fact" "(" name ")" op value     fact("has space")=x
//	          | "identity" "(" pattern ")"       identity(/^web\d+/)
//	          | "class" "(" pattern ")"          class(roles::frontend_web)
//	          | "agent" "(" pattern ")"          agent(puppet)
//	          | pattern                          a class, as in MCollective: roles::db or /^roles::/
//	op        = "==" | "=" | "!=" | "<" | ">" | "<=" | ">=" | "=~" | "=>" | "=<"
//	value     = word | "quoted string" | 'quoted string' | /regex/
//	pattern   = word | quoted string | /regex/
//
// Keywords are case-insensitive. A statement means what the matching
// Filter part means (FactFilter for facts, case-insensitive literals or
// unanchored regular expressions for names). "fact=/re/" is "fact=~re".

// CompoundError is a syntax error in a compound filter: Column (counted
// in characters from 1) says where, Msg what was expected.
type CompoundError struct {
	Expr   string
	Column int
	Msg    string
}

// Error returns "at column N: msg".
func (e *CompoundError) Error() string { return fmt.Sprintf("at column %d: %s", e.Column, e.Msg) }

// Compound is a parsed compound filter expression.
type Compound struct {
	src  string
	root node
}

// String returns the expression as it was written.
func (c *Compound) String() string { return c.src }

// Match reports whether the node described by inv satisfies c.
func (c *Compound) Match(inv Inventory) bool { return c.root.eval(inv) }

// ParseCompound parses a compound filter expression. A syntax error is a
// *CompoundError wrapped with ErrMalformed.
func ParseCompound(s string) (*Compound, error) {
	p := &parser{src: s}
	if err := p.lex(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrMalformed)
	}
	if len(p.toks) == 1 {
		return nil, fmt.Errorf("%w: %w", p.errAt(p.toks[0], "empty expression"), ErrMalformed)
	}
	root, err := p.expr()
	if err == nil && p.peek().kind != tEOF {
		t := p.peek()
		if t.kind == tRParen {
			err = p.errAt(t, "')' without a matching '('")
		} else {
			err = p.errAt(t, fmt.Sprintf("expected 'and', 'or' or the end of the expression, found %s", t.describe()))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrMalformed)
	}
	return &Compound{src: s, root: root}, nil
}

// compounds caches parsed expressions: an agent evaluates the same
// expression for every broadcast it receives.
var compounds = struct {
	sync.Mutex
	m map[string]*Compound
}{m: map[string]*Compound{}}

func cachedCompound(s string) (*Compound, error) {
	compounds.Lock()
	c, ok := compounds.m[s]
	compounds.Unlock()
	if ok {
		return c, nil
	}
	c, err := ParseCompound(s)
	if err != nil {
		return nil, err
	}
	compounds.Lock()
	if len(compounds.m) >= maxCachedRegexps {
		clear(compounds.m)
	}
	compounds.m[s] = c
	compounds.Unlock()
	return c, nil
}

// The syntax tree.
type node interface{ eval(Inventory) bool }

type (
	orNode   struct{ a, b node }
	andNode  struct{ a, b node }
	notNode  struct{ a node }
	factNode struct{ ff FactFilter }
	nameNode struct {
		part    string // identity, class or agent
		pattern string
	}
)

func (n orNode) eval(inv Inventory) bool   { return n.a.eval(inv) || n.b.eval(inv) }
func (n andNode) eval(inv Inventory) bool  { return n.a.eval(inv) && n.b.eval(inv) }
func (n notNode) eval(inv Inventory) bool  { return !n.a.eval(inv) }
func (n factNode) eval(inv Inventory) bool { return n.ff.Match(inv.Facts) }
func (n nameNode) eval(inv Inventory) bool {
	switch n.part {
	case "identity":
		return matchPattern(n.pattern, inv.Identity, true)
	case "agent":
		return anyMatch(n.pattern, inv.Agents)
	}
	return anyMatch(n.pattern, inv.Classes)
}

// Tokens.
type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tOp
	tWord
	tString
	tRegex
)

type token struct {
	kind tokKind
	text string // operator, word, string contents, or regex with slashes
	pos  int    // byte offset
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString:
		return fmt.Sprintf("%q", t.text)
	}
	return "'" + t.text + "'"
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) column(pos int) int { return utf8.RuneCountInString(p.src[:pos]) + 1 }

func (p *parser) errAt(t token, msg string) error {
	return &CompoundError{Expr: p.src, Column: p.column(t.pos), Msg: msg}
}

func isWordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '(', ')', '=', '!', '<', '>', '~', '"', '\'', '&', '|':
		return false
	}
	return true
}

func (p *parser) lex() error {
	s := p.src
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) {
			p.toks = append(p.toks, token{kind: tEOF, pos: i})
			return nil
		}
		start := i
		c := s[i]
		switch {
		case c == '(':
			p.toks = append(p.toks, token{tLParen, "(", i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{tRParen, ")", i})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			p.toks = append(p.toks, token{tAnd, "&&", i})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			p.toks = append(p.toks, token{tOr, "||", i})
			i += 2
		case c == '!' && !strings.HasPrefix(s[i:], "!="):
			p.toks = append(p.toks, token{tNot, "!", i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>' || c == '~':
			op := string(c)
			if i+1 < len(s) && strings.Contains("=~<>", string(s[i+1])) {
				two := s[i : i+2]
				switch two {
				case "==", "!=", "<=", ">=", "=~", "=>", "=<":
					op = two
				}
			}
			if op == "~" {
				return &CompoundError{Expr: s, Column: p.column(i), Msg: "'~' is not an operator; did you mean '=~'?"}
			}
			p.toks = append(p.toks, token{tOp, op, i})
			i += len(op)
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return &CompoundError{Expr: s, Column: p.column(start), Msg: fmt.Sprintf("unterminated string: no closing %c", c)}
			}
			p.toks = append(p.toks, token{tString, b.String(), start})
			i = j + 1
		case c == '/':
			j := i + 1
			for ; j < len(s) && s[j] != '/'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
			}
			if j >= len(s) {
				return &CompoundError{Expr: s, Column: p.column(start), Msg: "unterminated regular expression: no closing '/'"}
			}
			re := s[i : j+1]
			if _, err := cachedRegexp(regexBody(re), true); err != nil {
				return &CompoundError{Expr: s, Column: p.column(start), Msg: fmt.Sprintf("bad regular expression %s: %v", re, err)}
			}
			p.toks = append(p.toks, token{tRegex, re, start})
			i = j + 1
		case c == '&' || c == '|':
			return &CompoundError{Expr: s, Column: p.column(i), Msg: fmt.Sprintf("'%c' is not an operator; use 'and' or 'or'", c)}
		default:
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
			w := s[start:i]
			kind := tWord
			switch strings.ToLower(w) {
			case "and":
				kind = tAnd
			case "or":
				kind = tOr
			case "not":
				kind = tNot
			}
			p.toks = append(p.toks, token{kind, w, start})
		}
	}
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expr() (node, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = orNode{left, right}
	}
	return left, nil
}

func (p *parser) term() (node, error) {
	left, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		p.next()
		right, err := p.factor()
		if err != nil {
			return nil, err
		}
		left = andNode{left, right}
	}
	return left, nil
}

func (p *parser) factor() (node, error) {
	t := p.next()
	switch t.kind {
	case tNot:
		a, err := p.factor()
		if err != nil {
			return nil, err
		}
		return notNode{a}, nil
	case tLParen:
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, fmt.Sprintf("expected ')' to close the '(' at column %d, found %s", p.column(t.pos), c.describe()))
		}
		return e, nil
	case tWord, tString, tRegex:
		return p.statement(t)
	}
	return nil, p.errAt(t, fmt.Sprintf("expected a fact comparison, a class, identity(…), agent(…), 'not' or '(', found %s", t.describe()))
}

// statement parses what starts with t: a function form, a fact
// comparison or a class.
func (p *parser) statement(t token) (node, error) {
	if t.kind == tWord && p.peek().kind == tLParen {
		fn := strings.ToLower(t.text)
		switch fn {
		case "identity", "class", "agent", "fact":
		default:
			return nil, p.errAt(t, fmt.Sprintf("unknown function %q: want identity(…), class(…), agent(…) or fact(…)", t.text))
		}
		open := p.next()
		arg := p.next()
		if arg.kind != tWord && arg.kind != tString && !(arg.kind == tRegex && fn != "fact") {
			return nil, p.errAt(arg, fmt.Sprintf("expected a name inside %s(…), found %s", fn, arg.describe()))
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, fmt.Sprintf("expected ')' to close the '(' at column %d, found %s", p.column(open.pos), c.describe()))
		}
		if fn == "fact" {
			return p.comparison(arg)
		}
		if arg.text == "" {
			return nil, p.errAt(arg, fmt.Sprintf("%s(…) needs a name", fn))
		}
		return nameNode{part: fn, pattern: arg.text}, nil
	}
	if p.peek().kind == tOp {
		if t.kind == tRegex {
			return nil, p.errAt(t, "a fact name cannot be a regular expression")
		}
		return p.comparison(t)
	}
	if t.text == "" {
		return nil, p.errAt(t, "empty class name")
	}
	return nameNode{part: "class", pattern: t.text}, nil
}

// comparison parses "op value" after the fact name.
func (p *parser) comparison(name token) (node, error) {
	op := p.next()
	if op.kind != tOp {
		return nil, p.errAt(op, fmt.Sprintf("expected a comparison operator after fact %s, found %s", name.describe(), op.describe()))
	}
	val := p.next()
	if val.kind != tWord && val.kind != tString && val.kind != tRegex {
		return nil, p.errAt(val, fmt.Sprintf("expected a value after '%s', found %s", op.text, val.describe()))
	}
	ff := FactFilter{Fact: name.text, Operator: op.text, Value: val.text}
	switch ff.Operator {
	case "=":
		ff.Operator = "=="
	case "=>":
		ff.Operator = ">="
	case "=<":
		ff.Operator = "<="
	}
	if val.kind == tRegex {
		if ff.Operator != "==" && ff.Operator != "=~" {
			return nil, p.errAt(val, fmt.Sprintf("a regular expression can only follow '=' or '=~', not '%s'", op.text))
		}
		ff.Operator, ff.Value = "=~", regexBody(val.text)
	}
	if ff.Fact == "" {
		return nil, p.errAt(name, "empty fact name")
	}
	if err := ff.Validate(); err != nil {
		return nil, p.errAt(val, err.Error())
	}
	return factNode{ff}, nil
}
