package demo

// A Puppet run as the agent lives it: the catalog applied resource by
// resource, with its logs, events and metrics, written out as the YAML the
// http report processor sends.

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// prun is a run being written.
type prun struct {
	r        *rand.Rand
	host     string
	start    time.Time
	cursor   time.Time
	status   string
	noop     bool
	pending  bool
	uuid     string
	catalog  string
	version  int64
	retrieve float64
	logs     []plog
	statuses []*pstatus
}

type plog struct {
	level, message, source string
	tags                   []string
	time                   time.Time
	file                   any
	line                   any
}

type pstatus struct {
	res                       pres
	eval                      float64
	time                      time.Time
	failed, failedRestart     bool
	changed, outOfSync, skip  bool
	changeCount, outSyncCount int
	events                    []pevent
	restarted                 bool
}

type pevent struct {
	property          any
	previous, desired any
	message, name     string
	status            string
	time              time.Time
}

// newPuppetRun starts a run at about now; endAt later sets its times.
func newPuppetRun(s Server, r *rand.Rand, now time.Time) *prun {
	start := now.UTC()
	retrieve := 0.8 + r.Float64()*2.5
	return &prun{
		r:        r,
		host:     s.Name,
		start:    start,
		cursor:   start.Add(time.Duration((retrieve + 1.2) * float64(time.Second))),
		uuid:     newUUID(r),
		catalog:  newUUID(r),
		version:  start.Unix() + 1,
		retrieve: retrieve,
	}
}

// endAt moves every time of the run so that it ends at t.
func (p *prun) endAt(t time.Time) {
	d := t.UTC().Sub(p.cursor)
	p.start = p.start.Add(d)
	p.cursor = p.cursor.Add(d)
	p.version = p.start.Unix() + 1
	for i := range p.logs {
		p.logs[i].time = p.logs[i].time.Add(d)
	}
	for _, st := range p.statuses {
		st.time = st.time.Add(d)
		for i := range st.events {
			st.events[i].time = st.events[i].time.Add(d)
		}
	}
}

// tick moves the run's clock on by a little and returns it.
func (p *prun) tick(min, max time.Duration) time.Time {
	p.cursor = p.cursor.Add(jitter(p.r, min, max))
	return p.cursor
}

func (p *prun) log(level, message string, res *pres, extra ...string) {
	l := plog{level: level, message: message, source: "Puppet", tags: []string{level}, time: p.tick(50*time.Microsecond, 400*time.Microsecond)}
	if res != nil {
		l.source = res.source()
		for _, e := range extra {
			l.source += "/" + e
		}
		l.tags = append(l.tags, res.tags()...)
		l.file, l.line = res.manifest(), res.line
	}
	p.logs = append(p.logs, l)
}

// apply evaluates the catalog, making (or failing, or only noting) c.
func (p *prun) apply(cat []pres, c *pchange, status PuppetStatus) {
	p.status = "unchanged"
	p.noop = status == PuppetNoop
	touched := map[string]int{}
	if c != nil {
		for i, s := range c.steps {
			touched[s.ref] = i
		}
	}
	failedPrimary := false
	for _, res := range cat {
		st := &pstatus{res: res, time: p.tick(100*time.Microsecond, 3*time.Millisecond)}
		st.eval = evalTime(p.r, res.typ)
		p.statuses = append(p.statuses, st)
		i, ok := touched[res.ref()]
		if !ok {
			p.spend(st.eval)
			continue
		}
		s := c.steps[i]
		switch {
		case status == PuppetNoop:
			p.noopStep(st, s, i)
		case status == PuppetFailed && i == 0 && c.failRestart == "":
			p.failStep(st, s, c)
			failedPrimary = true
		case status == PuppetFailed && failedPrimary:
			p.skipStep(st, c.steps[0])
		case status == PuppetFailed && i > 0 && c.failRestart != "" && s.prop == "":
			p.failRestart(st, c.failRestart)
		default:
			p.changeStep(st, s)
		}
		p.spend(st.eval)
	}
	if status == PuppetNoop && c != nil {
		// Noop refreshes bubble up to the containing class and stage.
		first := cat[0]
		for _, res := range cat {
			if res.ref() == c.steps[0].ref {
				first = res
			}
		}
		n := len(c.steps)
		p.logs = append(p.logs,
			plog{level: "notice", message: fmt.Sprintf("Would have triggered 'refresh' from %s", events(n)),
				source: "Class[" + first.class + "]", tags: []string{"notice", "class"}, time: p.tick(50*time.Microsecond, 200*time.Microsecond)},
			plog{level: "notice", message: "Would have triggered 'refresh' from 1 event",
				source: "Stage[main]", tags: []string{"notice", "stage"}, time: p.tick(50*time.Microsecond, 200*time.Microsecond)})
	}
	for _, st := range p.statuses {
		switch {
		case st.failed || st.failedRestart:
			p.status = "failed"
		case st.changed && p.status != "failed":
			p.status = "changed"
		case st.outOfSync && p.noop:
			p.pending = true
		}
	}
	p.log("notice", fmt.Sprintf("Applied catalog in %.2f seconds", p.cursor.Sub(p.start).Seconds()-p.retrieve-1.2), nil)
}

// spend moves the run's clock on by a resource's evaluation time; a
// skipped resource (-1) took none.
func (p *prun) spend(seconds float64) {
	if seconds > 0 {
		p.cursor = p.cursor.Add(time.Duration(seconds * float64(time.Second)))
	}
}

func events(n int) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

func evalTime(r *rand.Rand, typ string) float64 {
	switch typ {
	case "Package":
		return 0.02 + r.Float64()*0.3
	case "Service":
		return 0.01 + r.Float64()*0.05
	case "File":
		return 0.0005 + r.Float64()*0.01
	case "User", "Ssh_authorized_key":
		return 0.0003 + r.Float64()*0.003
	}
	return 0.00002 + r.Float64()*0.0002
}

// changeStep makes a step succeed.
func (p *prun) changeStep(st *pstatus, s step) {
	st.changed, st.outOfSync = true, true
	st.changeCount, st.outSyncCount = 1, 1
	ev := pevent{property: s.prop, previous: s.from, desired: s.to, name: s.event, status: "success", time: p.tick(100*time.Microsecond, time.Millisecond)}
	switch {
	case s.prop == "":
		// A refresh: Puppet restarts the service.
		ev.property, ev.previous, ev.desired = nil, nil, nil
		ev.message = "Triggered 'refresh' from 1 event"
		st.restarted = true
		st.eval += 1 + p.r.Float64()*3
		p.log("notice", ev.message, &st.res)
	case s.prop == "ensure" && s.from == "absent":
		ev.message = "created"
		p.log("notice", ev.message, &st.res, "ensure")
	default:
		ev.message = fmt.Sprintf("%s changed '%s' to '%s'", s.prop, s.from, s.to)
		p.log("notice", ev.message, &st.res, s.prop)
		if st.res.typ == "Package" {
			st.eval += 8 + p.r.Float64()*20
		}
	}
	st.events = append(st.events, ev)
}

// failStep makes the change's first step fail.
func (p *prun) failStep(st *pstatus, s step, c *pchange) {
	st.failed, st.outOfSync = true, true
	st.outSyncCount = 1
	if c.failEval {
		msg := "Could not evaluate: " + c.fail
		p.log("err", msg, &st.res)
		st.events = append(st.events, pevent{name: "resource_error", status: "failure", message: c.fail, time: p.tick(50*time.Microsecond, 300*time.Microsecond)})
		return
	}
	prop := s.prop
	msg := fmt.Sprintf("change from '%s' to '%s' failed: %s", s.from, s.to, c.fail)
	p.log("err", c.fail, nil)
	p.log("err", msg, &st.res, prop)
	st.events = append(st.events, pevent{property: prop, previous: s.from, desired: s.to, name: s.event, status: "failure", message: msg, time: p.tick(50*time.Microsecond, 300*time.Microsecond)})
}

// skipStep skips a step whose dependency failed.
func (p *prun) skipStep(st *pstatus, failed step) {
	st.skip = true
	st.eval = -1
	p.log("notice", fmt.Sprintf("Dependency %s has failures: true", failed.ref), &st.res)
	p.log("warning", "Skipping because of failed dependencies", &st.res)
}

// failRestart makes a refresh fail.
func (p *prun) failRestart(st *pstatus, why string) {
	st.failedRestart = true
	p.log("err", "Failed to call refresh: "+why, &st.res)
}

// noopStep notes what a step would change.
func (p *prun) noopStep(st *pstatus, s step, i int) {
	if s.prop == "" {
		p.log("notice", "Would have triggered 'refresh' from 1 event", &st.res)
		return
	}
	st.outOfSync, st.outSyncCount = true, 1
	from, to := s.from, s.to
	desired := any(to)
	if s.prop == "content" {
		// The file was edited by hand; Puppet 7 writes the checksum it
		// wants base64-encoded in a noop event.
		from = checksum(p.host, st.res.title, "edited by hand")
		desired = base64.StdEncoding.EncodeToString([]byte(to))
	}
	msg := fmt.Sprintf("current_value '%s', should be '%s' (noop)", from, to)
	p.log("notice", msg, &st.res, s.prop)
	st.events = append(st.events, pevent{property: s.prop, previous: from, desired: desired, message: msg,
		name: s.event, status: "noop", time: p.tick(50*time.Microsecond, 300*time.Microsecond)})
}

func puppetTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000-07:00")
}

// yaml writes the report as Puppet's http report processor sends it.
func (p *prun) yaml() string {
	w := &yamlWriter{}
	w.b.WriteString("--- !ruby/object:Puppet::Transaction::Report\n")
	w.kv(0, "host", p.host)
	w.kv(0, "time", puppetTime(p.start))
	w.kv(0, "configuration_version", p.version)
	w.kv(0, "transaction_uuid", p.uuid)
	w.kv(0, "report_format", 12)
	w.kv(0, "puppet_version", puppetVersion)
	w.kv(0, "status", p.status)
	w.kv(0, "transaction_completed", true)
	w.kv(0, "noop", p.noop)
	w.kv(0, "noop_pending", p.pending)
	w.kv(0, "environment", "production")
	w.key(0, "logs")
	for _, l := range p.logs {
		w.itemKV(0, "level", l.level)
		w.kv(2, "message", l.message)
		w.kv(2, "source", l.source)
		w.list(2, "tags", l.tags)
		w.kv(2, "time", puppetTime(l.time))
		w.kv(2, "file", l.file)
		w.kv(2, "line", l.line)
	}
	p.writeMetrics(w)
	w.key(0, "resource_statuses")
	for _, st := range p.statuses {
		p.writeStatus(w, st)
	}
	w.kv(0, "corrective_change", false)
	w.kv(0, "catalog_uuid", p.catalog)
	w.kv(0, "cached_catalog_status", "not_used")
	w.kv(0, "server_used", "puppet.ops.example.com:8140")
	return w.String()
}

func (p *prun) writeStatus(w *yamlWriter, st *pstatus) {
	res := st.res
	w.key(2, res.ref())
	w.kv(4, "title", res.title)
	w.kv(4, "file", res.manifest())
	if res.line > 0 {
		w.kv(4, "line", res.line)
	} else {
		w.kv(4, "line", nil)
	}
	w.kv(4, "resource", res.ref())
	w.kv(4, "resource_type", res.typ)
	if res.provider != "" {
		w.kv(4, "provider_used", res.provider)
	} else {
		w.kv(4, "provider_used", nil)
	}
	w.list(4, "containment_path", res.containment())
	if st.eval >= 0 {
		w.kv(4, "evaluation_time", st.eval)
	} else {
		w.kv(4, "evaluation_time", nil)
	}
	w.list(4, "tags", res.tags())
	w.kv(4, "time", puppetTime(st.time))
	w.kv(4, "failed", st.failed)
	w.kv(4, "failed_to_restart", st.failedRestart)
	w.kv(4, "changed", st.changed)
	w.kv(4, "out_of_sync", st.outOfSync)
	w.kv(4, "skipped", st.skip)
	w.kv(4, "change_count", st.changeCount)
	w.kv(4, "out_of_sync_count", st.outSyncCount)
	if len(st.events) == 0 {
		w.list(4, "events", nil)
	} else {
		w.key(4, "events")
		for _, e := range st.events {
			w.itemKV(4, "audited", false)
			w.kv(6, "property", e.property)
			w.kv(6, "previous_value", e.previous)
			w.kv(6, "desired_value", e.desired)
			w.kv(6, "historical_value", nil)
			w.kv(6, "message", e.message)
			w.kv(6, "name", e.name)
			w.kv(6, "status", e.status)
			w.kv(6, "time", puppetTime(e.time))
			if e.property == nil {
				w.kv(6, "redacted", false)
			} else {
				w.kv(6, "redacted", nil)
			}
			w.kv(6, "corrective_change", false)
		}
	}
	w.kv(4, "corrective_change", false)
}

func (p *prun) writeMetrics(w *yamlWriter) {
	var total, skipped, failed, failedRestart, restarted, changed, outOfSync int
	var evTotal, evFail, evOK, evNoop int
	typeTime := map[string]float64{}
	var types []string
	for _, st := range p.statuses {
		total++
		switch {
		case st.skip:
			skipped++
		case st.failed:
			failed++
		}
		if st.failedRestart {
			failedRestart++
		}
		if st.restarted {
			restarted++
		}
		if st.changed {
			changed++
		}
		if st.outOfSync {
			outOfSync++
		}
		for _, e := range st.events {
			evTotal++
			switch e.status {
			case "failure":
				evFail++
			case "noop":
				evNoop++
			default:
				evOK++
			}
		}
		if st.eval >= 0 {
			t := strings.ToLower(st.res.typ)
			if _, ok := typeTime[t]; !ok {
				types = append(types, t)
			}
			typeTime[t] += st.eval
		}
	}
	metric := func(name, label string, rows [][3]any) {
		w.key(2, name)
		w.kv(4, "name", name)
		w.kv(4, "label", label)
		w.key(4, "values")
		for _, row := range rows {
			w.pad(4)
			w.b.WriteString("- - ")
			w.b.WriteString(yamlScalar(row[0], 8))
			w.b.WriteByte('\n')
			w.pad(6)
			w.b.WriteString("- ")
			w.b.WriteString(yamlScalar(row[1], 8))
			w.b.WriteByte('\n')
			w.pad(6)
			w.b.WriteString("- ")
			w.b.WriteString(yamlScalar(row[2], 8))
			w.b.WriteByte('\n')
		}
	}
	w.key(0, "metrics")
	metric("resources", "Resources", [][3]any{
		{"total", "Total", total}, {"skipped", "Skipped", skipped}, {"failed", "Failed", failed},
		{"failed_to_restart", "Failed to restart", failedRestart}, {"restarted", "Restarted", restarted},
		{"changed", "Changed", changed}, {"out_of_sync", "Out of sync", outOfSync},
		{"scheduled", "Scheduled", 0}, {"corrective_change", "Corrective change", 0},
	})
	var rows [][3]any
	for _, t := range types {
		rows = append(rows, [3]any{t, strings.ToUpper(t[:1]) + strings.ReplaceAll(t[1:], "_", " "), typeTime[t]})
	}
	catalogApp := p.cursor.Sub(p.start).Seconds() - p.retrieve - 1.2
	rows = append(rows,
		[3]any{"config_retrieval", "Config retrieval", p.retrieve},
		[3]any{"convert_catalog", "Convert catalog", 0.2 + p.r.Float64()*0.3},
		[3]any{"fact_generation", "Fact generation", 0.5 + p.r.Float64()*0.6},
		[3]any{"node_retrieval", "Node retrieval", 0.1 + p.r.Float64()*0.2},
		[3]any{"plugin_sync", "Plugin sync", 0.3 + p.r.Float64()*0.4},
		[3]any{"transaction_evaluation", "Transaction evaluation", catalogApp - 0.004},
		[3]any{"catalog_application", "Catalog application", catalogApp},
		[3]any{"total", "Total", p.cursor.Sub(p.start).Seconds()},
	)
	metric("time", "Time", rows)
	metric("changes", "Changes", [][3]any{{"total", "Total", evOK}})
	evRows := [][3]any{{"total", "Total", evTotal}, {"failure", "Failure", evFail}, {"success", "Success", evOK}}
	if p.noop {
		evRows = append(evRows, [3]any{"noop", "Noop", evNoop})
	}
	metric("events", "Events", evRows)
}
