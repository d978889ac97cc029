package demo

import (
	"math/rand/v2"
	"time"
)

// sim decides what happens next in the fleet and keeps incidents coherent:
// what it opens it closes a few events later, and it does not open a
// second incident where one is already open.
type sim struct {
	r     *rand.Rand
	fleet []Server
	seq   int // events played so far
	// pending are the later parts of open incidents.
	pending []followUp
	// busy holds the incidents open, by server and subject
	// ("web01.shop.example.com|svc:Load").
	busy map[string]bool
	// down holds the servers that are down: they send nothing.
	down map[string]bool
	// maint holds the servers in planned maintenance: Nagios stays quiet
	// about them.
	maint   map[string]bool
	problem int            // Nagios's last problem id
	bans    map[string]int // bans per address, for bancount
}

// followUp is a later part of an incident, played once seq reaches due.
type followUp struct {
	due   int
	build func(now time.Time) Payload
	done  func() // after it is played: the incident is over
}

// maxOpen bounds the incidents open at once, so the timeline is not all
// alarms.
const maxOpen = 8

func newSim(fleet []Server, r *rand.Rand) *sim {
	return &sim{
		r: r, fleet: fleet,
		busy: map[string]bool{}, down: map[string]bool{}, maint: map[string]bool{},
		problem: 100 + r.IntN(900), bans: map[string]int{},
	}
}

// next plays the next event at now: a follow-up that is due, or something
// new.
func (s *sim) next(now time.Time) Payload {
	s.seq++
	best := -1
	for i, f := range s.pending {
		if f.due <= s.seq && (best < 0 || f.due < s.pending[best].due) {
			best = i
		}
	}
	if best >= 0 {
		return s.play(best, now)
	}
	return s.fresh(now)
}

// open reports whether incidents are still open.
func (s *sim) open() bool { return len(s.pending) > 0 }

// flush plays the earliest follow-up, due or not.
func (s *sim) flush(now time.Time) Payload {
	s.seq++
	best := 0
	for i, f := range s.pending {
		if f.due < s.pending[best].due {
			best = i
		}
	}
	return s.play(best, now)
}

func (s *sim) play(i int, now time.Time) Payload {
	f := s.pending[i]
	s.pending = append(s.pending[:i], s.pending[i+1:]...)
	p := f.build(now)
	if f.done != nil {
		f.done()
	}
	return p
}

// later schedules a follow-up after more events; done runs once it is
// played.
func (s *sim) later(after int, build func(now time.Time) Payload, done func()) {
	s.pending = append(s.pending, followUp{due: s.seq + after, build: build, done: done})
}

// The weights of what happens, out of 100.
var playWeights = []struct {
	weight int
	play   func(s *sim, now time.Time) (Payload, bool)
}{
	{20, (*sim).puppetUnchanged},
	{16, (*sim).puppetChanged},
	{4, (*sim).puppetFailed},
	{3, (*sim).puppetNoop},
	{20, (*sim).nagiosProblem},
	{3, (*sim).nagiosFlapping},
	{2, (*sim).nagiosHostDown},
	{3, (*sim).nagiosDowntime},
	{19, (*sim).suricataAttack},
	{10, (*sim).fail2banBan},
}

// fresh starts something new; what cannot happen now (no server free for
// it) gives way to a Puppet run.
func (s *sim) fresh(now time.Time) Payload {
	total := 0
	for _, w := range playWeights {
		total += w.weight
	}
	n := s.r.IntN(total)
	for _, w := range playWeights {
		if n -= w.weight; n < 0 {
			if p, ok := w.play(s, now); ok {
				return p
			}
			break
		}
	}
	if p, ok := s.puppetChanged(now); ok {
		return p
	}
	// Every server is down or mid-incident: the first one still reports.
	return PuppetReport(s.fleet[0], PuppetUnchanged, 0, s.r, now)
}

// pick returns a server chosen at random among those that are up and
// pass ok (nil passes all).
func (s *sim) pick(ok func(Server) bool) (Server, bool) {
	var cands []int
	for i, srv := range s.fleet {
		if !s.down[srv.Name] && (ok == nil || ok(srv)) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return Server{}, false
	}
	return s.fleet[cands[s.r.IntN(len(cands))]], true
}

// freeChecks lists srv's checks without an open incident.
func (s *sim) freeChecks(srv Server) []string {
	var out []string
	for _, c := range NagiosChecks(srv) {
		if !s.busy[srv.Name+"|svc:"+c] {
			out = append(out, c)
		}
	}
	return out
}

// pickCheck picks a server Nagios may speak of and one of its free checks.
func (s *sim) pickCheck() (Server, string, bool) {
	srv, ok := s.pick(func(srv Server) bool {
		return !s.maint[srv.Name] && !s.busy[srv.Name+"|host"] && len(s.freeChecks(srv)) > 0
	})
	if !ok {
		return Server{}, "", false
	}
	checks := s.freeChecks(srv)
	return srv, checks[s.r.IntN(len(checks))], true
}

func (s *sim) full() bool { return len(s.busy) >= maxOpen }

func (s *sim) free(key string) func() {
	return func() { delete(s.busy, key) }
}

func (s *sim) nextProblem() int {
	s.problem++
	return s.problem
}

func (s *sim) notPuppetBusy(srv Server) bool { return !s.busy[srv.Name+"|puppet"] }

func (s *sim) puppetUnchanged(now time.Time) (Payload, bool) {
	srv, ok := s.pick(s.notPuppetBusy)
	if !ok {
		return Payload{}, false
	}
	return PuppetReport(srv, PuppetUnchanged, 0, s.r, now), true
}

func (s *sim) puppetChanged(now time.Time) (Payload, bool) {
	srv, ok := s.pick(s.notPuppetBusy)
	if !ok {
		return Payload{}, false
	}
	return PuppetReport(srv, PuppetChanged, s.r.IntN(PuppetChanges(srv)), s.r, now), true
}

func (s *sim) puppetNoop(now time.Time) (Payload, bool) {
	srv, ok := s.pick(s.notPuppetBusy)
	if !ok {
		return Payload{}, false
	}
	return PuppetReport(srv, PuppetNoop, s.r.IntN(PuppetChanges(srv)), s.r, now), true
}

// puppetFailed fails a change and has the server's next run make it.
func (s *sim) puppetFailed(now time.Time) (Payload, bool) {
	if s.full() {
		return Payload{}, false
	}
	srv, ok := s.pick(s.notPuppetBusy)
	if !ok {
		return Payload{}, false
	}
	key := srv.Name + "|puppet"
	s.busy[key] = true
	change := s.r.IntN(PuppetChanges(srv))
	s.later(3+s.r.IntN(6), func(now time.Time) Payload {
		return PuppetReport(srv, PuppetChanged, change, s.r, now)
	}, s.free(key))
	return PuppetReport(srv, PuppetFailed, change, s.r, now), true
}

// ackComments are what operators write when they take a problem on.
var ackComments = []string{
	"Looking into it",
	"On it, checking the logs",
	"Known issue, the fix is rolling out",
	"Investigating with the app team",
	"Taking a look now",
}

// maintenanceComments are why operators plan downtime.
var maintenanceComments = []string{
	"Kernel upgrade and reboot",
	"Moving this VM to a new hypervisor",
	"Replacing a failed disk",
	"Firmware update",
}

// nagiosProblem opens a problem on one check, maybe escalates it, maybe
// has an operator acknowledge it, and recovers it.
func (s *sim) nagiosProblem(now time.Time) (Payload, bool) {
	if s.full() {
		return Payload{}, false
	}
	srv, check, ok := s.pickCheck()
	if !ok {
		return Payload{}, false
	}
	key := srv.Name + "|svc:" + check
	s.busy[key] = true
	id := s.nextProblem()
	state := "WARNING"
	if s.r.IntN(3) == 0 {
		state = "CRITICAL"
	}
	first := Notification{Type: NagiosProblem, Service: check, State: state, LastState: "OK", Number: 1, ProblemID: id}
	number, last, after := 1, state, 0
	if state == "WARNING" && s.r.IntN(4) == 0 {
		after += 1 + s.r.IntN(3)
		number, last = 2, "CRITICAL"
		s.later(after, func(now time.Time) Payload {
			return NagiosNotification(srv, Notification{Type: NagiosProblem, Service: check, State: "CRITICAL", LastState: "WARNING",
				Number: 2, ProblemID: id}, s.r, now)
		}, nil)
	}
	if s.r.IntN(100) < 45 {
		after += 1 + s.r.IntN(3)
		who, why := operators[s.r.IntN(len(operators))], ackComments[s.r.IntN(len(ackComments))]
		n := Notification{Type: NagiosAcknowledgement, Service: check, State: last, LastState: last,
			Number: number, ProblemID: id, Author: who, Comment: why}
		s.later(after, func(now time.Time) Payload { return NagiosNotification(srv, n, s.r, now) }, nil)
	}
	after += 2 + s.r.IntN(6)
	rec := Notification{Type: NagiosRecovery, Service: check, State: "OK", LastState: last, Number: number + 1, ProblemID: id}
	s.later(after, func(now time.Time) Payload { return NagiosNotification(srv, rec, s.r, now) }, s.free(key))
	return NagiosNotification(srv, first, s.r, now), true
}

// nagiosFlapping has a check flap for a while.
func (s *sim) nagiosFlapping(now time.Time) (Payload, bool) {
	if s.full() {
		return Payload{}, false
	}
	srv, check, ok := s.pickCheck()
	if !ok {
		return Payload{}, false
	}
	key := srv.Name + "|svc:" + check
	s.busy[key] = true
	id := s.nextProblem()
	stop := Notification{Type: NagiosFlappingStop, Service: check, State: "OK", LastState: "OK", LastProblemID: id}
	s.later(4+s.r.IntN(6), func(now time.Time) Payload { return NagiosNotification(srv, stop, s.r, now) }, s.free(key))
	start := Notification{Type: NagiosFlappingStart, Service: check, State: "OK", LastState: "CRITICAL", ProblemID: id, LastProblemID: id - 1}
	return NagiosNotification(srv, start, s.r, now), true
}

// nagiosHostDown takes a server down for a few events.
func (s *sim) nagiosHostDown(now time.Time) (Payload, bool) {
	if s.full() || len(s.fleet) < 2 {
		return Payload{}, false
	}
	srv, ok := s.pick(func(srv Server) bool { return !s.maint[srv.Name] && !s.busy[srv.Name+"|host"] })
	if !ok {
		return Payload{}, false
	}
	key := srv.Name + "|host"
	s.busy[key] = true
	s.down[srv.Name] = true
	id := s.nextProblem()
	up := Notification{Type: NagiosRecovery, State: "UP", LastState: "DOWN", Number: 2}
	s.later(2+s.r.IntN(4), func(now time.Time) Payload { return NagiosNotification(srv, up, s.r, now) }, func() {
		delete(s.busy, key)
		delete(s.down, srv.Name)
	})
	return NagiosNotification(srv, Notification{Type: NagiosProblem, State: "DOWN", LastState: "DOWN", Number: 1, ProblemID: id}, s.r, now), true
}

// nagiosDowntime plans maintenance on a server; during it Puppet may
// update the server.
func (s *sim) nagiosDowntime(now time.Time) (Payload, bool) {
	if s.full() {
		return Payload{}, false
	}
	srv, ok := s.pick(func(srv Server) bool { return !s.maint[srv.Name] && !s.busy[srv.Name+"|host"] })
	if !ok {
		return Payload{}, false
	}
	key := srv.Name + "|host"
	s.busy[key] = true
	s.maint[srv.Name] = true
	who := operators[s.r.IntN(len(operators))]
	why := maintenanceComments[s.r.IntN(len(maintenanceComments))]
	after := 1 + s.r.IntN(2)
	if !s.busy[srv.Name+"|puppet"] {
		s.busy[srv.Name+"|puppet"] = true
		change := []int{0, 2}[s.r.IntN(2)] // a package upgrade
		s.later(after, func(now time.Time) Payload {
			return PuppetReport(srv, PuppetChanged, change, s.r, now)
		}, s.free(srv.Name+"|puppet"))
	}
	// Each downtime gets its own id, so two on one server never share an
	// event id.
	id := s.nextProblem()
	end := Notification{Type: NagiosDowntimeEnd, State: "UP", LastState: "UP", LastProblemID: id, Author: who, Comment: why}
	s.later(after+2+s.r.IntN(4), func(now time.Time) Payload { return NagiosNotification(srv, end, s.r, now) }, func() {
		delete(s.busy, key)
		delete(s.maint, srv.Name)
	})
	start := Notification{Type: NagiosDowntimeStart, State: "UP", LastState: "UP", LastProblemID: id, Author: who, Comment: why}
	return NagiosNotification(srv, start, s.r, now), true
}

// suricataAttack has an attacker try a public server; a password guesser
// gets banned by fail2ban soon after, and let go later.
func (s *sim) suricataAttack(now time.Time) (Payload, bool) {
	srv, ok := s.pick(func(srv Server) bool { return specFor(srv.Role).public })
	if !ok {
		return Payload{}, false
	}
	attack := AttackSSH
	if r := srv.Role; (r == "frontend_web" || r == "frontend_lb") && s.r.IntN(4) > 0 {
		attack = AttackWeb
	}
	src := attackerAddress(s.r)
	if attack == AttackSSH && !s.full() && s.r.IntN(2) == 0 {
		s.banLater(srv, src, 1+s.r.IntN(2))
	}
	return SuricataAlerts(srv, attack, src, 1+s.r.IntN(3), s.r, now), true
}

// fail2banBan bans a password guesser now.
func (s *sim) fail2banBan(now time.Time) (Payload, bool) {
	if s.full() {
		return Payload{}, false
	}
	srv, ok := s.pick(func(srv Server) bool { return specFor(srv.Role).public })
	if !ok {
		return Payload{}, false
	}
	ip := attackerAddress(s.r)
	if s.busy[srv.Name+"|ban:"+ip] {
		return Payload{}, false
	}
	b := s.ban(srv, ip, now)
	return Fail2banBan(srv, b, s.r), true
}

// banLater bans ip on srv after some events.
func (s *sim) banLater(srv Server, ip string, after int) {
	key := srv.Name + "|ban:" + ip
	if s.busy[key] {
		return
	}
	s.busy[key] = true
	s.later(after, func(now time.Time) Payload {
		b := s.ban(srv, ip, now)
		return Fail2banBan(srv, b, s.r)
	}, nil)
}

// ban records a ban that begins now and schedules its end.
func (s *sim) ban(srv Server, ip string, now time.Time) Ban {
	key := srv.Name + "|ban:" + ip
	s.busy[key] = true
	s.bans[ip]++
	b := newBan(srv, ip, s.bans[ip], s.r, now)
	s.later(4+s.r.IntN(7), func(now time.Time) Payload {
		// The demo runs faster than fail2ban's clock: the ban is lifted
		// a few events on, so it is told as if it had begun BanTime ago,
		// and the unban is dated now rather than minutes ahead.
		lifted := b
		lifted.At = now.UTC().Add(-time.Duration(b.BanTime) * time.Second).Truncate(time.Second)
		return Fail2banUnban(srv, lifted)
	}, s.free(key))
	return b
}
