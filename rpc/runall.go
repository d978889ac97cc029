package rpc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// RunAllOptions configure RunAll.
type RunAllOptions struct {
	// Concurrency is how many nodes may apply a catalog at once (runall
	// N); at least 1.
	Concurrency int
	// Filter, Discoverer, DiscoveryTimeout and Targets choose the nodes,
	// as in Call.
	Filter           *Filter
	Discoverer       Discoverer
	DiscoveryTimeout time.Duration
	Targets          []string
	// Data are extra inputs of each runonce (noop, tags, environment…);
	// force is always true, so that no run splays.
	Data map[string]any
	// Interval is the time between two status polls; default 1 s.
	Interval time.Duration
	// MaxChecks is how many polls a node may go without showing a run
	// (applying, or a newer last run), or without answering, before it is
	// given up; default 5.
	MaxChecks int
	// Timeout bounds each status and runonce request; default 10 s.
	Timeout time.Duration
	// OnEvent, if set, hears about each node as it starts and ends.
	OnEvent func(RunAllEvent)
}

// SkipNoAnswer is the reason RunAll gives for a node skipped because it
// did not answer the first status request.
const SkipNoAnswer = "no answer to status"

// RunAllEvent is one step of RunAll.
type RunAllEvent struct {
	Node string
	// Kind is "started", "finished", "failed", "waiting" (the node was
	// applying a catalog of its own when its turn came) or "skipped".
	Kind    string
	Message string
	// Running is the number of nodes applying, Done the number finished
	// or failed, Total the number of nodes to run, all after the event.
	Running, Done, Total int
}

// RunAllResult is what RunAll did.
type RunAllResult struct {
	// Nodes are the nodes discovered.
	Nodes []string
	// Finished are the nodes that completed a run RunAll started, in the
	// order they finished.
	Finished []string
	// Failed are nodes whose run could not be started or was given up,
	// with the reason; Skipped those not run (disabled, no answer to
	// status), with the reason.
	Failed  map[string]string
	Skipped map[string]string
	// NotRun (cancelled before their turn) and StillRunning (cancelled
	// while applying), sorted.
	NotRun       []string
	StillRunning []string
	// MaxRunning is the most nodes seen applying at once.
	MaxRunning int
	Elapsed    time.Duration
}

type runState struct {
	initiated   int64 // initiated_at of our runonce (Unix s)
	prevLastrun int64 // lastrun before it
	sawApplying bool
	checks      int // polls without progress
	misses      int // polls without an answer
}

// RunAll runs Puppet on every enabled node the options select, keeping
// at most Concurrency of them applying at a time, as
// mcollective-puppet-agent's "runall" does: it asks every node's status,
// starts forced runs while fewer than Concurrency nodes apply (nodes
// already applying a run of their own count, and get their turn once it
// ends), polls the status of those applying every Interval, and starts the
// next node when one finishes (it was seen applying and then not, or its
// last run is newer than the run it was asked for). When ctx ends it
// starts no more runs and returns at once; Result says which nodes did
// not run. Errors are those of discovery and of the first status request.
func RunAll(ctx context.Context, c *Client, opts RunAllOptions) (*RunAllResult, error) {
	start := time.Now()
	if opts.Concurrency < 1 {
		return nil, fmt.Errorf("runall: concurrency %d: must be at least 1: %w", opts.Concurrency, ErrInvalidRequest)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxChecks <= 0 {
		opts.MaxChecks = 5
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	runData := map[string]any{}
	maps.Copy(runData, opts.Data)
	runData["force"] = true
	if _, err := c.validate("puppet", "runonce", runData, nil); err != nil {
		return nil, fmt.Errorf("runall: %w", err)
	}
	res := &RunAllResult{Failed: map[string]string{}, Skipped: map[string]string{}}
	disc, err := c.Discover(ctx, Call{Agent: "puppet", Action: "status", Filter: opts.Filter, Targets: opts.Targets,
		Discoverer: opts.Discoverer, DiscoveryTimeout: opts.DiscoveryTimeout})
	if err != nil {
		return nil, fmt.Errorf("runall: %w", err)
	}
	res.Nodes = disc.Nodes
	if len(disc.Nodes) == 0 {
		return res, fmt.Errorf("runall: %w", ErrNoNodes)
	}
	status := func(nodes []string) (map[string]map[string]any, error) {
		r, err := c.Do(ctx, Call{Agent: "puppet", Action: "status", Targets: nodes, Timeout: opts.Timeout})
		if err != nil {
			return nil, err
		}
		out := map[string]map[string]any{}
		for _, rep := range r.Replies {
			if rep.StatusCode == StatusOK {
				out[rep.SenderID] = rep.Data
			}
		}
		return out, nil
	}
	first, err := status(disc.Nodes)
	if err != nil {
		return nil, fmt.Errorf("runall: status: %w", err)
	}
	var queue []string
	external := map[string]bool{} // applying a run we did not start
	running := map[string]*runState{}
	lastrun := map[string]int64{}
	done, total := 0, 0
	emit := func(node, kind, msg string) {
		if kind == "finished" || kind == "failed" {
			done++
		}
		if opts.OnEvent != nil {
			opts.OnEvent(RunAllEvent{Node: node, Kind: kind, Message: msg, Running: len(running) + len(external),
				Done: done, Total: total})
		}
	}
	for _, n := range disc.Nodes {
		st, ok := first[n]
		switch {
		case !ok:
			res.Skipped[n] = SkipNoAnswer
		case !boolValue(st["enabled"]):
			res.Skipped[n] = fmt.Sprintf("Puppet is disabled: %v", st["disable_message"])
		default:
			queue = append(queue, n)
			lastrun[n] = intValue(st["lastrun"])
			if boolValue(st["applying"]) {
				external[n] = true
			}
		}
	}
	total = len(queue)
	for _, n := range sortedCopy(slices.Collect(maps.Keys(res.Skipped))) {
		emit(n, "skipped", res.Skipped[n])
	}
	note := func() { res.MaxRunning = max(res.MaxRunning, len(running)+len(external)) }
	note()
	for len(queue) > 0 || len(running) > 0 || len(external) > 0 {
		// Start runs while there is room, skipping nodes busy with their own.
		for i := 0; i < len(queue) && len(running)+len(external) < opts.Concurrency && ctx.Err() == nil; {
			n := queue[i]
			if external[n] {
				i++
				continue
			}
			queue = slices.Delete(queue, i, i+1)
			r, err := c.Do(ctx, Call{Agent: "puppet", Action: "runonce", Data: runData, Targets: []string{n}, Timeout: opts.Timeout})
			switch {
			case err != nil && !errors.Is(err, ErrNoNodes):
				return res, fmt.Errorf("runall: runonce %s: %w", n, err)
			case len(r.Replies) == 0:
				res.Failed[n] = "no answer to runonce"
				emit(n, "failed", res.Failed[n])
			case r.Replies[0].StatusCode != StatusOK:
				// Busy with a run of its own since the last status? Then
				// wait for it; any other refusal fails the node.
				if st, err := status([]string{n}); err == nil && boolValue(st[n]["applying"]) {
					external[n] = true
					queue = append(queue, n)
					emit(n, "waiting", "applying a catalog of its own")
					continue
				}
				res.Failed[n] = r.Replies[0].StatusMsg
				emit(n, "failed", res.Failed[n])
			default:
				initiated := intValue(r.Replies[0].Data["initiated_at"])
				if initiated == 0 {
					initiated = r.Replies[0].At.Unix()
				}
				running[n] = &runState{initiated: initiated, prevLastrun: lastrun[n]}
				note()
				emit(n, "started", "")
			}
		}
		if ctx.Err() != nil || len(running)+len(external) == 0 {
			break
		}
		t := time.NewTimer(opts.Interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
		polled := append(slices.Collect(maps.Keys(running)), slices.Collect(maps.Keys(external))...)
		slices.Sort(polled)
		st, err := status(slices.Compact(polled))
		if err != nil {
			return res, fmt.Errorf("runall: status: %w", err)
		}
		for n := range external {
			if s, ok := st[n]; ok && !boolValue(s["applying"]) {
				delete(external, n)
				lastrun[n] = intValue(s["lastrun"])
			}
		}
		for _, n := range sortedCopy(slices.Collect(maps.Keys(running))) {
			rs := running[n]
			s, ok := st[n]
			if !ok {
				if rs.misses++; rs.misses >= opts.MaxChecks {
					delete(running, n)
					res.Failed[n] = fmt.Sprintf("stopped answering status (%d polls)", rs.misses)
					emit(n, "failed", res.Failed[n])
				}
				continue
			}
			rs.misses = 0
			applying, last := boolValue(s["applying"]), intValue(s["lastrun"])
			switch {
			case applying:
				rs.sawApplying = true
			case rs.sawApplying || (last > rs.prevLastrun && last >= rs.initiated):
				delete(running, n)
				res.Finished = append(res.Finished, n)
				emit(n, "finished", "")
			default:
				if rs.checks++; rs.checks >= opts.MaxChecks {
					delete(running, n)
					res.Failed[n] = fmt.Sprintf("no run seen after %d polls", rs.checks)
					emit(n, "failed", res.Failed[n])
				}
			}
		}
	}
	if ctx.Err() != nil {
		res.NotRun = sortedCopy(queue)
		res.StillRunning = sortedCopy(slices.Collect(maps.Keys(running)))
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func boolValue(v any) bool {
	b, _ := v.(bool)
	return b
}

func intValue(v any) int64 {
	f, _ := factNumber(v)
	return int64(f)
}
