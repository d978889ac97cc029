package demo

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// yamlWriter writes YAML the way Ruby's Psych does for a Puppet report:
// block style, sequences at the indentation of their key, strings plain
// when they can be, double-quoted when they open with a symbol, single-quoted
// when they would read as another type, literal blocks when they span lines.
type yamlWriter struct {
	b strings.Builder
}

// kv writes "key: value" at indent; a nil value writes "key:".
func (w *yamlWriter) kv(indent int, key string, v any) {
	w.pad(indent)
	w.b.WriteString(key)
	w.b.WriteByte(':')
	w.value(indent, v)
}

// key writes "key:" for a mapping or sequence that follows.
func (w *yamlWriter) key(indent int, key string) {
	w.pad(indent)
	w.b.WriteString(key)
	w.b.WriteString(":\n")
}

// item writes "- value".
func (w *yamlWriter) item(indent int, v any) {
	w.pad(indent)
	w.b.WriteByte('-')
	w.value(indent, v)
}

// itemKV writes "- key: value", opening a mapping in a sequence; its other
// keys go at indent+2.
func (w *yamlWriter) itemKV(indent int, key string, v any) {
	w.pad(indent)
	w.b.WriteString("- ")
	w.b.WriteString(key)
	w.b.WriteByte(':')
	w.value(indent+2, v)
}

// list writes a sequence of scalars under key; an empty one is "key: []".
func (w *yamlWriter) list(indent int, key string, vs []string) {
	if len(vs) == 0 {
		w.pad(indent)
		w.b.WriteString(key)
		w.b.WriteString(": []\n")
		return
	}
	w.key(indent, key)
	for _, v := range vs {
		w.item(indent, v)
	}
}

func (w *yamlWriter) pad(n int) {
	for range n {
		w.b.WriteByte(' ')
	}
}

// value writes " scalar\n", or just "\n" for nil.
func (w *yamlWriter) value(indent int, v any) {
	s := yamlScalar(v, indent)
	if s != "" {
		w.b.WriteByte(' ')
		w.b.WriteString(s)
	}
	w.b.WriteByte('\n')
}

func (w *yamlWriter) String() string { return w.b.String() }

// yamlScalar formats one scalar; "" stands for nil.
func yamlScalar(v any, indent int) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return yamlString(v, indent)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return yamlFloat(v)
	}
	panic("demo: no YAML for this type")
}

// yamlFloat writes a float as Ruby does: shortest form, always with a point
// or an exponent.
func yamlFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// yamlNumber matches what a YAML 1.1 reader would take for a number or a
// time.
var yamlNumber = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?` +
	`|0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$`)

// yamlTyped reports whether a YAML 1.1 reader would take s for a number,
// a boolean, a null or a time rather than a string.
func yamlTyped(s string) bool {
	switch s {
	case "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF":
		return true
	}
	// Only what opens like a number can be one; most strings are
	// spared the regexp.
	if c := s[0]; (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
		return false
	}
	return yamlNumber.MatchString(s)
}

func yamlString(s string, indent int) string {
	switch {
	case s == "":
		return "''"
	case strings.Contains(s, "\n") && !strings.HasPrefix(s, " ") && !hasControl(s, true):
		var b strings.Builder
		b.WriteString("|-")
		for _, line := range strings.Split(s, "\n") {
			b.WriteByte('\n')
			if line != "" {
				b.WriteString(strings.Repeat(" ", indent+2))
				b.WriteString(strings.TrimRight(line, " "))
			}
		}
		return b.String()
	case hasControl(s, false) || strings.Contains(s, "\n"):
		return strconv.Quote(s)
	case !isWordRune(rune(s[0])) && !strings.Contains(s, `"`):
		return strconv.Quote(s)
	case yamlTyped(s) || !plainSafe(s) || s[0] >= '0' && s[0] <= '9' && strings.Contains(s, ":"):
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// hasControl reports control characters other than, when newlines is true,
// the line break.
func hasControl(s string, newlines bool) bool {
	for _, r := range s {
		if r == '\n' && newlines {
			continue
		}
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// plainSafe reports whether s can be written unquoted in block context.
func plainSafe(s string) bool {
	if strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@`") ||
		strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.HasSuffix(s, ":") ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") {
		return false
	}
	return true
}
