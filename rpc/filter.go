package rpc

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Filter selects nodes. Each non-empty part must match (AND); within the
// identity part one entry is enough (OR), within the others every entry
// must match (AND), as in MCollective. The empty or nil filter matches
// every node.
//
// Names and values are literal, or a regular expression between slashes
// ("/^web\d+/", unanchored unless the expression anchors itself). "*" alone
// matches anything. Filters are for targeting, not security, and compare
// case-insensitively: literals with Unicode case folding, regular
// expressions with (?i).
type Filter struct {
	// Identity lists node identities; a node matches if any entry does.
	Identity []string `json:"identity,omitempty"`
	// Fact lists fact comparisons; a node matches if all do.
	Fact []FactFilter `json:"fact,omitempty"`
	// Class lists configuration-management classes (Puppet's
	// classes.txt); a node matches if it has a class matching each entry.
	Class []string `json:"class,omitempty"`
	// Agent lists agent plugins; a node matches if it has one matching
	// each entry.
	Agent []string `json:"agent,omitempty"`
	// Compound lists expressions of the compound filter language ("-S",
	// see ParseCompound); a node matches if all do. A node that cannot
	// parse an expression matches none, so a newer client never reaches
	// more nodes than it meant to.
	Compound []string `json:"compound,omitempty"`
}

// FactFilter compares one fact with a value.
//
// Fact is a fact name, or a dotted path into nested facts
// ("os.release.major", "networking.interfaces.eth0.ip"; a list is indexed
// by number); a key that itself contains dots ("networking.fqdn" as one
// flat key) is found too.
//
// Operator is one of == != < > <= >= =~. With ==, !=, <, >, <= and >= two
// numbers (including numeric strings) compare numerically, anything else as
// strings (== and != ignoring case). =~ matches a regular expression,
// written with or without slashes. A fact that is a list matches if any
// element matches (for != if no element equals the value); a map matches on
// its keys. A missing fact matches nothing, not even !=.
type FactFilter struct {
	Fact     string `json:"fact"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// Inventory is what a node is, as filters and policies see it.
type Inventory struct {
	Identity string
	Facts    map[string]any
	Classes  []string
	Agents   []string
}

// Empty reports whether f matches every node.
func (f *Filter) Empty() bool {
	return f == nil || len(f.Identity)+len(f.Fact)+len(f.Class)+len(f.Agent)+len(f.Compound) == 0
}

// Match reports whether the node described by inv matches f.
func (f *Filter) Match(inv Inventory) bool {
	if f.Empty() {
		return true
	}
	if len(f.Identity) > 0 && !f.NamesIdentity(inv.Identity) {
		return false
	}
	for _, ff := range f.Fact {
		if !ff.Match(inv.Facts) {
			return false
		}
	}
	for _, c := range f.Class {
		if !anyMatch(c, inv.Classes) {
			return false
		}
	}
	for _, a := range f.Agent {
		if !anyMatch(a, inv.Agents) {
			return false
		}
	}
	for _, expr := range f.Compound {
		c, err := cachedCompound(expr)
		if err != nil || !c.Match(inv) {
			return false
		}
	}
	return true
}

// NamesIdentity reports whether f's identity part names identity. A
// filter with no identity entries names no node: an agent requires this
// of a direct request, so that a request cannot be redirected to a node
// its sender did not address.
func (f *Filter) NamesIdentity(identity string) bool {
	if f == nil {
		return false
	}
	for _, p := range f.Identity {
		if matchPattern(p, identity, true) {
			return true
		}
	}
	return false
}

// Identities returns the identity entries if f is nothing but literal
// identities; then a client can address those nodes directly without
// discovering them first.
func (f *Filter) Identities() ([]string, bool) {
	if f == nil || len(f.Identity) == 0 || len(f.Fact)+len(f.Class)+len(f.Agent)+len(f.Compound) > 0 {
		return nil, false
	}
	for _, id := range f.Identity {
		if isRegexPattern(id) || id == "*" {
			return nil, false
		}
	}
	return f.Identity, true
}

// Validate checks operators and compiles regular expressions. It returns
// an error wrapping ErrMalformed.
func (f *Filter) Validate() error {
	if f == nil {
		return nil
	}
	for _, group := range []struct {
		name string
		ps   []string
	}{{"identity", f.Identity}, {"class", f.Class}, {"agent", f.Agent}} {
		for _, p := range group.ps {
			if p == "" {
				return fmt.Errorf("filter %s: empty entry: %w", group.name, ErrMalformed)
			}
			if _, err := compilePattern(p); err != nil {
				return fmt.Errorf("filter %s: %w: %w", group.name, err, ErrMalformed)
			}
		}
	}
	for _, ff := range f.Fact {
		if err := ff.Validate(); err != nil {
			return fmt.Errorf("filter: %w", err)
		}
	}
	for _, expr := range f.Compound {
		if _, err := cachedCompound(expr); err != nil {
			return fmt.Errorf("filter compound %q: %w", expr, err)
		}
	}
	return nil
}

// ParseFactFilter parses "fact<op>value" as MCollective's -F does:
// "=>" and "=<" are read as ">=" and "<="; "fact=/re/" means =~ and
// "fact=value" means ==. Spaces around the operator are dropped.
func ParseFactFilter(s string) (FactFilter, error) {
	m := factFilterRE.FindStringSubmatch(s)
	if m == nil {
		return FactFilter{}, fmt.Errorf("fact filter %q: want fact<op>value: %w", s, ErrMalformed)
	}
	ff := FactFilter{Fact: strings.TrimSpace(m[1]), Operator: m[2], Value: strings.TrimSpace(m[3])}
	switch ff.Operator {
	case "=>":
		ff.Operator = ">="
	case "=<":
		ff.Operator = "<="
	case "=":
		ff.Operator = "=="
		if isRegexPattern(ff.Value) {
			ff.Operator = "=~"
		}
	}
	if ff.Operator == "=~" && isRegexPattern(ff.Value) {
		ff.Value = ff.Value[1 : len(ff.Value)-1]
	}
	if err := ff.Validate(); err != nil {
		return FactFilter{}, err
	}
	return ff, nil
}

var factFilterRE = regexp.MustCompile(`^\s*([^=<>!~\s][^=<>!~]*?)\s*(<=|>=|=>|=<|!=|==|=~|<|>|=)\s*(.*?)\s*$`)

// Validate checks the operator and, for =~, the expression. It returns an
// error wrapping ErrMalformed.
func (ff FactFilter) Validate() error {
	if ff.Fact == "" {
		return fmt.Errorf("fact filter: no fact name: %w", ErrMalformed)
	}
	switch ff.Operator {
	case "==", "!=", "<", ">", "<=", ">=":
	case "=~":
		if _, err := cachedRegexp(regexBody(ff.Value), true); err != nil {
			return fmt.Errorf("fact filter %s: %w: %w", ff.Fact, err, ErrMalformed)
		}
	default:
		return fmt.Errorf("fact filter %s: operator %q: %w", ff.Fact, ff.Operator, ErrMalformed)
	}
	return nil
}

// Match reports whether facts satisfy ff.
func (ff FactFilter) Match(facts map[string]any) bool {
	v, ok := LookupFact(facts, ff.Fact)
	if !ok || v == nil {
		return false
	}
	switch x := v.(type) {
	case []any:
		return matchAny(ff, len(x), func(i int) any { return x[i] })
	case []string:
		return matchAny(ff, len(x), func(i int) any { return x[i] })
	case map[string]any:
		keys := make([]any, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		return matchAny(ff, len(keys), func(i int) any { return keys[i] })
	}
	return compareFact(v, ff.Operator, ff.Value)
}

func matchAny(ff FactFilter, n int, at func(int) any) bool {
	if ff.Operator == "!=" {
		for i := 0; i < n; i++ {
			if compareFact(at(i), "==", ff.Value) {
				return false
			}
		}
		return true
	}
	for i := 0; i < n; i++ {
		if compareFact(at(i), ff.Operator, ff.Value) {
			return true
		}
	}
	return false
}

func compareFact(v any, op, want string) bool {
	s := factString(v)
	if op == "=~" {
		re, err := cachedRegexp(regexBody(want), true)
		return err == nil && re.MatchString(s)
	}
	a, aNum := factNumber(v)
	b, bNum := factNumber(want)
	if aNum && bNum {
		switch op {
		case "==":
			return a == b
		case "!=":
			return a != b
		case "<":
			return a < b
		case ">":
			return a > b
		case "<=":
			return a <= b
		case ">=":
			return a >= b
		}
		return false
	}
	switch op {
	case "==":
		return strings.EqualFold(s, want)
	case "!=":
		return !strings.EqualFold(s, want)
	case "<":
		return s < want
	case ">":
		return s > want
	case "<=":
		return s <= want
	case ">=":
		return s >= want
	}
	return false
}

// factString renders a scalar fact for string comparison.
func factString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// factNumber reads v as a number if it is one or is a string that spells
// one (not NaN or infinity).
func factNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// LookupFact finds a fact by name or dotted path. At each level a key equal
// to the whole remaining path wins (flat facts such as "networking.fqdn"),
// then the first path element is looked up and the rest followed into maps
// and, by index, lists.
func LookupFact(facts map[string]any, path string) (any, bool) {
	if facts == nil || path == "" {
		return nil, false
	}
	return lookupIn(facts, path)
}

func lookupIn(v any, path string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x[path]; ok {
			return r, true
		}
		for i := strings.IndexByte(path, '.'); i > 0; i = nextDot(path, i) {
			if next, ok := x[path[:i]]; ok {
				if r, ok := lookupIn(next, path[i+1:]); ok {
					return r, true
				}
			}
		}
	case map[string]string:
		r, ok := x[path]
		return r, ok
	case []any:
		head, rest, more := strings.Cut(path, ".")
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(x) {
			return nil, false
		}
		if !more {
			return x[i], true
		}
		return lookupIn(x[i], rest)
	case []string:
		i, err := strconv.Atoi(path)
		if err != nil || i < 0 || i >= len(x) {
			return nil, false
		}
		return x[i], true
	}
	return nil, false
}

func nextDot(path string, i int) int {
	j := strings.IndexByte(path[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func anyMatch(pattern string, names []string) bool {
	for _, n := range names {
		if matchPattern(pattern, n, true) {
			return true
		}
	}
	return false
}

func isRegexPattern(p string) bool {
	return len(p) >= 2 && p[0] == '/' && p[len(p)-1] == '/'
}

// regexBody strips the slashes around a /regex/, if any.
func regexBody(p string) string {
	if isRegexPattern(p) {
		return p[1 : len(p)-1]
	}
	return p
}

// compilePattern checks a pattern: "*", a literal, or /regex/.
func compilePattern(p string) (*regexp.Regexp, error) {
	if !isRegexPattern(p) {
		return nil, nil
	}
	return cachedRegexp(regexBody(p), false)
}

// matchPattern matches s against "*", a literal or a /regex/; fold makes
// the match case-insensitive.
func matchPattern(p, s string, fold bool) bool {
	switch {
	case p == "*":
		return true
	case isRegexPattern(p):
		re, err := cachedRegexp(regexBody(p), fold)
		return err == nil && re.MatchString(s)
	case fold:
		return strings.EqualFold(p, s)
	}
	return p == s
}

// regexps caches compiled expressions: filters are matched on every
// request by every simulated node. It is cleared when full rather than
// evicted piecemeal; compiling again is cheap.
var regexps = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

const maxCachedRegexps = 1024

func cachedRegexp(expr string, fold bool) (*regexp.Regexp, error) {
	if fold {
		expr = "(?i)" + expr
	}
	regexps.Lock()
	re, ok := regexps.m[expr]
	regexps.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	regexps.Lock()
	if len(regexps.m) >= maxCachedRegexps {
		clear(regexps.m)
	}
	regexps.m[expr] = re
	regexps.Unlock()
	return re, nil
}
