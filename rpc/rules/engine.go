package rules

import (
	"context"
	"fmt"
	"log/slog"
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
	// Nodes finds the facts of a post's node for rules that match facts;
	// without it, those rules never match.
	Nodes NodeLookup

	mu      sync.Mutex
	rules   []*Rule
	runs    map[string][]time.Time // rule name → start of its runs, newest last
	replies map[string]lastReply   // rule name → its latest reply
	wg      sync.WaitGroup
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
	facts := e.factsOf(ctx, p.Node)
	for _, r := range e.Rules() {
		if !r.Matches(p, facts) || !e.allow(r) {
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
	// Keep the runs of the window (which Statuses counts too), and
	// the last one while its cooldown lasts.
	keep := max(r.window(), r.Cooldown)
	kept := runs[:0]
	for _, t := range runs {
		if now.Sub(t) < keep {
			kept = append(kept, t)
		}
	}
	runs = kept
	if r.MaxRuns > 0 {
		inWindow := 0
		for _, t := range runs {
			if now.Sub(t) < r.Per {
				inWindow++
			}
		}
		if inWindow >= r.MaxRuns {
			e.runs[r.Name] = runs
			return false
		}
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
	if r.Description != "" {
		details["description"] = r.Description
	}
	sev := translators.SeverityInfo
	var text string
	var started []string // the servers that started a Puppet run
	what := actionWords(call.Agent, call.Action)
	if r.DryRun {
		disc, err := e.Client.Discover(ctx, call)
		if err != nil {
			text, sev = dryRunFailedText(r, what), translators.SeverityWarning
			details["error"] = err.Error()
		} else {
			text = dryRunText(r, what, len(disc.Nodes))
			details["targets"] = disc.Nodes
		}
	} else {
		res, err := e.Client.Do(ctx, call)
		started = puppetStarted(call, res)
		switch {
		case res == nil:
			text, sev = notAskedText(r, what), translators.SeverityWarning
		default:
			st := &res.Stats
			details["requestid"], details["targets"] = st.RequestID, st.Targets
			details["ok"], details["failed"], details["no_response"] = st.OK, st.Failed, st.NoResponse
			text = ranText(r, what, st)
			if !st.AllOK() {
				sev = translators.SeverityWarning
			}
		}
		if err != nil {
			details["error"] = err.Error()
			log.Warn("rule run failed", "err", err)
		}
	}
	e.recordReply(r.Name, text, sev)
	ev := translators.Event{
		ID: fmt.Sprintf("%s:%s:%d", Source, r.Name, p.ID), Source: Source, Node: p.Node, Time: e.now(),
		Post: &translators.Draft{
			Text: text, Tags: []string{"rule"}, Severity: sev, Thread: p.Thread, ReplyTo: p.ID, Details: details,
		},
	}
	// The reply is posted even when ctx has ended: the RPC was sent.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	posted, err := e.Poster.Ingest(pctx, []translators.Event{ev})
	if err != nil {
		log.Error("post rule run", "err", err)
		return
	}
	if err := e.expectReports(pctx, started, posted); err != nil {
		log.Error("link the Puppet reports to the rule's post", "err", err)
	}
}

// Expecter links the posts an RPC causes to the post that asked for them;
// *feed.Pipeline is one. When the engine's Poster is also an Expecter,
// the Puppet report of each server a rule's runonce started is linked to
// the rule's reply (see feed.Expectation).
type Expecter interface {
	Expect(ctx context.Context, exps ...feed.Expectation) error
}

var _ Expecter = (*feed.Pipeline)(nil)

// puppetStarted returns the servers that said yes to a Puppet runonce.
func puppetStarted(call rpc.Call, res *rpc.Result) []string {
	if res == nil || call.Agent != "puppet" || call.Action != "runonce" {
		return nil
	}
	var ok []string
	for _, r := range res.Replies {
		if r.Reply != nil && r.StatusCode == rpc.StatusOK {
			ok = append(ok, r.SenderID)
		}
	}
	return ok
}

// expectReports has the Puppet reports of the servers in started linked
// to the rule's reply, the post posted made.
func (e *Engine) expectReports(ctx context.Context, started []string, posted *feed.IngestResult) error {
	x, ok := e.Poster.(Expecter)
	if !ok || len(started) == 0 || posted == nil {
		return nil
	}
	var cause int64
	switch {
	case len(posted.Posts) > 0:
		cause = posted.Posts[0]
	case len(posted.Folded) > 0:
		cause = posted.Folded[0]
	default:
		return nil
	}
	exps := make([]feed.Expectation, len(started))
	for i, node := range started {
		exps[i] = feed.Expectation{Node: node, Source: translators.SourcePuppet, Cause: cause}
	}
	return x.Expect(ctx, exps...)
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
