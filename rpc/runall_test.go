package rpc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/rpctest"
)

// puppetRuns counts the simulated Puppet runs of a fleet: how many apply
// now, the most that ever did at once, and the runs of each node.
type puppetRuns struct {
	applying, most atomic.Int32
	mu             sync.Mutex
	runs           map[string]int
}

// fakePuppet is a Runner whose "puppet agent --onetime" takes a while:
// it holds the catalog lock (with a live pid, this process's), then
// writes last_run_summary.yaml and releases the lock, as Puppet does.
type fakePuppet struct {
	node, lock, summary string
	took                time.Duration
	runs                *puppetRuns
}

func (p *fakePuppet) Run(context.Context, agent.Command) (agent.Output, error) {
	return agent.Output{}, nil
}
func (p *fakePuppet) LookPath(name string) (string, error) { return name, nil }

func (p *fakePuppet) Start(agent.Command) error {
	if err := os.WriteFile(p.lock, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		return err
	}
	n := p.runs.applying.Add(1)
	for m := p.runs.most.Load(); n > m && !p.runs.most.CompareAndSwap(m, n); m = p.runs.most.Load() {
	}
	go func() {
		time.Sleep(p.took)
		summary := fmt.Sprintf("version:\n  config: '1'\n  puppet: 8.10.0\ntime:\n  last_run: %d\n  total: 1.5\nresources:\n  total: 10\n", time.Now().Unix())
		os.WriteFile(p.summary, []byte(summary), 0o644)
		p.runs.mu.Lock()
		p.runs.runs[p.node]++
		p.runs.mu.Unlock()
		p.runs.applying.Add(-1) // before the lock goes: RunAll may start the next run then
		os.Remove(p.lock)
	}()
	return nil
}

func TestRunAll(t *testing.T) {
	f := rpctest.NewFleet(t, rpctest.Options{Count: 1})
	runs := &puppetRuns{runs: map[string]int{}}
	var names []string
	for i := range 9 {
		node := fmt.Sprintf("pup%02d.example.net", i)
		names = append(names, node)
		dir := t.TempDir()
		fp := &fakePuppet{node: node, lock: filepath.Join(dir, "catalog.lock"), summary: filepath.Join(dir, "summary.yaml"),
			took: 100 * time.Millisecond, runs: runs}
		disabled := filepath.Join(dir, "disabled.lock")
		if i == 4 {
			if err := os.WriteFile(disabled, []byte(`{"disabled_message":"maintenance"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		startAgent(t, f, node, func(c *agent.Config) {
			c.Runner = fp
			c.Plugins = agent.PluginsConfig{Enabled: []string{"puppet"}, Puppet: agent.PuppetConfig{
				Command: "puppet", LastRunFile: fp.summary, CatalogRunLock: fp.lock, DisabledLock: disabled,
				PIDFile: filepath.Join(dir, "agent.pid"),
			}}
		})
	}
	f.WaitReady(t, names...)
	c := f.Client(t, f.Dial(t))
	var events []rpc.RunAllEvent
	res, err := rpc.RunAll(context.Background(), c, rpc.RunAllOptions{
		Concurrency: 3, Filter: &rpc.Filter{Identity: []string{"/^pup/"}}, DiscoveryTimeout: time.Second,
		Interval: 20 * time.Millisecond, MaxChecks: 500, Timeout: rpctest.Wait,
		OnEvent: func(e rpc.RunAllEvent) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(res.Nodes), names; !slices.Equal(got, want) {
		t.Fatalf("discovered %v, want %v", got, want)
	}
	if got, want := len(res.Finished), 8; got != want || len(res.Failed) != 0 {
		t.Fatalf("finished %v, failed %v", res.Finished, res.Failed)
	}
	if got, want := res.Skipped[names[4]], "Puppet is disabled: maintenance"; got != want {
		t.Fatalf("skipped %v, want %s skipped: %s", res.Skipped, names[4], want)
	}
	runs.mu.Lock()
	defer runs.mu.Unlock()
	for i, n := range names {
		if want := map[bool]int{true: 0, false: 1}[i == 4]; runs.runs[n] != want {
			t.Errorf("%s ran %d times, want %d", n, runs.runs[n], want)
		}
	}
	if got := runs.most.Load(); got > 3 || res.MaxRunning > 3 {
		t.Fatalf("%d runs at once (RunAll counted %d), want at most 3", got, res.MaxRunning)
	}
	// It starts N runs before it first polls, whatever the timing.
	if got, want := res.MaxRunning, 3; got != want {
		t.Fatalf("RunAll ran at most %d at once, want %d", got, want)
	}
	last := events[len(events)-1]
	if last.Done != 8 || last.Total != 8 {
		t.Fatalf("last event %+v, want 8 / 8 done", last)
	}
}
