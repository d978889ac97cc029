package translators

// The words of the monitoring posts: what to say about the server itself
// and about each kind of check, and what a name or comment from a payload
// must be like to be repeated in a sentence.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// monCheck is what to say about one kind of check.
type monCheck struct {
	tag                  string
	warning, critical    string // a problem in that state
	unknown              string // the check could not run
	unreachable          string // a host behind a broken network
	stillBad             string // flapping stopped, in a bad state
	recovered            string
	trouble              string // what someone looks into
	flapping, settled    string
	unwatched            string
	maintenanceStart     string
	maintenanceEnd       string
	maintenanceCancelled string
	about                string // what a note is about
}

// problem is the sentence for a problem in state; a state the tool did
// not say gets the warning sentence, as it gets the warning severity.
func (c monCheck) problem(state string) string {
	switch state {
	case "CRITICAL", "DOWN":
		return c.critical
	case "UNKNOWN":
		if c.unknown != "" {
			return c.unknown
		}
	case "UNREACHABLE":
		if c.unreachable != "" {
			return c.unreachable
		}
		return c.critical
	}
	return c.warning
}

// monHostCheck speaks of the server itself.
var monHostCheck = monCheck{
	warning:              "The server is not reachable",
	critical:             "The server is not reachable",
	unreachable:          "The server cannot be reached because of a network problem",
	recovered:            "The server is reachable again",
	trouble:              "why the server is not reachable",
	flapping:             "The server keeps going up and down",
	settled:              "The server has stopped going up and down",
	stillBad:             ", but is still not reachable",
	unwatched:            "Monitoring stopped watching the server for going up and down",
	maintenanceStart:     "Planned maintenance has started on this server",
	maintenanceEnd:       "Planned maintenance on this server has ended",
	maintenanceCancelled: "Planned maintenance on this server was cancelled",
	about:                "this server",
}

// monKind is one kind of service check, recognized by a word of its name.
type monKind struct {
	tag                          string
	words                        []string
	check                        string // "the load check"
	warning, critical, recovered string
	trouble                      string
}

// monKinds are tried in order: the first whose word is in the service's
// name wins, so "HTTPS certificate" is a certificate, not a website.
var monKinds = []monKind{
	{"certificate", []string{"cert", "certs", "certificate", "certificates", "ssl", "tls"}, "the security certificate check",
		"The security certificate expires soon", "The security certificate has expired or is about to",
		"The security certificate is fine again", "the security certificate"},
	{"updates", []string{"apt", "yum", "dnf", "update", "updates", "upgrades", "patches"}, "the software updates check",
		"Software updates are waiting to be installed", "Important security updates are waiting to be installed",
		"The software is up to date again", "the pending software updates"},
	{"backup", []string{"backup", "backups"}, "the backup check",
		"The backup is running late", "The backup has failed",
		"Backups are working again", "the backup problem"},
	{"database", []string{"db", "database", "mysql", "mariadb", "postgres", "postgresql", "pgsql", "oracle", "mssql", "mongodb", "mongo", "redis"}, "the database check",
		"The database is slow to answer", "The database is not answering",
		"The database is answering again", "the database problem"},
	{"mail", []string{"mail", "smtp", "imap", "imaps", "pop", "pop3", "mailq", "postfix", "exim"}, "the mail check",
		"Mail is slow to get through", "Mail is not getting through",
		"Mail is getting through again", "the mail problem"},
	{"dns", []string{"dns", "bind", "named", "resolver", "nameserver"}, "the name lookup check",
		"Name lookups are slow", "Name lookups are failing",
		"Name lookups work again", "the name lookup problem"},
	{"time", []string{"ntp", "ntpd", "clock", "chrony", "timesync"}, "the clock check",
		"The server's clock is a little off", "The server's clock is wrong",
		"The server's clock is right again", "the wrong clock"},
	{"ssh", []string{"ssh", "sshd"}, "the remote login check",
		"Remote login is slow", "Remote login is not working",
		"Remote login works again", "the remote login problem"},
	{"http", []string{"http", "https", "web", "website", "url", "nginx", "apache", "httpd"}, "the website check",
		"The website is slow to answer", "The website is not answering",
		"The website is answering again", "the website problem"},
	{"memory", []string{"mem", "memory", "ram", "swap", "oom"}, "the memory check",
		"The server is running low on memory", "The server has almost run out of memory",
		"Memory use is back to normal", "the low memory"},
	{"cpu", []string{"cpu", "processor"}, "the processor check",
		"The processor is very busy", "The processor is overloaded",
		"The processor is back to normal", "the busy processor"},
	{"load", []string{"load"}, "the load check",
		"Experiencing high load", "The server is under very heavy load",
		"Load is back to normal", "the high load"},
	{"disk", []string{"disk", "disks", "partition", "partitions", "filesystem", "filesystems", "fs", "df", "root", "storage", "volume", "inode", "inodes", "space"}, "the disk space check",
		"Disk space is running low", "The disk is almost full",
		"Disk space is back to normal", "the low disk space"},
	{"users", []string{"users", "user", "logins", "sessions"}, "the logged-in users check",
		"Unusually many people are logged in", "Far too many people are logged in",
		"The number of people logged in is back to normal", "the many logins"},
	{"processes", []string{"procs", "proc", "processes", "process"}, "the running programs check",
		"The number of running programs is unusual", "The number of running programs is far from normal",
		"The number of running programs is back to normal", "the running programs"},
	{"network", []string{"ping", "icmp", "alive", "network", "net", "connectivity", "host"}, "the network connection check",
		"The connection to the server is slow", "The server is not reachable",
		"The server is reachable again", "why the server is not reachable"},
}

// monServiceCheck says what to write about the service called name (or
// display). A service of no known kind is named in the sentence when its
// name is plain enough, and never when compact.
func monServiceCheck(name, display string, compact bool) monCheck {
	words := monWords(name + " " + display)
	for _, k := range monKinds {
		if monAnyWord(words, k.words) {
			return monServiceSentences(k.tag, k.check, k.warning, k.critical, k.recovered, k.trouble)
		}
	}
	check, tag := "one of the server's checks", ""
	if !compact {
		label := display
		if strings.TrimSpace(label) == "" {
			label = name
		}
		if l := monCheckName(label); l != "" {
			check = "the " + l + " check"
		}
		if t := Tag(name); len(t) <= 24 {
			tag = t
		}
	}
	c := monCap(check)
	return monServiceSentences(tag, check, c+" reports a problem", c+" reports a serious problem",
		c+" is back to normal", "the problem with "+check)
}

func monServiceSentences(tag, check, warning, critical, recovered, trouble string) monCheck {
	c := monCap(check)
	return monCheck{
		tag:                  tag,
		warning:              warning,
		critical:             critical,
		unknown:              "Monitoring cannot run " + check + " right now",
		recovered:            recovered,
		trouble:              trouble,
		flapping:             c + " keeps switching between good and bad",
		settled:              c + " has stopped switching between good and bad",
		stillBad:             ", but still reports a problem",
		unwatched:            "Monitoring stopped watching " + check + " for switching between good and bad",
		maintenanceStart:     "Planned maintenance has started for " + check,
		maintenanceEnd:       "Planned maintenance for " + check + " has ended",
		maintenanceCancelled: "Planned maintenance for " + check + " was cancelled",
		about:                check,
	}
}

// monWords splits a service name into lower-case words, also keeping
// each word without its trailing digits ("disk2" is a disk).
func monWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		out = append(out, w)
		if t := strings.TrimRightFunc(w, unicode.IsDigit); t != w && t != "" {
			out = append(out, t)
		}
	}
	return out
}

func monAnyWord(words, want []string) bool {
	for _, w := range words {
		for _, x := range want {
			if w == x {
				return true
			}
		}
	}
	return false
}

// monCheckName turns a service name into words for a sentence
// ("mysql_replication" → "mysql replication"), without a leading or
// trailing "check"; "" when it is not plain enough to show.
func monCheckName(s string) string {
	s = strings.NewReplacer("_", " ", "-", " ", ".", " ").Replace(s)
	f := strings.Fields(s)
	if len(f) > 0 && strings.EqualFold(f[0], "check") {
		f = f[1:]
	}
	if len(f) > 0 && strings.EqualFold(f[len(f)-1], "check") {
		f = f[:len(f)-1]
	}
	return monPlain(strings.Join(f, " "), 40)
}

// monUnplain lists the characters that, beyond jargon, no name or comment
// from a payload may bring into a sentence: they read as markup or code.
const monUnplain = "#/\\%$`"

// monPlain returns s with its spaces collapsed when it is plain text of at
// most max characters; "" otherwise.
func monPlain(s string, max int) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r)
	}), " ")
	if s == "" || utf8.RuneCountInString(s) > max || jargonIn(s) != "" || strings.ContainsAny(s, monUnplain) {
		return ""
	}
	return s
}

// monCap upper-cases the first letter of s.
func monCap(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
