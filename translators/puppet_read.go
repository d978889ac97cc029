package translators

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file reads a report, YAML or JSON, into plain Go values, so that
// one reader serves both formats and a field of an unexpected type reads
// as absent instead of failing the whole report; then it picks out of
// those values what the translator needs.

func puppetError(format string, args ...any) error {
	return &ParseError{Source: SourcePuppet, Msg: fmt.Sprintf(format, args...)}
}

// decodePuppet parses body into plain Go values: nil, bool, int64, float64,
// string, []any and map[string]any, whichever the format.
func decodePuppet(contentType string, body []byte) (any, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, puppetError("empty body")
	}
	ct := mediaType(contentType)
	if strings.HasSuffix(ct, "json") || strings.HasSuffix(ct, "pson") {
		return decodePuppetJSON(trimmed)
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		v, jerr := decodePuppetJSON(trimmed)
		if jerr == nil {
			return v, nil
		}
		// YAML can open with a flow mapping too; if it is not that
		// either, the JSON error says more.
		if v, err := decodePuppetYAML(body); err == nil {
			return v, nil
		}
		return nil, jerr
	}
	return decodePuppetYAML(body)
}

func decodePuppetJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, puppetError("not a JSON report: %s", jsonMsg(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, puppetError("not a JSON report: more than one value")
	}
	return plainJSON(v, 0)
}

// plainJSON turns json.Number into int64 or float64 and bounds nesting.
func plainJSON(v any, depth int) (any, error) {
	if depth > puppetMaxDepth {
		return nil, puppetError("report nested more than %d levels deep", puppetMaxDepth)
	}
	switch v := v.(type) {
	case json.Number:
		return plainNumber(string(v)), nil
	case []any:
		for i := range v {
			x, err := plainJSON(v[i], depth+1)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
	case map[string]any:
		for k, x := range v {
			x, err := plainJSON(x, depth+1)
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
	}
	return v, nil
}

// plainNumber reads a number as int64, or float64, or keeps its text when
// it fits neither (JSON cannot carry an infinity).
func plainNumber(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return s
}

func decodePuppetYAML(body []byte) (v any, err error) {
	// The parser is third-party code fed untrusted bytes: a bug in it must
	// not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, puppetError("not a YAML report: the parser failed")
		}
	}()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, puppetError("empty body")
		}
		return nil, puppetError("not a YAML report: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// Aliases may repeat a subtree many times over: allow some of that,
	// never a billion laughs.
	c := yamlConverter{budget: 2*len(body) + 10000}
	return c.convert(&doc, 0)
}

type yamlConverter struct {
	budget int
}

func (c *yamlConverter) convert(n *yaml.Node, depth int) (any, error) {
	if depth > puppetMaxDepth {
		return nil, puppetError("report nested more than %d levels deep", puppetMaxDepth)
	}
	if c.budget--; c.budget < 0 {
		return nil, puppetError("report too large once its aliases are expanded")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		return c.convert(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			x, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := c.convert(n.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			x, err := c.convert(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[scalarText(k)] = x
		}
		return out, nil
	case yaml.ScalarNode:
		return yamlScalar(n), nil
	}
	return nil, nil
}

// yamlScalar resolves a scalar the way YAML does, except that a scalar
// with a Ruby tag (!ruby/sym notice, !ruby/string …) is its text.
func yamlScalar(n *yaml.Node) any {
	tag := n.ShortTag()
	switch {
	case tag == "!!str" || tag == "!!timestamp":
		return n.Value
	case tag == "!!null":
		return nil
	case !strings.HasPrefix(tag, "!!"):
		return n.Value
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return n.Value
	}
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64, bool, string, nil:
		return x
	case uint64:
		return plainNumber(strconv.FormatUint(x, 10))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return n.Value
		}
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
	}
	return n.Value
}

// scalarText is the text of a scalar value, "" for anything else.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// The accessors below read a field leniently: a field of the wrong type
// reads as absent rather than failing the whole report.

func mapField(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func listField(m map[string]any, k string) []any {
	v, _ := m[k].([]any)
	return v
}

func textField(m map[string]any, k string) string {
	return strings.TrimSpace(scalarText(m[k]))
}

func boolField(m map[string]any, k string) bool {
	switch v := m[k].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return false
}

func numberValue(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

// puppetReport is what the translator reads of a report.
type puppetReport struct {
	host          string
	timeText      string
	time          time.Time
	status        string
	uuid          string
	configVersion any
	fields        map[string]any // the report-level details, as read
	noopPending   bool
	completed     bool
	cachedOnError bool
	metrics       map[string]map[string]any
	resources     []*puppetResource
	errors        []string // err-level logs that name no resource
}

// puppetResource is one entry of resource_statuses.
type puppetResource struct {
	ref, typ, title string
	file            string
	line            any
	path            []string
	time            time.Time
	failed          bool
	failedRestart   bool
	changed         bool
	outOfSync       bool
	skipped         bool
	events          []puppetEvent
	messages        []string
}

type puppetEvent struct {
	property, name, status, message string
	previous, desired               any
}

// puppetReportKeys are fields only a run report has; a mapping with none
// of them is something else.
var puppetReportKeys = []string{
	"status", "resource_statuses", "report_format", "transaction_uuid",
	"metrics", "logs", "configuration_version", "puppet_version",
}

func readPuppetReport(tree any) (*puppetReport, error) {
	root, ok := tree.(map[string]any)
	if !ok {
		return nil, puppetError("not a Puppet report: the document is %s, want a mapping of report fields", kindOf(tree))
	}
	isReport := false
	for _, k := range puppetReportKeys {
		if _, ok := root[k]; ok {
			isReport = true
			break
		}
	}
	host := textField(root, "host")
	if !isReport {
		return nil, puppetError("not a Puppet report: no status, resources or metrics")
	}
	if host == "" {
		return nil, puppetError("report names no host")
	}
	if !validNodeName(host) {
		return nil, puppetError("host %q is not a node name", truncateRunes(host, 60))
	}
	r := &puppetReport{
		host:          host,
		timeText:      textField(root, "time"),
		status:        strings.ToLower(textField(root, "status")),
		configVersion: detailValue(root["configuration_version"], 0),
		completed:     true,
		fields:        map[string]any{},
	}
	r.time = parsePuppetTime(r.timeText)
	if u := textField(root, "transaction_uuid"); validKey(u) {
		r.uuid = u
	}
	if v, ok := root["transaction_completed"].(bool); ok {
		r.completed = v
	}
	r.noopPending = boolField(root, "noop_pending")
	r.cachedOnError = textField(root, "cached_catalog_status") == "on_failure"
	for _, k := range []string{
		"status", "environment", "puppet_version", "configuration_version",
		"transaction_uuid", "catalog_uuid", "code_id", "job_id", "server_used",
		"report_format", "noop", "noop_pending", "transaction_completed",
		"cached_catalog_status", "corrective_change",
	} {
		if v := detailValue(root[k], 0); v != nil && v != "" {
			r.fields[k] = v
		}
	}
	r.metrics = readMetrics(mapField(root, "metrics"))
	r.resources = readResources(root["resource_statuses"])
	r.attachLogs(listField(root, "logs"))
	return r, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "empty"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return "a single value"
}

// validNodeName accepts what a certname can be: printable, no spaces.
func validNodeName(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// validKey accepts a transaction id fit to be part of an event id.
func validKey(s string) bool {
	return s != "" && len(s) <= 100 && validNodeName(s)
}

var puppetTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999Z07:00",
}

// parsePuppetTime reads the times Puppet writes, in UTC; zero if it cannot.
func parsePuppetTime(s string) time.Time {
	for _, l := range puppetTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// readMetrics reads metrics: {category: {values: [[name, label, value]…]}}.
func readMetrics(m map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for cat, v := range m {
		c, _ := v.(map[string]any)
		vals := map[string]any{}
		switch list := c["values"].(type) {
		case []any:
			for _, row := range list {
				r, _ := row.([]any)
				if len(r) < 2 {
					continue
				}
				name := scalarText(r[0])
				if f, ok := numberValue(r[len(r)-1]); ok && name != "" {
					vals[name] = metricNumber(f)
				}
			}
		case map[string]any:
			for name, x := range list {
				if f, ok := numberValue(x); ok {
					vals[name] = metricNumber(f)
				}
			}
		}
		if len(vals) > 0 {
			out[cat] = vals
		}
	}
	return out
}

// metricNumber keeps counts as integers and times as fractions.
func metricNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

func readResources(v any) []*puppetResource {
	var out []*puppetResource
	add := func(key string, x any) {
		m, ok := x.(map[string]any)
		if !ok {
			return
		}
		out = append(out, readResource(key, m))
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			add(k, x)
		}
	case []any:
		for _, x := range v {
			add("", x)
		}
	}
	// Maps have no order, JSON's least of all: list resources in the
	// order Puppet evaluated them, which is also the order a reader of the
	// run's log saw them.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.time.Equal(b.time) {
			if a.time.IsZero() || b.time.IsZero() {
				return b.time.IsZero()
			}
			return a.time.Before(b.time)
		}
		return a.ref < b.ref
	})
	return out
}

func readResource(key string, m map[string]any) *puppetResource {
	r := &puppetResource{
		ref:           textField(m, "resource"),
		typ:           textField(m, "resource_type"),
		title:         textField(m, "title"),
		file:          textField(m, "file"),
		line:          detailValue(m["line"], 0),
		time:          parsePuppetTime(textField(m, "time")),
		failed:        boolField(m, "failed"),
		failedRestart: boolField(m, "failed_to_restart"),
		changed:       boolField(m, "changed"),
		outOfSync:     boolField(m, "out_of_sync"),
		skipped:       boolField(m, "skipped"),
	}
	if r.ref == "" {
		r.ref = strings.TrimSpace(key)
	}
	if typ, title, ok := splitRef(r.ref); ok {
		if r.typ == "" {
			r.typ = typ
		}
		if r.title == "" {
			r.title = title
		}
	}
	if r.ref == "" && r.typ != "" {
		r.ref = r.typ + "[" + r.title + "]"
	}
	for _, p := range listField(m, "containment_path") {
		r.path = append(r.path, scalarText(p))
	}
	for _, e := range listField(m, "events") {
		em, ok := e.(map[string]any)
		if !ok {
			continue
		}
		r.events = append(r.events, puppetEvent{
			property: textField(em, "property"),
			name:     textField(em, "name"),
			status:   strings.ToLower(textField(em, "status")),
			message:  textField(em, "message"),
			previous: unwrapChecksum(em["previous_value"]),
			desired:  unwrapChecksum(em["desired_value"]),
		})
	}
	return r
}

// checksum is how Puppet writes a file's content: "{sha256}8ecc5f…".
var checksum = regexp.MustCompile(`^\{[a-z0-9_]+\}[0-9a-f]+$`)

// unwrapChecksum undoes a quirk of Puppet 7: a noop event's desired
// content checksum arrives base64-encoded, untagged.
func unwrapChecksum(v any) any {
	s, ok := v.(string)
	if !ok || len(s) < 16 || len(s) > 400 {
		return v
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !checksum.Match(b) {
		return v
	}
	return string(b)
}

// splitRef splits "File[/etc/motd]" into "File" and "/etc/motd".
func splitRef(ref string) (typ, title string, ok bool) {
	i := strings.IndexByte(ref, '[')
	if i <= 0 || !strings.HasSuffix(ref, "]") {
		return "", "", false
	}
	return ref[:i], ref[i+1 : len(ref)-1], true
}

// attachLogs gives each resource the warnings and errors logged about it,
// and keeps the errors that name no resource for the report.
func (r *puppetReport) attachLogs(logs []any) {
	byPath := map[string]*puppetResource{}
	for _, res := range r.resources {
		if len(res.path) > 0 {
			byPath["/"+strings.Join(res.path, "/")] = res
		}
	}
	seen := map[string]bool{}
	for _, l := range logs {
		m, ok := l.(map[string]any)
		if !ok {
			continue
		}
		level := strings.ToLower(textField(m, "level"))
		isErr := level == "err" || level == "crit" || level == "alert" || level == "emerg"
		if !isErr && level != "warning" {
			continue
		}
		msg := textField(m, "message")
		if msg == "" {
			continue
		}
		src := textField(m, "source")
		res := byPath[src]
		if res == nil {
			if i := strings.LastIndexByte(src, '/'); i > 0 {
				res = byPath[src[:i]]
			}
		}
		switch {
		case res != nil:
			if len(res.messages) < puppetMaxMessages && !res.hasMessage(msg) {
				res.messages = append(res.messages, msg)
			}
		case isErr && !seen[msg] && len(r.errors) < puppetMaxMessages:
			seen[msg] = true
			r.errors = append(r.errors, msg)
		}
	}
}

func (res *puppetResource) hasMessage(msg string) bool {
	for _, m := range res.messages {
		if m == msg {
			return true
		}
	}
	for _, e := range res.events {
		if e.message == msg {
			return true
		}
	}
	return false
}
