package rules

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/translators"
)

// Source is the source of the posts rules make. Rules never react to
// them.
const Source = "rules"

// Caller runs RPCs; *rpc.Client is one.
type Caller interface {
	Do(ctx context.Context, call rpc.Call) (*rpc.Result, error)
	Discover(ctx context.Context, call rpc.Call) (*rpc.Discovery, error)
}

// Poster stores the posts rules make; *feed.Pipeline is one.
type Poster interface {
	Ingest(ctx context.Context, evs []translators.Event) (*feed.IngestResult, error)
}

var (
	_ Caller = (*rpc.Client)(nil)
	_ Poster = (*feed.Pipeline)(nil)
)

// hubBuffer is how many notices the engine's subscription holds; the
// reader only matches and starts runs, so it keeps up.
const hubBuffer = 1024

// Engine runs rules on the posts a hub publishes.
type Engine struct {
	Hub    *feed.Hub
	Client Caller
	Poster Poster
	// Logger; nil discards.
	Logger *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time

	mu    sync.Mutex
	rules []*Rule
	runs  map[string][]time.Time // rule name → start of its runs, newest last
	wg    sync.WaitGroup
}

// SetRules replaces the rules (a reload); the cooldowns and rate limits
// of rules that keep their name carry over.
func (e *Engine) SetRules(rs []*Rule) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = rs
}

// Rules returns the rules in use.
func (e *Engine) Rules() []*Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rules
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run reacts to new posts until ctx ends, then waits for the runs it
// started. It never blocks the hub: runs go on in their own goroutines,
// and if the hub drops the engine for falling behind anyway, it logs it
// and subscribes again.
func (e *Engine) Run(ctx context.Context) error {
	defer e.wg.Wait()
	for {
		sub := e.Hub.Subscribe(hubBuffer)
		if !e.read(ctx, sub) {
			sub.Close()
			return nil
		}
		e.log().Warn("rules fell behind the hub; some posts were not seen")
	}
}

// read handles sub's notices; false when ctx ended.
func (e *Engine) read(ctx context.Context, sub *feed.Subscription) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case n, ok := <-sub.C():
			if !ok {
				return true
			}
			if n.Kind == feed.NoticeUpdate && n.Post != nil {
				e.Handle(ctx, n.Post)
			}
		}
	}
}

// Handle starts the run of every rule p triggers, and returns at once.
func (e *Engine) Handle(ctx context.Context, p *feed.Post) {
	if p.Source == Source {
		return // a rule's own report never triggers a rule
	}
	for _, r := range e.Rules() {
		if !r.Matches(p) || !e.allow(r) {
			continue
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.fire(ctx, r, p)
		}()
	}
}

// allow reports whether r may run now, and if so counts the run: the
// cooldown starts when a run starts, so the posts its RPC causes (a
// Puppet run on the load balancers reporting in) cannot start another.
func (e *Engine) allow(r *Rule) bool {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runs == nil {
		e.runs = map[string][]time.Time{}
	}
	runs := e.runs[r.Name]
	if n := len(runs); n > 0 && now.Sub(runs[n-1]) < r.Cooldown {
		return false
	}
	if r.MaxRuns > 0 {
		kept := runs[:0]
		for _, t := range runs {
			if now.Sub(t) < r.Per {
				kept = append(kept, t)
			}
		}
		runs = kept
		if len(runs) >= r.MaxRuns {
			e.runs[r.Name] = runs
			return false
		}
	} else if len(runs) > 0 {
		runs = runs[len(runs)-1:]
	}
	e.runs[r.Name] = append(runs, now)
	return true
}

// fire runs r's action for the post p and posts the outcome in p's thread.
func (e *Engine) fire(ctx context.Context, r *Rule, p *feed.Post) {
	log := e.log().With("rule", r.Name, "post", p.ID)
	filter, err := r.Run.Filter.rpcFilter()
	if err != nil { // checked when loaded
		log.Error("rule filter", "err", err)
		return
	}
	call := rpc.Call{
		Agent: r.Run.Agent, Action: r.Run.Action, Data: r.Run.Data, Filter: filter,
		Timeout: r.Run.Timeout, Via: "rule=" + r.Name,
	}
	details := map[string]any{
		"rule": r.Name, "agent": call.Agent, "action": call.Action, "filter": filter, "dry_run": r.DryRun,
	}
	sev := translators.SeverityInfo
	var text string
	what := actionWords(call.Agent, call.Action)
	if r.DryRun {
		disc, err := e.Client.Discover(ctx, call)
		if err != nil {
			text, sev = fmt.Sprintf("The rule %s would have asked servers to %s, but finding them failed", r.Name, what), translators.SeverityWarning
			details["error"] = err.Error()
		} else {
			text = fmt.Sprintf("The rule %s would have asked %s to %s (dry run)", r.Name, servers(len(disc.Nodes)), what)
			details["targets"] = disc.Nodes
		}
	} else {
		res, err := e.Client.Do(ctx, call)
		switch {
		case res == nil:
			text, sev = fmt.Sprintf("The rule %s could not ask the servers to %s", r.Name, what), translators.SeverityWarning
		default:
			st := &res.Stats
			details["requestid"], details["targets"] = st.RequestID, st.Targets
			details["ok"], details["failed"], details["no_response"] = st.OK, st.Failed, st.NoResponse
			text = fmt.Sprintf("The rule %s asked %s to %s: %s", r.Name, servers(len(st.Targets)), what, outcome(st))
			if !st.AllOK() {
				sev = translators.SeverityWarning
			}
		}
		if err != nil {
			details["error"] = err.Error()
			log.Warn("rule run failed", "err", err)
		}
	}
	ev := translators.Event{
		ID: fmt.Sprintf("%s:%s:%d", Source, r.Name, p.ID), Source: Source, Node: p.Node, Time: e.now(),
		Post: &translators.Draft{
			Text: text, Tags: []string{"rule"}, Severity: sev, Thread: p.Thread, ReplyTo: p.ID, Details: details,
		},
	}
	// The reply is posted even when ctx has ended: the RPC was sent.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := e.Poster.Ingest(pctx, []translators.Event{ev}); err != nil {
		log.Error("post rule run", "err", err)
	}
}

// actionWords says what an agent's action does, in words a reader knows.
func actionWords(agent, action string) string {
	switch agent + " " + action {
	case "puppet runonce":
		return "run Puppet"
	case "puppet status", "puppet last_run_summary":
		return "report on Puppet"
	case "puppet enable":
		return "turn Puppet back on"
	case "puppet disable":
		return "pause Puppet"
	case "service restart":
		return "restart a service"
	case "service start":
		return "start a service"
	case "service stop":
		return "stop a service"
	case "service status":
		return "check a service"
	case "package status":
		return "check a package"
	case "rpcutil ping":
		return "answer a ping"
	}
	return "carry out " + agent + " " + action
}

func servers(n int) string {
	if n == 1 {
		return "1 server"
	}
	return fmt.Sprintf("%d servers", n)
}

func outcome(st *rpc.Stats) string {
	var parts []string
	if st.OK > 0 {
		parts = append(parts, fmt.Sprintf("%d did it", st.OK))
	}
	if st.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", st.Failed))
	}
	if n := len(st.NoResponse); n > 0 {
		parts = append(parts, fmt.Sprintf("%d did not answer", n))
	}
	if len(parts) == 0 {
		return "nothing happened"
	}
	return strings.Join(parts, ", ")
}
