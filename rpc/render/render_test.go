package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<name>.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (go test -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func action(t *testing.T, agentName, name string) *rpc.ActionDDL {
	t.Helper()
	for _, d := range agent.BuiltinDDLs() {
		if d.Metadata.Name == agentName {
			return d.Action(name)
		}
	}
	t.Fatalf("no DDL for %s", agentName)
	return nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func reply(sender string, code rpc.StatusCode, msg string, data map[string]any) rpc.Received {
	return rpc.Received{Reply: &rpc.Reply{SenderID: sender, StatusCode: code, StatusMsg: msg, Data: data},
		At: t0.Add(12 * time.Millisecond), Elapsed: 12 * time.Millisecond}
}

// statusReplies are puppet status replies of a small fleet.
func statusReplies() []rpc.Received {
	var out []rpc.Received
	for i := range 12 {
		status, enabled := "idling", true
		switch {
		case i%5 == 4:
			status, enabled = "disabled", false
		case i%3 == 2:
			status = "applying a catalog"
		}
		out = append(out, reply(fmt.Sprintf("web%02d.example.net", i), rpc.StatusOK, "OK", map[string]any{
			"applying": status == "applying a catalog", "enabled": enabled, "status": status,
			"idling": status == "idling", "daemon_present": true, "lastrun": json.Number("1772366400"),
			"since_lastrun": json.Number(fmt.Sprint(60 * i)), "disable_message": "", "message": "Currently " + status,
		}))
	}
	out = append(out, reply("db01.example.net", rpc.StatusUnknownAction, "Unknown agent puppet", nil))
	return out
}

func TestReplies(t *testing.T) {
	act := action(t, "puppet", "status")
	replies := statusReplies()[10:]
	for _, d := range []Display{DisplayDDL, DisplayOK, DisplayFailed, DisplayNone} {
		t.Run(string(d)+"-", func(t *testing.T) {
			var b bytes.Buffer
			if err := Replies(&b, act, replies, d); err != nil {
				t.Fatal(err)
			}
			golden(t, "replies-"+map[Display]string{"": "ddl"}[d]+string(d), b.String())
		})
	}
	t.Run("runonce-failed-by-default", func(t *testing.T) {
		var b bytes.Buffer
		replies := []rpc.Received{
			reply("web1", rpc.StatusOK, "OK", map[string]any{"summary": "Started", "initiated_at": json.Number("1772366400")}),
			reply("web2", rpc.StatusAborted, "Puppet is disabled: 'maintenance until 14:00'", map[string]any{}),
		}
		if err := Replies(&b, action(t, "puppet", "runonce"), replies, DisplayDDL); err != nil {
			t.Fatal(err)
		}
		golden(t, "replies-runonce", b.String())
	})
	t.Run("nested", func(t *testing.T) {
		var b bytes.Buffer
		replies := []rpc.Received{reply("web1", rpc.StatusOK, "OK", map[string]any{
			"agents": []any{"package", "puppet", "rpcutil"},
			"facts":  map[string]any{"os": map[string]any{"family": "Debian"}, "kernel": "Linux"},
		})}
		if err := Replies(&b, action(t, "rpcutil", "inventory"), replies, DisplayAll); err != nil {
			t.Fatal(err)
		}
		golden(t, "replies-nested", b.String())
	})
}

func TestSummaries(t *testing.T) {
	var b bytes.Buffer
	if err := Summaries(&b, rpc.Aggregate(action(t, "puppet", "status"), statusReplies())); err != nil {
		t.Fatal(err)
	}
	var runs []rpc.Received
	for i := range 30 {
		runs = append(runs, reply(fmt.Sprintf("n%02d", i), rpc.StatusOK, "OK", map[string]any{
			"config_retrieval_time": json.Number(fmt.Sprintf("%.3f", 0.5+float64(i%7)*0.25)),
			"total_time":            json.Number(fmt.Sprintf("%.2f", 3+float64(i*i%50)/3)),
			"total_resources":       json.Number(fmt.Sprint(400 + 37*(i%9))),
		}))
	}
	if err := Summaries(&b, rpc.Aggregate(action(t, "puppet", "last_run_summary"), runs)); err != nil {
		t.Fatal(err)
	}
	// Functions the builtin DDLs do not use.
	act := &rpc.ActionDDL{
		Output: map[string]*rpc.OutputDDL{"load": {DisplayAs: "Load"}, "name": {DisplayAs: "Name"}},
		Aggregate: []rpc.AggregateDDL{
			{Function: "sum", Args: []string{"load"}}, {Function: "min", Args: []string{"load"}},
			{Function: "max", Args: []string{"load"}}, {Function: "count", Args: []string{"name"}},
			{Function: "chart", Args: []string{"load"}}, {Function: "average", Args: []string{"name"}},
		},
	}
	var loads []rpc.Received
	for i := range 40 {
		loads = append(loads, reply(fmt.Sprint("n", i), rpc.StatusOK, "OK", map[string]any{
			"load": float64(i%10) * 0.5, "name": fmt.Sprint("n", i),
		}))
	}
	if err := Summaries(&b, rpc.Aggregate(act, loads)); err != nil {
		t.Fatal(err)
	}
	golden(t, "summaries", b.String())
}

func TestStats(t *testing.T) {
	var nodes []string
	for i := range 50 {
		nodes = append(nodes, fmt.Sprintf("web%d.example.net", i))
	}
	for _, tc := range []struct {
		name    string
		stats   rpc.Stats
		verbose bool
	}{
		{"ok", rpc.Stats{Targets: nodes[:48], Responded: 48, OK: 48, RequestTime: 82 * time.Millisecond}, false},
		{"no-response", rpc.Stats{Targets: nodes, Responded: 48, OK: 47, Failed: 1,
			NoResponse: []string{"web3", "web7"}, RequestTime: 2083 * time.Millisecond}, false},
		{"long-lists", rpc.Stats{Targets: nodes, Responded: 38, OK: 38, NoResponse: nodes[:12],
			Unexpected: []string{"stray1.example.net"}, RequestTime: 12345 * time.Millisecond}, false},
		{"cancelled", rpc.Stats{Targets: nodes[:10], Responded: 4, OK: 4, NotSent: nodes[4:10], Batches: 5, BatchesRun: 2,
			Cancelled: true, RequestTime: 4100 * time.Millisecond}, false},
		{"verbose", rpc.Stats{RequestID: "0123456789abcdef0123456789abcdef", Method: "broadcast",
			Targets: nodes[:3], Responded: 3, OK: 2, Failed: 1, Batches: 1, BatchesRun: 1, Start: t0,
			DiscoveryTime: 2001 * time.Millisecond, PublishTime: 3 * time.Millisecond, RequestTime: 47 * time.Millisecond,
			TotalTime: 2051 * time.Millisecond}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Stats(&b, &tc.stats, tc.verbose); err != nil {
				t.Fatal(err)
			}
			golden(t, "stats-"+tc.name, b.String())
		})
	}
}

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []float64
		want   string
	}{
		{"empty", nil, ""},
		{"zeros", []float64{0, 0}, "▁▁"},
		{"ramp", []float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"one", []float64{3}, "█"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sparkline(tc.counts); got != tc.want {
				t.Fatalf("Sparkline = %q, want %q", got, tc.want)
			}
		})
	}
	ds := []time.Duration{3 * time.Millisecond, 12 * time.Millisecond, 49 * time.Millisecond, 51 * time.Millisecond,
		170 * time.Millisecond, 20 * time.Millisecond}
	if got, want := fmt.Sprint(TimeBuckets(ds, 50*time.Millisecond)), "[4 1 0 1]"; got != want {
		t.Fatalf("TimeBuckets = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(Buckets([]float64{1, 1, 1}, 5)), "[0 0 3 0 0]"; got != want {
		t.Fatalf("Buckets of equal values = %s, want %s", got, want)
	}
	golden(t, "sparkline-ping", Sparkline(TimeBuckets(ds, 50*time.Millisecond))+"\n")
}

func plotValues() []float64 {
	var vs []float64
	for i := range 120 {
		// A skewed hump: most runs take 20-40 s, a few much longer.
		vs = append(vs, 18+float64((i*37)%23)+float64(i%5)*3+float64(i/100)*60)
	}
	return vs
}

func TestPlot(t *testing.T) {
	for _, kind := range []PlotKind{PlotHistogram, PlotLine} {
		t.Run(string(kind), func(t *testing.T) {
			var b bytes.Buffer
			err := Plot(&b, PlotOptions{Title: "Seconds the run took", XLabel: "Total Time", YLabel: "Nodes",
				Values: plotValues(), Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "plot-"+string(kind), b.String())
		})
	}
	t.Run("few", func(t *testing.T) {
		var b bytes.Buffer
		if err := Plot(&b, PlotOptions{Values: []float64{5, 5, 5}, Buckets: 5, Width: 20}); err != nil {
			t.Fatal(err)
		}
		golden(t, "plot-equal", b.String())
	})
	t.Run("none", func(t *testing.T) {
		var b bytes.Buffer
		if err := Plot(&b, PlotOptions{Title: "x"}); err != nil {
			t.Fatal(err)
		}
		if got, want := b.String(), "x\n\n   (no values to plot)\n"; got != want {
			t.Fatalf("Plot = %q, want %q", got, want)
		}
	})
}

func TestNumberAndDuration(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{{0, "0"}, {12, "12"}, {12.345, "12.35"}, {-3, "-3"}, {12500, "12.5k"}, {3.4e6, "3.4m"}, {2e9, "2.0g"}} {
		if got := Number(tc.f); got != tc.want {
			t.Errorf("Number(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{82 * time.Millisecond, "82 ms"}, {2083 * time.Millisecond, "2083 ms"}, {12345 * time.Millisecond, "12.35 s"}} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestJSONResult(t *testing.T) {
	res := &rpc.Result{Agent: "puppet", Action: "status", Replies: statusReplies()[11:],
		Stats: rpc.Stats{RequestID: "0123456789abcdef0123456789abcdef", Method: "inventory", Start: t0,
			Discovered: []string{"a", "b"}, Targets: []string{"a", "b"}, Responded: 2, OK: 1, Failed: 1, Batches: 1, BatchesRun: 1,
			TotalTime: 1500 * time.Microsecond}}
	var b bytes.Buffer
	if err := JSON(&b, NewJSONResult(res, rpc.Aggregate(action(t, "puppet", "status"), res.Replies))); err != nil {
		t.Fatal(err)
	}
	golden(t, "json-result", b.String())
	nodes, err := rpc.ParseNodeList(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(nodes, ","), "web11.example.net,db01.example.net"; got != want {
		t.Fatalf("nodes read back = %s, want %s", got, want)
	}
}

func TestParseDisplay(t *testing.T) {
	for in, want := range map[string]Display{"": DisplayDDL, "ok": DisplayOK, "failed": DisplayFailed, "all": DisplayAll,
		"always": DisplayAll, "none": DisplayNone} {
		if got, err := ParseDisplay(in); err != nil || got != want {
			t.Errorf("ParseDisplay(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseDisplay("some"); err == nil {
		t.Error("ParseDisplay(some) succeeded")
	}
}
