package translators

import (
	"sort"
	"strings"
	"unicode"
)

// Tag normalizes s into a hashtag body: lower case, letters, digits and
// underscores only (anything else becomes an underscore, runs collapse),
// without '#'. It returns "" when nothing is left.
func Tag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			under = false
			continue
		}
		if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimRight(b.String(), "_")
}

// RoleTags returns the hashtags of the role classes among classes, sorted
// and without repeats: "roles::frontend_web" and "role::frontend_web"
// both give "frontend_web". Other classes give none.
func RoleTags(classes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range classes {
		c = strings.ToLower(strings.TrimSpace(c))
		var rest string
		switch {
		case strings.HasPrefix(c, "roles::"):
			rest = c[len("roles::"):]
		case strings.HasPrefix(c, "role::"):
			rest = c[len("role::"):]
		default:
			continue
		}
		if t := Tag(rest); t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Sentence joins a sentence and its hashtags the way posts show them:
// "Experiencing high load #warning #nagios #frontend_web".
func Sentence(text string, tags []string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(text))
	for _, t := range tags {
		b.WriteString(" #")
		b.WriteString(t)
	}
	return b.String()
}
