package translators

import "regexp"

// jargon is what a business reader must never meet in a sentence: the
// floor of the project's plain-language check. Tests hold every sentence
// to it; translators hold names and comments taken from a payload to it
// before they put them in a sentence.
var jargon = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`(?:^|[^\w#])/(?:[\w.-]+/)+[\w.-]*`), "a file path"},
	{regexp.MustCompile(`\b\d+(?:\.\d+)?\s?(?:[KMGT]i?B|bytes?)\b`), "a byte count"},
	{regexp.MustCompile(`\b(?:File|Exec|Service|Package|Notify|Class|Stage)\[`), "a Puppet resource reference"},
	{regexp.MustCompile(`Puppet::|ruby/object|!ruby`), "a Ruby class name"},
	{regexp.MustCompile(`\b(?:sid|gid|rev)\s*[:=]\s*\d+|\[\d+:\d+:\d+\]`), "a signature id"},
	{regexp.MustCompile(`\b(?:OK|WARNING|CRITICAL|UNKNOWN)\s+-\s+`), "raw check output"},
	{regexp.MustCompile(`load average:|inode=|rta=|pl=|\bperfdata\b`), "raw check output"},
	{regexp.MustCompile(`\bnull\b|\bnil\b|\bundefined\b|%[sdv]\b|\{\{|\}\}`), "a template or null leak"},
	{regexp.MustCompile(`[{}\[\]<>]`), "markup or brackets"},
}

// jargonIn names what s holds that a reader would stumble over, or "".
func jargonIn(s string) string {
	for _, j := range jargon {
		if j.re.MatchString(s) {
			return j.what
		}
	}
	return ""
}
