package demo

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// PuppetRuns sends the reports of the Puppet runs that RPCs start on the
// demo fleet: an operator clicks "Run Puppet" or a rule runs Puppet, a
// simulated agent says yes and starts a run (agent.SimConfig.OnPuppetRun
// calls Started), and when the run ends, a few seconds later, the
// server's report goes through the same HTTP ingest as Run's, so that it
// becomes the server's post, linked to the post that asked for it.
//
// A real run that finds nothing to change makes no post (the Puppet
// translator keeps an unchanged run's post only when it ends a failure).
// So that the demo shows something, each of its runs makes one of the
// server's quick changes (settings files, a user account; a different one
// each time, so that the report does not fold into the last one), and a
// noop run reports that change as drift, still to be made.
type PuppetRuns struct {
	cfg     Config
	ctx     context.Context
	servers map[string]Server
	// after waits for a run to end; tests make it instant.
	after func(time.Duration) <-chan time.Time

	mu   sync.Mutex
	r    *rand.Rand
	next map[string]int // server → index into quickChanges
	wg   sync.WaitGroup
}

// quickChanges are the changes (see changeKinds) a run makes in a few
// seconds: no package to download, each with its own sentence.
var quickChanges = []int{1, 3, 5, 6, 7}

// NewPuppetRuns returns the reporter of cfg's fleet's runs; the reports
// it has not sent when ctx ends are dropped. It returns an error when cfg
// is not usable.
func NewPuppetRuns(ctx context.Context, cfg Config) (*PuppetRuns, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pr := &PuppetRuns{
		cfg: c, ctx: ctx, servers: map[string]Server{}, after: time.After,
		r: rand.New(rand.NewPCG(uint64(c.Seed), 3)), next: map[string]int{},
	}
	for _, s := range c.Fleet {
		pr.servers[s.Name] = s
	}
	return pr, nil
}

// Started is agent.SimConfig.OnPuppetRun: the server identity started a
// Puppet run, a noop run if noop. It returns at once; the report is sent
// when the run ends. Identities not in the fleet are logged and ignored.
func (pr *PuppetRuns) Started(identity string, noop bool) {
	s, ok := pr.servers[identity]
	if !ok {
		pr.cfg.Logf("demo: a Puppet run started on %s, which is not in the demo fleet", identity)
		return
	}
	status := PuppetChanged
	if noop {
		status = PuppetNoop
	}
	now := time.Now()
	pr.mu.Lock()
	i, seen := pr.next[identity]
	if !seen {
		i = pr.r.IntN(len(quickChanges))
	}
	pr.next[identity] = (i + 1) % len(quickChanges)
	// The run starts after a short splay and takes as long as the
	// catalog does.
	start := now.Add(jitter(pr.r, time.Second, 3*time.Second))
	p, end := puppetRunFrom(s, status, quickChanges[i], pr.r, start)
	pr.mu.Unlock()
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		select {
		case <-pr.ctx.Done():
			return
		case <-pr.after(end.Sub(now)):
		}
		pr.cfg.send(pr.ctx, p)
	}()
}

// Wait returns once every report started has been sent or dropped.
func (pr *PuppetRuns) Wait() { pr.wg.Wait() }
