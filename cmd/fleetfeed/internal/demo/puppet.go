package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"time"

	"fleetfeed/translators"
)

// PuppetStatus is what a simulated Puppet run does.
type PuppetStatus string

// The runs PuppetReport writes.
const (
	// PuppetUnchanged: everything was as it should be.
	PuppetUnchanged PuppetStatus = "unchanged"
	// PuppetChanged: Puppet made one of the server's changes.
	PuppetChanged PuppetStatus = "changed"
	// PuppetFailed: Puppet tried one of the server's changes and failed;
	// a PuppetChanged run with the same change fixes it.
	PuppetFailed PuppetStatus = "failed"
	// PuppetNoop: the agent runs in noop mode and found one of the
	// server's changes still to make (drift).
	PuppetNoop PuppetStatus = "noop"
)

// puppetVersion is the agent the reports come from.
const puppetVersion = "7.23.0"

// puppetCodeDir is where the control repository's modules live.
const puppetCodeDir = "/etc/puppetlabs/code/environments/production/site-modules"

// PuppetChanges is how many different changes PuppetReport can make on a
// server (package upgrades, settings files, a new user account, …).
func PuppetChanges(Server) int { return len(changeKinds) }

// PuppetReport builds the report a Puppet 7 agent on s POSTs through its
// http report processor after a run that ended at now (its time field is
// when the run began, seconds earlier): YAML whose root is
// tagged !ruby/object:Puppet::Transaction::Report, with the run's status,
// every resource of the server's catalog in resource_statuses (the role's
// own ones contained in its role class, "Roles::Frontend_web", so the
// server's classes can be read off the report), their events, the logs at
// notice level and above, and the metrics.
//
// change picks which of the server's changes a changed, failed or noop run
// makes (any number; it is taken modulo PuppetChanges). A failed run and
// the changed run that fixes it are given the same change.
func PuppetReport(s Server, status PuppetStatus, change int, r *rand.Rand, now time.Time) Payload {
	run := newPuppetRun(s, r, now)
	var c *pchange
	if status != PuppetUnchanged {
		c = changeFor(s, change)
	}
	run.apply(catalog(s), c, status)
	run.endAt(now)
	return Payload{
		Source:      translators.SourcePuppet,
		ContentType: ContentYAML,
		Body:        []byte(run.yaml()),
		Node:        s.Name,
	}
}

// puppetRunFrom builds, like PuppetReport, the report of a run that
// began at start, and returns it with the time the run ended (when Puppet
// sends the report).
func puppetRunFrom(s Server, status PuppetStatus, change int, r *rand.Rand, start time.Time) (Payload, time.Time) {
	run := newPuppetRun(s, r, start)
	var c *pchange
	if status != PuppetUnchanged {
		c = changeFor(s, change)
	}
	run.apply(catalog(s), c, status)
	return Payload{
		Source:      translators.SourcePuppet,
		ContentType: ContentYAML,
		Body:        []byte(run.yaml()),
		Node:        s.Name,
	}, run.cursor
}

// pres is one resource of a server's catalog.
type pres struct {
	class    string // containing class as Puppet writes it; "" at top level
	typ      string // "Package"
	title    string
	provider string
	line     int
}

func (p pres) ref() string { return p.typ + "[" + p.title + "]" }

// source is the resource's path as logs name it.
func (p pres) source() string {
	if p.class == "" {
		return "/" + p.ref()
	}
	return "/Stage[main]/" + p.class + "/" + p.ref()
}

func (p pres) containment() []string {
	if p.class == "" {
		return []string{p.ref()}
	}
	return []string{"Stage[main]", p.class, p.ref()}
}

// manifest is the file that declares the resource.
func (p pres) manifest() any {
	if p.class == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(p.class), "::")
	if len(parts) == 1 {
		return path.Join(puppetCodeDir, parts[0], "manifests", "init.pp")
	}
	return path.Join(puppetCodeDir, parts[0], "manifests", path.Join(parts[1:]...)+".pp")
}

func (p pres) tags() []string {
	tags := []string{strings.ToLower(p.typ)}
	if t := strings.ToLower(p.title); isTagWord(t) {
		tags = append(tags, t)
	}
	if p.class == "" {
		return tags
	}
	c := strings.ToLower(p.class)
	for _, t := range append([]string{"class", c}, strings.Split(c, "::")...) {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

func isTagWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// The users every server has, and the one a change adds.
var (
	baseUsers = []string{"alice", "bob", "carol"}
	newUser   = "priya"
)

// catalog lists the resources of s's catalog in the order Puppet applies
// them.
func catalog(s Server) []pres {
	spec := specFor(s.Role)
	os := spec.os
	pkgProvider := "apt"
	if os.family == "RedHat" {
		pkgProvider = "dnf"
	}
	var cs []pres
	add := func(class, typ, title, provider string, line int) {
		cs = append(cs, pres{class: class, typ: typ, title: title, provider: provider, line: line})
	}
	add("Profile::Base", "Package", "openssl", pkgProvider, 12)
	add("Profile::Base::Ssh", "Package", "openssh-server", pkgProvider, 8)
	add("Profile::Base::Ssh", "File", "/etc/ssh/sshd_config", "posix", 12)
	add("Profile::Base::Ssh", "Service", os.sshSvc, "systemd", 21)
	add("Profile::Base::Time", "Package", "chrony", pkgProvider, 6)
	add("Profile::Base::Time", "File", os.chrony, "posix", 10)
	add("Profile::Base::Time", "Service", os.chronySv, "systemd", 17)
	for _, u := range baseUsers {
		add("Profile::Base::Users", "User", u, "useradd", 14)
	}
	add("Profile::Base::Users", "User", newUser, "useradd", 14)
	for _, u := range append(append([]string(nil), baseUsers...), newUser) {
		add("Profile::Base::Users", "Ssh_authorized_key", u+"@ops-laptop", "parsed", 22)
	}
	add("Profile::Monitoring::Nrpe", "Package", os.nrpePkg, pkgProvider, 5)
	add("Profile::Monitoring::Nrpe", "File", os.nrpeConf, "posix", 9)
	add("Profile::Monitoring::Nrpe", "Service", os.nrpeSvc, "systemd", 16)
	add(spec.profile, "Package", spec.pkg, pkgProvider, 9)
	add(spec.profile, "File", spec.conf, "posix", 15)
	add(spec.profile, "Service", spec.svc, "systemd", 24)
	for _, e := range spec.extra {
		add(e, "File", "/var/www/shop", "posix", 7)
	}
	add(s.RoleClass(), "File", "/etc/motd", "posix", 11)
	for _, sch := range []string{"puppet", "hourly", "daily", "weekly", "monthly", "never"} {
		add("", "Schedule", sch, "", 0)
	}
	add("", "Filebucket", "puppet", "", 0)
	return cs
}

// changeKinds are the changes a run can make, by index.
var changeKinds = []string{
	"upgrade the role's package", "edit the role's settings",
	"security update", "remote login settings", "restart failure",
	"clock settings", "monitoring settings", "new user account",
}

// step is one resource a change touches: the first is the change itself,
// the others depend on it.
type step struct {
	ref      string
	prop     string // "" for a refresh
	from, to string
	event    string // the event's name
}

// pchange is one change, as it succeeds or fails.
type pchange struct {
	steps []step
	// fail is the error of the first step when the change fails.
	fail string
	// failRestart: the first step succeeds, the refresh after it fails.
	failRestart string
	// failEval: the first step fails before it can compare anything.
	failEval bool
}

// changeFor returns change i of s, built from its catalog.
func changeFor(s Server, i int) *pchange {
	spec := specFor(s.Role)
	os := spec.os
	n := len(changeKinds)
	i = ((i % n) + n) % n
	svc := func(name string) step { return step{ref: "Service[" + name + "]", event: "refresh"} }
	content := func(file string) step {
		return step{ref: "File[" + file + "]", prop: "content", event: "content_changed",
			from: checksum(s.Name, file, "old"), to: checksum(s.Name, file, "new")}
	}
	pkg := func(name, from, to string) step {
		return step{ref: "Package[" + name + "]", prop: "ensure", event: "package_changed", from: from, to: to}
	}
	tmp := func(file string) string {
		return fmt.Sprintf("%s%s-%d-%s", file, "20261125", 80000+len(s.Name)*97%9000, shortID(s.Name+file))
	}
	switch i {
	case 0:
		return &pchange{
			steps: []step{pkg(spec.pkg, spec.version[0], spec.version[1]), svc(spec.svc)},
			fail:  packageError(os, spec.pkg, spec.version[1]),
		}
	case 1:
		return &pchange{
			steps: []step{content(spec.conf), svc(spec.svc)},
			fail:  fmt.Sprintf("Execution of '%s' returned 1: %s", fmt.Sprintf(spec.validate, tmp(spec.conf)), spec.check),
		}
	case 2:
		return &pchange{
			steps: []step{pkg("openssl", os.openssl[0], os.openssl[1])},
			fail:  packageError(os, "openssl", os.openssl[1]),
		}
	case 3:
		f := "/etc/ssh/sshd_config"
		return &pchange{
			steps: []step{content(f), svc(os.sshSvc)},
			fail: fmt.Sprintf("Execution of '/usr/sbin/sshd -t -f %s' returned 255: %s line 42: Bad configuration option: KexAlgorithm",
				tmp(f), tmp(f)),
		}
	case 4:
		return &pchange{
			steps: []step{content(spec.conf), svc(spec.svc)},
			failRestart: fmt.Sprintf("Systemd restart for %s failed!\njournalctl log for %s:\n%s",
				spec.svc, spec.svc, spec.check),
		}
	case 5:
		return &pchange{
			steps: []step{content(os.chrony), svc(os.chronySv)},
			fail: fmt.Sprintf("Could not back up %s: No space left on device @ io_write - /opt/puppetlabs/puppet/cache/clientbucket/%s/contents",
				os.chrony, strings.TrimPrefix(checksum(s.Name, os.chrony, "old"), "{sha256}")[:16]),
		}
	case 6:
		return &pchange{
			steps: []step{content(os.nrpeConf), svc(os.nrpeSvc)},
			fail: "Could not retrieve file metadata for puppet:///modules/profile/monitoring/fleet-checks.cfg: " +
				"Failed to open TCP connection to puppet.ops.example.com:8140 (Connection refused - connect(2) for \"puppet.ops.example.com\" port 8140)",
			failEval: true,
		}
	default:
		return &pchange{
			steps: []step{
				{ref: "User[" + newUser + "]", prop: "ensure", from: "absent", to: "present", event: "user_created"},
				{ref: "Ssh_authorized_key[" + newUser + "@ops-laptop]", prop: "ensure", from: "absent", to: "present", event: "ssh_authorized_key_created"},
			},
			fail: fmt.Sprintf("Could not create user %s: Execution of '/usr/sbin/useradd -m -s /bin/bash %s' returned 9: useradd: group %s exists - if you want to add this user to that group, use -g.",
				newUser, newUser, newUser),
		}
	}
}

func packageError(os osRelease, pkg, version string) string {
	if os.family == "RedHat" {
		return fmt.Sprintf("Execution of '/usr/bin/dnf -d 0 -e 1 -y install %s-%s' returned 1: Error: Failed to download metadata for repo 'appstream': Cannot download repomd.xml: Curl error (28): Timeout was reached for https://mirrors.rockylinux.org/mirrorlist?arch=x86_64&repo=AppStream-9 [Connection timed out after 30000 milliseconds]",
			pkg, version)
	}
	return fmt.Sprintf("Execution of '/usr/bin/apt-get -q -y -o DPkg::Options::=--force-confold install %s=%s' returned 100: E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 81734 (unattended-upgr)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
		pkg, version)
}

// checksum is a file's content checksum as Puppet writes it, the same for
// the same server, file and version.
func checksum(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "{sha256}" + hex.EncodeToString(sum[:])
}

func shortID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base36(sum[:4])
}

func base36(b []byte) string {
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	out := ""
	for n > 0 {
		out = string(digits[n%36]) + out
		n /= 36
	}
	return out
}
