package demo

import (
	"bytes"
	"slices"
	"sort"
	"testing"
	"time"

	"fleetfeed/translators"
)

// incidents follows what a stream of payloads opens and closes, as the
// pipeline would.
type incidents struct {
	t       *testing.T
	open    map[string]bool // node|thread
	ids     map[string]bool
	tags    map[string]int
	sources map[string]int
	nodes   map[string]int
}

func newIncidents(t *testing.T) *incidents {
	return &incidents{t: t, open: map[string]bool{}, ids: map[string]bool{},
		tags: map[string]int{}, sources: map[string]int{}, nodes: map[string]int{}}
}

// quietRun reports whether p is a Puppet run with nothing to tell, which
// the test need not translate (the Puppet translator is slow under the
// race detector).
func quietRun(p Payload) bool {
	return p.Source == translators.SourcePuppet &&
		bytes.Contains(p.Body, []byte("\nstatus: unchanged\n")) && bytes.Contains(p.Body, []byte("\nnoop: false\n"))
}

// play follows p, sent at now (zero: whenever).
func (in *incidents) play(p Payload, now time.Time) {
	t := in.t
	t.Helper()
	in.sources[p.Source]++
	in.nodes[p.Node]++
	if quietRun(p) {
		return
	}
	for _, ev := range translate(t, p) {
		if in.ids[ev.ID] {
			t.Errorf("event id %s repeats", ev.ID)
		}
		in.ids[ev.ID] = true
		if !now.IsZero() && ev.Time.After(now) {
			t.Errorf("%s event %s is dated %v, after it was sent at %v", ev.Source, ev.ID, ev.Time, now)
		}
		d := ev.Post
		if d == nil {
			continue
		}
		for _, tag := range d.Tags {
			in.tags[tag]++
		}
		if d.Thread == "" {
			continue
		}
		key := ev.Node + "|" + d.Thread
		switch {
		case d.Opens:
			in.open[key] = true
		case d.Closes:
			// A changed Puppet run closes its thread whether or not a
			// failure opened it; anything else must end what it opened.
			if !in.open[key] && ev.Source != translators.SourcePuppet {
				t.Errorf("%q closes %s, which is not open", d.Text, key)
			}
			delete(in.open, key)
		case !in.open[key] && d.Thread != "" && slices.Contains(d.Tags, "acknowledged"):
			t.Errorf("%q acknowledges %s, which is not open", d.Text, key)
		}
	}
}

func TestSimKeepsIncidentsCoherent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		size, steps int
		tags        []string // tags the run must have posted
		minNodes    int
	}{
		{"fleet of 40", 40, 150, []string{"fail", "changed", "drift", "warning", "critical", "ok", "acknowledged", "security", "bruteforce"}, 25},
		{"fleet of 3", 3, 50, []string{"changed", "warning", "ok", "security"}, 3},
		{"fleet of 1", 1, 25, []string{"changed", "ok", "security"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(NewFleet(tc.size, 2), newRand(3))
			in := newIncidents(t)
			now := testNow
			for range tc.steps {
				now = now.Add(2 * time.Second)
				in.play(s.next(now), now)
			}
			if got, want := len(s.busy) > 0, s.open(); got != want {
				t.Errorf("busy %v but follow-ups pending %v", s.busy, s.open())
			}
			for s.open() {
				now = now.Add(2 * time.Second)
				in.play(s.flush(now), now)
			}
			if len(in.open) > 0 {
				var keys []string
				for k := range in.open {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				t.Errorf("incidents left open: %v", keys)
			}
			if len(s.busy) > 0 || len(s.down) > 0 || len(s.maint) > 0 {
				t.Errorf("after the flush: busy %v, down %v, in maintenance %v", s.busy, s.down, s.maint)
			}
			for _, tag := range tc.tags {
				if in.tags[tag] == 0 {
					t.Errorf("no post tagged %s; tags: %v", tag, in.tags)
				}
			}
			for _, src := range []string{translators.SourcePuppet, translators.SourceNagios, translators.SourceSuricata, translators.SourceFail2ban} {
				if in.sources[src] == 0 {
					t.Errorf("nothing from %s; sources: %v", src, in.sources)
				}
			}
			if got := len(in.nodes); got < tc.minNodes {
				t.Errorf("%d servers spoke, want at least %d: %v", got, tc.minNodes, in.nodes)
			}
		})
	}
}

func TestSimDeterministic(t *testing.T) {
	fleet := NewFleet(10, 1)
	a, b := newSim(fleet, newRand(5)), newSim(fleet, newRand(5))
	for i := range 40 {
		pa, pb := a.next(testNow), b.next(testNow)
		if !bytes.Equal(pa.Body, pb.Body) {
			t.Fatalf("event %d differs between two runs with one seed:\n%s\n%s", i, clip(pa.Body), clip(pb.Body))
		}
	}
}
