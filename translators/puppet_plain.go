package translators

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file puts a Puppet run into words a reader who has never seen a
// manifest understands: "Puppet installed the nginx package and restarted
// the nginx service on this server".

// thing is what a resource is, in plain words. A named thing ("the nginx
// package") is one of a kind; a generic one ("a settings file") is
// counted ("2 settings files").
type thing struct {
	one    string // "a settings file", "the nginx package"
	many   string // "settings files"; "" for a named thing
	plural bool   // a named thing that takes "are": "the user accounts"
	// alt is what to say instead when a name taken from the report does
	// not read plainly ("the nil package" becomes "a software package").
	alt *thing
}

func named(s string) thing           { return thing{one: s} }
func namedPlural(s string) thing     { return thing{one: s, plural: true} }
func generic(one, many string) thing { return thing{one: one, many: many} }

// calledBy names a thing after a name from the report.
func calledBy(name string, format string, alt thing) thing {
	if n, ok := plainName(name); ok {
		return thing{one: fmt.Sprintf(format, n), alt: &alt}
	}
	return alt
}

var (
	aSetting       = generic("a setting", "settings")
	aFile          = generic("a file", "files")
	aFolder        = generic("a folder", "folders")
	aSettingsFile  = generic("a settings file", "settings files")
	aCommand       = generic("a command", "commands")
	aPackage       = generic("a software package", "software packages")
	aService       = generic("a service", "services")
	aUser          = generic("a user account", "user accounts")
	aGroup         = generic("a user group", "user groups")
	aMessage       = generic("a message", "messages")
	aCertificate   = generic("a security certificate", "security certificates")
	aSecurityKey   = generic("a security key", "security keys")
	aScript        = generic("a script", "scripts")
	aProgram       = generic("a program", "programs")
	aLogFile       = generic("a log file", "log files")
	aServiceDef    = generic("a service definition", "service definitions")
	aStartupConfig = generic("a startup settings file", "startup settings files")
)

// verb is what Puppet did, or failed to do, to a thing.
type verb int

// The verbs in the order a sentence lists them.
const (
	verbInstall verb = iota
	verbCreate
	verbUpdate
	verbRemove
	verbStart
	verbRestart
	verbStop
	verbRun
	numVerbs
)

var verbWords = [numVerbs][2]string{
	verbInstall: {"install", "installed"},
	verbCreate:  {"create", "created"},
	verbUpdate:  {"update", "updated"},
	verbRemove:  {"remove", "removed"},
	verbStart:   {"start", "started"},
	verbRestart: {"restart", "restarted"},
	verbStop:    {"stop", "stopped"},
	verbRun:     {"run", "ran"},
}

// quietTypes change nothing on the server when Puppet reports them changed
// (a notify resource "changes" on every run): a run that changed only
// these is not news.
var quietTypes = map[string]bool{
	"notify": true, "schedule": true, "filebucket": true, "stage": true,
	"whit": true, "anchor": true, "class": true, "component": true,
	"concat_fragment": true,
}

func hasMeaningful(rs []*puppetResource) bool {
	for _, r := range rs {
		if !quietTypes[strings.ToLower(r.typ)] {
			return true
		}
	}
	return false
}

// what names the thing a resource manages.
func (res *puppetResource) what() thing {
	title := res.title
	switch typ := strings.ToLower(res.typ); {
	case typ == "file":
		return fileThing(title, res.isFolder())
	case typ == "concat_file":
		return fileThing(title, false)
	case typ == "package":
		return calledBy(title, "the %s package", aPackage)
	case typ == "service":
		return calledBy(title, "the %s service", aService)
	case typ == "exec":
		return aCommand
	case typ == "user":
		return calledBy(title, "the user account for %s", aUser)
	case typ == "group":
		return calledBy(title, "the user group %s", aGroup)
	case typ == "notify":
		return aMessage
	case typ == "cron" || typ == "scheduled_task":
		return generic("a scheduled task", "scheduled tasks")
	case typ == "mount":
		return generic("a mounted disk", "mounted disks")
	case typ == "host":
		return generic("a local name entry", "local name entries")
	case typ == "ssh_authorized_key":
		return generic("a login key", "login keys")
	case typ == "sshkey":
		return generic("a known server key", "known server keys")
	case typ == "yumrepo" || typ == "zypprepo":
		return generic("a software source", "software sources")
	case typ == "apt_key":
		return generic("a software signing key", "software signing keys")
	case strings.HasPrefix(typ, "firewall"):
		return generic("a firewall rule", "firewall rules")
	case typ == "selboolean" || typ == "selmodule":
		return generic("a security setting", "security settings")
	case typ == "sysctl":
		return generic("a system setting", "system settings")
	case typ == "vcsrepo":
		return generic("a code checkout", "code checkouts")
	case typ == "tidy":
		return namedPlural("old files")
	case typ == "registry_key" || typ == "registry_value":
		return generic("a Windows setting", "Windows settings")
	case strings.HasPrefix(typ, "mysql_") || strings.HasPrefix(typ, "postgresql_"):
		switch {
		case strings.HasSuffix(typ, "_user") || strings.HasSuffix(typ, "_role"):
			return generic("a database user", "database users")
		case strings.HasSuffix(typ, "_grant"):
			return generic("a database permission", "database permissions")
		case strings.HasSuffix(typ, "_database") || strings.HasSuffix(typ, "_db"):
			return generic("a database", "databases")
		}
		return generic("a database setting", "database settings")
	}
	return aSetting
}

// isFolder tells a directory from a file by what Puppet made or found.
func (res *puppetResource) isFolder() bool {
	if strings.HasSuffix(res.title, "/") {
		return true
	}
	for _, e := range res.events {
		if e.property == "ensure" && (scalarText(e.desired) == "directory" || scalarText(e.previous) == "directory") {
			return true
		}
	}
	return false
}

// plainName accepts a package, service or account name fit to be read as
// a word: short, no paths, no punctuation beyond what such names use.
func plainName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 40 {
		return "", false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r) || strings.ContainsRune("._+-:@", r):
		default:
			return "", false
		}
	}
	return s, letters > 0
}

// fileDir names files below a folder (or the file itself).
type fileDir struct {
	dirs []string
	what thing
}

var webServerSettings = namedPlural("the web server's settings")

// fileDirs is searched in order: the first entry a path is in names it.
var fileDirs = []fileDir{
	{[]string{"/etc/nginx", "/etc/apache2", "/etc/httpd", "/etc/lighttpd", "/etc/caddy"}, webServerSettings},
	{[]string{"/etc/haproxy"}, namedPlural("the load balancer's settings")},
	{[]string{"/etc/varnish"}, namedPlural("the web cache's settings")},
	{[]string{"/etc/mysql", "/etc/my.cnf", "/etc/my.cnf.d", "/etc/postgresql", "/etc/mongod.conf", "/etc/redis", "/etc/redis.conf"}, namedPlural("the database's settings")},
	{[]string{"/etc/postfix", "/etc/exim4", "/etc/dovecot"}, namedPlural("the mail server's settings")},
	{[]string{"/etc/ssh"}, namedPlural("the remote login settings")},
	{[]string{"/etc/sudoers", "/etc/sudoers.d"}, namedPlural("the administrator permissions")},
	{[]string{"/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly", "/var/spool/cron"}, namedPlural("the scheduled tasks")},
	{[]string{"/etc/hosts"}, named("the local name list")},
	{[]string{"/etc/resolv.conf"}, namedPlural("the name lookup settings")},
	{[]string{"/etc/hostname"}, named("the server's name")},
	{[]string{"/etc/ntp.conf", "/etc/chrony", "/etc/chrony.conf", "/etc/systemd/timesyncd.conf"}, namedPlural("the clock settings")},
	{[]string{"/etc/timezone", "/etc/localtime"}, named("the time zone")},
	{[]string{"/etc/motd", "/etc/issue", "/etc/issue.net"}, named("the login message")},
	{[]string{"/etc/logrotate.conf", "/etc/logrotate.d"}, namedPlural("the log cleanup settings")},
	{[]string{"/etc/rsyslog.conf", "/etc/rsyslog.d", "/etc/syslog-ng", "/etc/systemd/journald.conf"}, namedPlural("the logging settings")},
	{[]string{"/etc/apt", "/etc/yum.repos.d", "/etc/yum.conf", "/etc/dnf", "/etc/zypp"}, namedPlural("the software sources")},
	{[]string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"}, namedPlural("the user accounts")},
	{[]string{"/etc/pam.d", "/etc/security"}, namedPlural("the login security settings")},
	{[]string{"/etc/fstab"}, namedPlural("the disk mounts")},
	{[]string{"/etc/sysctl.conf", "/etc/sysctl.d"}, namedPlural("the system tuning settings")},
	{[]string{"/etc/environment", "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc"}, named("the login environment")},
	{[]string{"/etc/php", "/etc/php.ini", "/etc/php.d", "/etc/php-fpm.d", "/etc/php-fpm.conf"}, namedPlural("the PHP settings")},
	{[]string{"/etc/docker", "/etc/containerd"}, namedPlural("the container settings")},
	{[]string{"/etc/puppetlabs", "/etc/puppet"}, namedPlural("Puppet's own settings")},
	{[]string{"/etc/nagios", "/etc/nagios4", "/etc/icinga2", "/etc/nrpe.d", "/etc/nagios/nrpe.cfg", "/etc/zabbix", "/etc/snmp"}, namedPlural("the monitoring settings")},
	{[]string{"/etc/firewalld", "/etc/iptables", "/etc/ufw", "/etc/nftables.conf", "/etc/sysconfig/iptables"}, namedPlural("the firewall settings")},
	{[]string{"/etc/fail2ban"}, namedPlural("the break-in protection settings")},
	{[]string{"/etc/selinux"}, namedPlural("the security settings")},
	{[]string{"/var/www", "/srv/www", "/usr/share/nginx/html"}, namedPlural("the website files")},
	{[]string{"/etc/systemd", "/lib/systemd", "/usr/lib/systemd"}, aServiceDef},
	{[]string{"/etc/init.d"}, generic("a service script", "service scripts")},
	{[]string{"/etc/default", "/etc/sysconfig"}, aStartupConfig},
	{[]string{"/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}, aProgram},
	{[]string{"/var/log"}, aLogFile},
}

var fileExts = map[string]thing{
	".conf": aSettingsFile, ".cfg": aSettingsFile, ".cnf": aSettingsFile,
	".ini": aSettingsFile, ".yaml": aSettingsFile, ".yml": aSettingsFile,
	".json": aSettingsFile, ".toml": aSettingsFile, ".properties": aSettingsFile,
	".xml": aSettingsFile, ".env": aSettingsFile, ".config": aSettingsFile,
	".sh": aScript, ".bash": aScript, ".py": aScript, ".rb": aScript,
	".pl": aScript, ".ps1": aScript, ".bat": aScript, ".cmd": aScript,
	".log": aLogFile,
	".crt": aCertificate, ".pem": aCertificate, ".cer": aCertificate,
	".key":     aSecurityKey,
	".service": aServiceDef, ".timer": aServiceDef, ".socket": aServiceDef,
	".html": generic("a web page", "web pages"), ".htm": generic("a web page", "web pages"),
	".css": generic("a website file", "website files"), ".js": generic("a website file", "website files"),
	".php": generic("a website file", "website files"),
	".sql": generic("a database script", "database scripts"),
	".tar": generic("an archive", "archives"), ".gz": generic("an archive", "archives"),
	".tgz": generic("an archive", "archives"), ".zip": generic("an archive", "archives"),
	".jar": generic("an application bundle", "application bundles"),
	".war": generic("an application bundle", "application bundles"),
}

// fileThing names a file by where it is and what it is called, never by
// its path: /etc/nginx/nginx.conf is "the web server's settings".
func fileThing(title string, folder bool) thing {
	p := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(title), `\`, "/"))
	if len(p) >= 2 && p[1] == ':' { // C:/ProgramData/…
		p = p[2:]
	}
	if !strings.HasPrefix(p, "/") {
		if folder {
			return aFolder
		}
		return aFile
	}
	p = path.Clean(p)
	base := path.Base(p)
	switch {
	case base == "motd":
		return named("the login message")
	case base == "authorized_keys" && strings.Contains(p, "/.ssh/"):
		return namedPlural("the login keys")
	}
	for _, fd := range fileDirs {
		for _, d := range fd.dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				return fd.what
			}
		}
	}
	if folder {
		return aFolder
	}
	if t, ok := fileExts[path.Ext(base)]; ok {
		return t
	}
	if strings.Contains(base, "config") || strings.HasPrefix(p, "/etc/") {
		return aSettingsFile
	}
	return aFile
}

// doing tells what Puppet did (or tried to do) to a resource, from its
// events: created, removed, started, restarted…
func (res *puppetResource) doing() verb {
	typ := strings.ToLower(res.typ)
	if typ == "exec" {
		return verbRun
	}
	if res.failedRestart && !res.failed {
		return verbRestart
	}
	v := verbUpdate
	for _, e := range res.events {
		if e.property == "" && (e.name == "refresh" || e.name == "restarted" || strings.Contains(e.message, "'refresh'")) {
			if typ == "service" && v == verbUpdate {
				v = verbRestart
			}
			continue
		}
		if e.property != "ensure" {
			continue
		}
		was := strings.ToLower(scalarText(e.previous))
		want := strings.ToLower(scalarText(e.desired))
		switch {
		case typ == "service" && (want == "running" || want == "true"):
			return verbStart
		case typ == "service" && (want == "stopped" || want == "false"):
			return verbStop
		case want == "absent" || want == "purged":
			return verbRemove
		case was == "absent" || was == "purged" || was == "":
			if typ == "package" {
				return verbInstall
			}
			return verbCreate
		}
	}
	return v
}

// phrase is one entry of a list: "the login message", "2 settings files".
type phrase struct {
	text   string
	units  int  // things it stands for
	plural bool // takes "are"
}

// phrases lists the things, named ones first, generic ones counted.
func phrases(things []thing, plainOnly bool) []phrase {
	var out []phrase
	seen := map[string]int{}
	counts := map[string]int{}
	for pass := 0; pass < 2; pass++ {
		for _, t := range things {
			if plainOnly && t.alt != nil {
				t = *t.alt
			}
			if (t.many == "") != (pass == 0) {
				continue
			}
			if i, ok := seen[t.one]; ok {
				if t.many != "" {
					counts[t.one]++
					out[i] = phrase{text: fmt.Sprintf("%d %s", counts[t.one], t.many), units: counts[t.one], plural: true}
				}
				continue
			}
			seen[t.one] = len(out)
			counts[t.one] = 1
			out = append(out, phrase{text: t.one, units: 1, plural: t.plural})
		}
	}
	return out
}

// list joins phrases: "a, b and c" (or "a, b or c").
func list(ps []string, conj string) string {
	switch len(ps) {
	case 0:
		return ""
	case 1:
		return ps[0]
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " " + conj + " " + ps[len(ps)-1]
}

func texts(ps []phrase) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text
	}
	return out
}

func units(ps []phrase) int {
	n := 0
	for _, p := range ps {
		n += p.units
	}
	return n
}

// byVerb says what was done, verb by verb: "installed the nginx package
// and restarted the nginx service", "created a folder and a settings file,
// and ran a command".
func byVerb(items []*puppetResource, tense int, conj string, plainOnly bool) string {
	var groups [numVerbs][]thing
	for _, res := range items {
		v := res.doing()
		groups[v] = append(groups[v], res.what())
	}
	var parts []string
	long := false
	for v, g := range groups {
		if len(g) == 0 {
			continue
		}
		ps := phrases(g, plainOnly)
		long = long || len(ps) > 1
		parts = append(parts, verbWords[v][tense]+" "+list(texts(ps), conj))
	}
	if len(parts) > 2 || len(parts) == 2 && long {
		return strings.Join(parts[:len(parts)-1], ", ") + ", " + conj + " " + parts[len(parts)-1]
	}
	return list(parts, conj)
}

// allThings lists the things of items, whatever was done to them.
func allThings(items []*puppetResource, plainOnly bool) []phrase {
	var ts []thing
	for _, res := range items {
		ts = append(ts, res.what())
	}
	return phrases(ts, plainOnly)
}

// countedList is "N things on this server: a, b and 3 more", cut to fit
// max runes with the lead in front; it returns "" when not even one
// phrase fits.
func countedList(lead string, ps []phrase, conj string, max int) string {
	total := units(ps)
	for n := len(ps); n > 0; n-- {
		shown := texts(ps[:n])
		if rest := total - units(ps[:n]); rest > 0 {
			shown = append(shown, fmt.Sprintf("%d more", rest))
		}
		if s := lead + ": " + list(shown, conj); runes(s) <= max {
			return s
		}
	}
	return ""
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func things(n int) string {
	if n == 1 {
		return "1 thing"
	}
	return fmt.Sprintf("%d things", n)
}

// postBudget is how long a post's text may be: MaxSentence with its
// hashtags, less room for the role hashtags the pipeline adds.
func postBudget(tags []string) int {
	return MaxSentence - 40 - runes(Sentence("", tags))
}

// firstFit returns the first candidate that fits and reads plainly, or
// the last, which is built to always do.
func firstFit(max int, candidates ...string) string {
	for _, c := range candidates {
		if c != "" && runes(c) <= max && readsPlain(c) {
			return c
		}
	}
	return candidates[len(candidates)-1]
}

// notPlain catches, beyond jargon, what a name from a report could smuggle
// into a sentence despite plainName: glitch words in any case, and paths.
var notPlain = regexp.MustCompile(`(?i)\bnull\b|\bnil\b|\bundefined\b|ruby/|[#/]`)

func readsPlain(s string) bool { return jargonIn(s) == "" && !notPlain.MatchString(s) }

// sentences lists the candidate sentences build gives, each form first
// naming things, then not.
func sentences(build func(plainOnly bool) []string) []string {
	named, plain := build(false), build(true)
	var out []string
	for i := range named {
		out = append(out, named[i], plain[i])
	}
	return out
}

func (r *puppetReport) changePost(changed, pending []*puppetResource) *Draft {
	tags := []string{SourcePuppet, "changed"}
	var items []*puppetResource
	for _, res := range changed {
		if !quietTypes[strings.ToLower(res.typ)] {
			items = append(items, res)
		}
	}
	max := postBudget(tags)
	var text string
	if len(items) == 0 {
		n := int(r.changeCount())
		text = fmt.Sprintf("Puppet updated %s on this server", things(n))
	} else {
		text = firstFit(max, sentences(func(g bool) []string {
			ps := allThings(items, g)
			lead := fmt.Sprintf("Puppet updated %s on this server", things(units(ps)))
			return []string{
				"Puppet " + byVerb(items, 1, "and", g) + " on this server",
				countedList(lead, ps, "and", max),
				lead,
			}
		})...)
	}
	return &Draft{
		Text:     text,
		Tags:     tags,
		Severity: SeverityInfo,
		Thread:   puppetThread,
		Closes:   true,
		Details:  r.details(changed, pending),
	}
}

func (r *puppetReport) failurePost(failed []*puppetResource) *Draft {
	tags := []string{SourcePuppet, "fail"}
	max := postBudget(tags)
	var skipped []*puppetResource
	for _, res := range r.resources {
		if res.skipped && !res.failed {
			skipped = append(skipped, res)
		}
	}
	sev := SeverityCritical
	var text string
	switch {
	case len(failed) > 0:
		after := ""
		switch len(skipped) {
		case 0:
		case 1:
			after = ", so 1 more step was skipped"
		default:
			after = fmt.Sprintf(", so %d more steps were skipped", len(skipped))
		}
		text = firstFit(max, sentences(func(g bool) []string {
			ps := allThings(failed, g)
			what := "Puppet could not " + byVerb(failed, 0, "or", g) + " on this server"
			lead := fmt.Sprintf("Puppet could not update %s on this server", things(units(ps)))
			return []string{what + after, what, countedList(lead, ps, "and", max), lead}
		})...)
	case r.cachedOnError && r.status != "failed" && r.completed:
		sev = SeverityWarning
		text = "Puppet could not fetch this server's latest configuration, so it applied the last one it had"
	default:
		text = runFailure(r.errors)
	}
	var changed []*puppetResource
	for _, res := range r.resources {
		if res.changed && !res.failed && !res.failedRestart {
			changed = append(changed, res)
		}
	}
	return &Draft{
		Text:     text,
		Tags:     tags,
		Severity: sev,
		Thread:   puppetThread,
		Opens:    true,
		Details:  r.details(failed, skipped, changed),
	}
}

// runFailure says why a run failed before it touched anything, from the
// errors it logged.
func runFailure(errs []string) string {
	all := strings.ToLower(strings.Join(errs, "\n"))
	switch {
	case strings.Contains(all, "evaluation error") || strings.Contains(all, "syntax error") ||
		strings.Contains(all, "could not find class") || strings.Contains(all, "duplicate declaration"):
		return "Puppet could not run on this server because its configuration has a mistake in it"
	case strings.Contains(all, "certificate") || strings.Contains(all, "ssl"):
		return "Puppet could not run on this server because of a security certificate problem"
	case strings.Contains(all, "could not retrieve catalog") || strings.Contains(all, "connection refused") ||
		strings.Contains(all, "failed to open tcp connection"):
		return "Puppet could not fetch this server's configuration, so it changed nothing"
	case strings.Contains(all, "failed to apply catalog"):
		return "Puppet could not apply this server's configuration"
	}
	return "Puppet could not finish its run on this server"
}

func (r *puppetReport) driftPost(pending []*puppetResource) *Draft {
	tags := []string{SourcePuppet, "drift"}
	max := postBudget(tags)
	text := "Puppet found that some things on this server are not set up as intended"
	if len(pending) > 0 {
		text = firstFit(max, sentences(func(g bool) []string {
			ps := allThings(pending, g)
			be := "is"
			if units(ps) > 1 || ps[0].plural {
				be = "are"
			}
			lead := fmt.Sprintf("Puppet found %s not set up as intended on this server", things(units(ps)))
			return []string{
				"Puppet found that " + list(texts(ps), "and") + " " + be + " not set up as intended on this server",
				countedList(lead, ps, "and", max),
				lead,
			}
		})...)
	}
	return &Draft{
		Text:     text,
		Tags:     tags,
		Severity: SeverityWarning,
		Details:  r.details(pending),
	}
}
