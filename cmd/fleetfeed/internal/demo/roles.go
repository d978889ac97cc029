package demo

// The demo fleet's catalogue: the datacenters, and for each role the
// servers' names, operating system, Puppet classes, software, checks and
// words for their profiles.

// Datacenter is a place servers stand, with the coordinates of its city.
type Datacenter struct {
	Name      string  // "ams1"
	City      string  // "Amsterdam"
	Latitude  float64 // degrees north
	Longitude float64 // degrees east
}

// datacenters are real cities at their real coordinates.
var datacenters = []Datacenter{
	{"ams1", "Amsterdam", 52.3676, 4.9041},
	{"fra1", "Frankfurt", 50.1109, 8.6821},
	{"lon1", "London", 51.5074, -0.1278},
	{"nyc1", "New York", 40.7128, -74.0060},
	{"sfo1", "San Francisco", 37.7749, -122.4194},
	{"sgp1", "Singapore", 1.3521, 103.8198},
	{"syd1", "Sydney", -33.8688, 151.2093},
}

// Datacenters returns the datacenters the demo fleet stands in.
func Datacenters() []Datacenter {
	return append([]Datacenter(nil), datacenters...)
}

func datacenter(name string) Datacenter {
	for _, d := range datacenters {
		if d.Name == name {
			return d
		}
	}
	return datacenters[0]
}

// region is how a bio names the visitors a datacenter serves.
var region = map[string]string{
	"ams1": "Europe", "fra1": "Europe", "lon1": "the UK",
	"nyc1": "North America", "sfo1": "North America",
	"sgp1": "Asia", "syd1": "Australia",
}

// osRelease is one operating system the fleet runs.
type osRelease struct {
	name     string   // the os fact
	family   string   // "Debian" or "RedHat": package names and tools
	kernels  []string // kernel versions, one picked per server
	openssl  [2]string
	sshSvc   string // the SSH service's name
	chrony   string // chrony's settings file
	chronySv string
	nrpePkg  string
	nrpeConf string
	nrpeSvc  string
	ssh      string // what the SSH check reports
}

var (
	debian12 = osRelease{
		name: "Debian GNU/Linux 12.8 (bookworm)", family: "Debian",
		kernels: []string{"6.1.0-27-amd64", "6.1.0-28-amd64"},
		openssl: [2]string{"3.0.15-1~deb12u1", "3.0.16-1~deb12u1"},
		sshSvc:  "ssh", chrony: "/etc/chrony/chrony.conf", chronySv: "chrony",
		nrpePkg: "nagios-nrpe-server", nrpeConf: "/etc/nagios/nrpe.d/fleet-checks.cfg", nrpeSvc: "nagios-nrpe-server",
		ssh: "OpenSSH_9.2p1 Debian-2+deb12u3",
	}
	ubuntu2204 = osRelease{
		name: "Ubuntu 22.04.5 LTS", family: "Debian",
		kernels: []string{"5.15.0-125-generic", "5.15.0-126-generic"},
		openssl: [2]string{"3.0.2-0ubuntu1.18", "3.0.2-0ubuntu1.19"},
		sshSvc:  "ssh", chrony: "/etc/chrony/chrony.conf", chronySv: "chrony",
		nrpePkg: "nagios-nrpe-server", nrpeConf: "/etc/nagios/nrpe.d/fleet-checks.cfg", nrpeSvc: "nagios-nrpe-server",
		ssh: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.11",
	}
	rocky9 = osRelease{
		name: "Rocky Linux 9.5 (Blue Onyx)", family: "RedHat",
		kernels: []string{"5.14.0-503.14.1.el9_5.x86_64", "5.14.0-503.15.1.el9_5.x86_64"},
		openssl: [2]string{"1:3.2.2-6.el9_5", "1:3.2.2-6.el9_5.1"},
		sshSvc:  "sshd", chrony: "/etc/chrony.conf", chronySv: "chronyd",
		nrpePkg: "nrpe", nrpeConf: "/etc/nrpe.d/fleet-checks.cfg", nrpeSvc: "nrpe",
		ssh: "OpenSSH_8.7",
	}
)

// roleSpec describes the servers of one role.
type roleSpec struct {
	role    string // the role tag: roles::<role>
	prefix  string // host names are <prefix>NN.<domain>
	domain  string
	weight  int      // servers of this role in a fleet of 40
	dcs     []string // datacenters, in the order servers are placed
	os      osRelease
	profile string // the role's main profile class, as Puppet writes it
	extra   []string
	pkg     string    // the role's main package
	version [2]string // its installed and next version
	svc     string    // the service it runs
	conf    string    // its settings file
	// validate is the command Puppet checks a new settings file with (%s is
	// the file's temporary copy); check is what it says of a bad one.
	validate string
	check    string
	cpus     []int
	memory   []string
	checks   []string // Nagios service checks beyond the base ones
	public   bool     // reachable from the internet: scanned and attacked
	bio      string   // %s is the region of the datacenter, where used
	contact  string
}

// baseChecks run on every server.
var baseChecks = []string{"Load", "Disk", "SSH", "Swap"}

// roleSpecs are in the order a small fleet gets its servers.
var roleSpecs = []roleSpec{
	{
		role: "frontend_web", prefix: "web", domain: "shop.example.com", weight: 8,
		dcs: []string{"ams1", "fra1", "nyc1", "sfo1", "lon1", "sgp1", "syd1", "ams1"},
		os:  rocky9, profile: "Profile::Apache", extra: []string{"Profile::Shop::Frontend"},
		pkg: "httpd", version: [2]string{"2.4.62-1.el9", "2.4.62-1.el9_5.2"}, svc: "httpd",
		conf:     "/etc/httpd/conf.d/shop.conf",
		validate: "/usr/sbin/httpd -t -f %s",
		check:    "AH00526: Syntax error on line 27 of /etc/httpd/conf.d/shop.conf: Invalid command 'ProxyPasss', perhaps misspelled or defined by a module not included in the server configuration",
		cpus:     []int{4, 8},
		memory:   []string{"7.50 GiB", "15.37 GiB"},
		checks:   []string{"HTTP"}, public: true,
		bio: "Serves the shop's product pages to visitors in %s", contact: "web-team@shop.example.com",
	},
	{
		role: "frontend_lb", prefix: "lb", domain: "shop.example.com", weight: 2,
		dcs: []string{"ams1", "nyc1", "sgp1"},
		os:  debian12, profile: "Profile::Haproxy",
		pkg: "haproxy", version: [2]string{"2.6.12-1+deb12u1", "2.6.12-1+deb12u2"}, svc: "haproxy",
		conf:     "/etc/haproxy/haproxy.cfg",
		validate: "/usr/sbin/haproxy -c -f %s",
		check:    "[ALERT]    (81234) : config : parsing [/etc/haproxy/haproxy.cfg:58] : 'server web09' : could not resolve address 'web09.shop.example.com'.",
		cpus:     []int{2, 4},
		memory:   []string{"3.83 GiB", "7.75 GiB"},
		checks:   []string{"HTTP", "HTTPS certificate"}, public: true,
		bio: "Shares the shop's visitors in %s out among its web servers", contact: "web-team@shop.example.com",
	},
	{
		role: "database", prefix: "db", domain: "shop.example.com", weight: 4,
		dcs: []string{"ams1", "fra1"},
		os:  debian12, profile: "Profile::Postgresql",
		pkg: "postgresql-15", version: [2]string{"15.8-0+deb12u1", "15.10-0+deb12u1"}, svc: "postgresql",
		conf:     "/etc/postgresql/15/main/postgresql.conf",
		validate: "/usr/lib/postgresql/15/bin/postgres --config-file=%s -C data_directory",
		check:    "FATAL:  configuration file \"/etc/postgresql/15/main/postgresql.conf\" contains errors",
		cpus:     []int{16, 32},
		memory:   []string{"62.80 GiB", "125.71 GiB"},
		checks:   []string{"PostgreSQL"},
		bio:      "Keeps the shop's orders and customer accounts", contact: "dba@shop.example.com",
	},
	{
		role: "app_server", prefix: "app", domain: "shop.example.com", weight: 6,
		dcs: []string{"ams1", "fra1", "nyc1"},
		os:  ubuntu2204, profile: "Profile::Shop::Checkout",
		pkg: "shop-checkout", version: [2]string{"2.41.0-1", "2.42.0-1"}, svc: "shop-checkout",
		conf:     "/etc/shop/checkout.yaml",
		validate: "/usr/bin/shop-checkout check-config %s",
		check:    "checkout: config: yaml: line 14: mapping values are not allowed in this context",
		cpus:     []int{4, 8},
		memory:   []string{"15.37 GiB", "31.15 GiB"},
		checks:   []string{"HTTP"},
		bio:      "Runs the basket and checkout behind the shop", contact: "checkout-team@shop.example.com",
	},
	{
		role: "cache", prefix: "cache", domain: "shop.example.com", weight: 3,
		dcs: []string{"ams1", "fra1", "nyc1"},
		os:  debian12, profile: "Profile::Redis",
		pkg: "redis-server", version: [2]string{"5:7.0.15-1~deb12u1", "5:7.0.15-1~deb12u2"}, svc: "redis-server",
		conf:     "/etc/redis/redis.conf",
		validate: "/usr/bin/redis-server %s --test-memory 0",
		check:    "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) *** Reading the configuration file, at line 312 >>> 'maxmemory 4gb 2gb' wrong number of arguments",
		cpus:     []int{4},
		memory:   []string{"15.37 GiB", "31.15 GiB"},
		checks:   []string{"Redis"},
		bio:      "Remembers recent pages and baskets so the shop stays fast", contact: "web-team@shop.example.com",
	},
	{
		role: "search", prefix: "search", domain: "shop.example.com", weight: 3,
		dcs: []string{"fra1", "ams1", "nyc1"},
		os:  debian12, profile: "Profile::Opensearch",
		pkg: "opensearch", version: [2]string{"2.17.1", "2.18.0"}, svc: "opensearch",
		conf:     "/etc/opensearch/jvm.options",
		validate: "/usr/share/opensearch/bin/opensearch-env-check %s",
		check:    "Invalid initial heap size: -Xms16gg",
		cpus:     []int{8, 16},
		memory:   []string{"31.15 GiB", "62.80 GiB"},
		bio:      "Answers product searches on the shop", contact: "search-team@shop.example.com",
	},
	{
		role: "message_queue", prefix: "mq", domain: "shop.example.com", weight: 2,
		dcs: []string{"ams1", "fra1"},
		os:  debian12, profile: "Profile::Rabbitmq",
		pkg: "rabbitmq-server", version: [2]string{"3.10.8-1.1", "3.10.8-1.1+deb12u1"}, svc: "rabbitmq-server",
		conf:     "/etc/rabbitmq/rabbitmq.conf",
		validate: "/usr/sbin/rabbitmq-diagnostics check_config %s",
		check:    "Error preparing configuration in phase transform_datetime: invalid value for listeners.tcp.default",
		cpus:     []int{2, 4},
		memory:   []string{"7.75 GiB"},
		bio:      "Passes orders and messages between the shop's services", contact: "platform@example.com",
	},
	{
		role: "mail_relay", prefix: "mail", domain: "ops.example.com", weight: 2,
		dcs: []string{"lon1", "ams1"},
		os:  debian12, profile: "Profile::Postfix",
		pkg: "postfix", version: [2]string{"3.7.11-0+deb12u1", "3.7.12-0+deb12u1"}, svc: "postfix",
		conf:     "/etc/postfix/main.cf",
		validate: "/usr/sbin/postconf -c %s -n",
		check:    "postfix/postconf: fatal: /etc/postfix/main.cf, line 38: missing '=' after attribute name: smtpd_tls_security_level may",
		cpus:     []int{2},
		memory:   []string{"3.83 GiB"},
		checks:   []string{"SMTP"}, public: true,
		bio: "Sends the shop's order confirmations and newsletters", contact: "platform@example.com",
	},
	{
		role: "build", prefix: "build", domain: "ops.example.com", weight: 2,
		dcs: []string{"lon1", "fra1"},
		os:  ubuntu2204, profile: "Profile::Jenkins",
		pkg: "jenkins", version: [2]string{"2.479.1", "2.479.2"}, svc: "jenkins",
		conf:     "/etc/default/jenkins",
		validate: "/bin/sh -n %s",
		check:    "jenkins.service: Main process exited, code=exited, status=1/FAILURE",
		cpus:     []int{16},
		memory:   []string{"31.15 GiB", "62.80 GiB"},
		bio:      "Builds and tests every new version of the shop", contact: "platform@example.com",
	},
	{
		role: "dns", prefix: "ns", domain: "ops.example.com", weight: 2,
		dcs: []string{"ams1", "nyc1", "sgp1"},
		os:  debian12, profile: "Profile::Bind",
		pkg: "bind9", version: [2]string{"1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2"}, svc: "named",
		conf:     "/etc/bind/named.conf.options",
		validate: "/usr/bin/named-checkconf %s",
		check:    "/etc/bind/named.conf.options:14: missing ';' before '}'",
		cpus:     []int{2},
		memory:   []string{"1.92 GiB", "3.83 GiB"},
		checks:   []string{"DNS"}, public: true,
		bio: "Tells visitors' computers where to find the shop", contact: "platform@example.com",
	},
	{
		role: "bastion", prefix: "bastion", domain: "ops.example.com", weight: 2,
		dcs: []string{"ams1", "nyc1"},
		os:  debian12, profile: "Profile::Bastion",
		pkg: "auditd", version: [2]string{"1:3.0.9-1", "1:3.0.9-1+deb12u1"}, svc: "auditd",
		conf:     "/etc/audit/rules.d/bastion.rules",
		validate: "/sbin/auditctl -R %s",
		check:    "There was an error in line 12 of /etc/audit/rules.d/bastion.rules",
		cpus:     []int{2},
		memory:   []string{"1.92 GiB"},
		public:   true,
		bio:      "The locked front door operators come in through", contact: "security@example.com",
	},
	{
		role: "monitoring", prefix: "mon", domain: "ops.example.com", weight: 1,
		dcs: []string{"lon1"},
		os:  debian12, profile: "Profile::Nagios::Server",
		pkg: "nagios4", version: [2]string{"4.4.6-4", "4.4.6-4+deb12u1"}, svc: "nagios4",
		conf:     "/etc/nagios4/conf.d/fleet-hosts.cfg",
		validate: "/usr/sbin/nagios4 -v %s",
		check:    "Error: Could not find any host matching 'web09' (config file '/etc/nagios4/conf.d/fleet-hosts.cfg', starting on line 212)",
		cpus:     []int{4},
		memory:   []string{"7.75 GiB"},
		checks:   []string{"HTTP"},
		bio:      "Watches over every other server and raises the alarm", contact: "ops@example.com",
	},
	{
		role: "log_collector", prefix: "log", domain: "ops.example.com", weight: 2,
		dcs: []string{"fra1", "lon1"},
		os:  debian12, profile: "Profile::Rsyslog::Server",
		pkg: "rsyslog", version: [2]string{"8.2302.0-1", "8.2302.0-1+deb12u1"}, svc: "rsyslog",
		conf:     "/etc/rsyslog.d/10-receive.conf",
		validate: "/usr/sbin/rsyslogd -N1 -f %s",
		check:    "rsyslogd: error during parsing file /etc/rsyslog.d/10-receive.conf, on or before line 9: invalid character '}' - is there an invalid escape sequence somewhere?",
		cpus:     []int{4},
		memory:   []string{"7.75 GiB", "15.37 GiB"},
		bio:      "Collects every server's logs in one place", contact: "ops@example.com",
	},
	{
		role: "backup", prefix: "backup", domain: "ops.example.com", weight: 1,
		dcs: []string{"fra1"},
		os:  debian12, profile: "Profile::Bacula::Storage",
		pkg: "bacula-sd", version: [2]string{"13.0.1-3", "13.0.1-3+deb12u1"}, svc: "bacula-sd",
		conf:     "/etc/bacula/bacula-sd.conf",
		validate: "/usr/sbin/bacula-sd -t -c %s",
		check:    "bacula-sd: ERROR TERMINATION at lex.c:375 Config error: expected an equals, got: {",
		cpus:     []int{4},
		memory:   []string{"15.37 GiB"},
		bio:      "Keeps a copy of everything, made every night", contact: "ops@example.com",
	},
}

// specFor returns the spec of a role, or the first one for a role the
// catalogue does not know.
func specFor(role string) *roleSpec {
	for i := range roleSpecs {
		if roleSpecs[i].role == role {
			return &roleSpecs[i]
		}
	}
	return &roleSpecs[0]
}

// operators acknowledge problems and plan maintenance.
var operators = []string{"alice", "bob", "carol", "dmitri", "priya", "tomasz"}
