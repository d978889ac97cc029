package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/render"
	"fleetfeed/rpc/rpctest"
)

// cliFleet is a simulated fleet and the flags that reach it.
type cliFleet struct {
	*rpctest.Fleet
	flags []string
}

func newCLIFleet(t *testing.T, count int) *cliFleet {
	t.Helper()
	f := rpctest.NewFleet(t, rpctest.Options{Count: count})
	return &cliFleet{Fleet: f, flags: []string{
		"--broker", f.URL, "--collective", rpctest.Collective,
		"--key", filepath.Join(f.Dir, "client.key"), "--key-name", rpctest.ClientName, "--caller", rpctest.CallerID,
		"--trusted-dir", filepath.Join(f.Dir, "none"), "--trust", filepath.Join(f.Dir, rpctest.SimKeyName+".pub") + "=*",
	}}
}

// args puts the fleet's flags after the command's words and before its
// own flags, which so override them.
func (f *cliFleet) args(args ...string) []string {
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") })
	if i < 0 {
		i = len(args)
	}
	out := append(slices.Clone(args[:i]), f.flags...)
	return append(out, args[i:]...)
}

// run runs the CLI with the fleet's flags and stdin as its standard input.
func (f *cliFleet) run(t *testing.T, ctx context.Context, stdin []byte, stdout *bytes.Buffer, args ...string) (int, string) {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	var errb bytes.Buffer
	code := Main(ctx, f.args(args...), bytes.NewReader(stdin), stdout, &errb)
	return code, errb.String()
}

// cli runs the CLI and returns its exit status, stdout and stderr.
func (f *cliFleet) cli(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out bytes.Buffer
	code, stderr := f.run(t, nil, stdin, &out, args...)
	return code, out.String(), stderr
}

func jsonSenders(t *testing.T, out string) []string {
	t.Helper()
	var res render.JSONResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("-j output: %v\n%s", err, out)
	}
	var s []string
	for _, r := range res.Replies {
		s = append(s, r.Sender)
	}
	return s
}

func ids(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, agent.DemoIdentity(i))
	}
	slices.Sort(out)
	return out
}

func TestRPCCommandExitCodes(t *testing.T) {
	f := newCLIFleet(t, 8)
	web0, db2 := agent.DemoIdentity(0), agent.DemoIdentity(2)
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		stderr  string
		without []string
	}{
		{"ok", []string{"rpc", "rpcutil", "ping", "-I", web0, "-I", db2}, exitOK,
			[]string{web0, "Timestamp:", "Finished processing 2 / 2 hosts in"}, "", []string{"No response"}},
		{"no response", []string{"rpc", "rpcutil", "ping", "-I", web0, "-I", "web3.gone", "-I", "web7.gone", "-t", "0.5"},
			exitNoResponse, []string{"Finished processing 1 / 3 hosts", "No response from: web3.gone, web7.gone"},
			"no response from 2 of 3 nodes", nil},
		{"failed status", []string{"rpc", "puppet", "enable", "-I", web0}, exitFailed,
			[]string{web0 + strings.Repeat(" ", 40-len(web0)) + " Aborted", "Could not enable Puppet: Already enabled"}, "1 of 1 nodes failed", nil},
		{"display none", []string{"rpc", "puppet", "enable", "-I", web0, "--display", "none"}, exitFailed,
			[]string{"Finished processing 1 / 1"}, "", []string{"Aborted"}},
		{"unknown action", []string{"rpc", "puppet", "explode"}, exitUsage, nil, `agent puppet has no action "explode"`, nil},
		{"no action", []string{"rpc", "puppet"}, exitUsage, nil, "which action? puppet has: runonce, status", nil},
		{"bad input", []string{"rpc", "puppet", "runonce", "noop=maybe", "-I", web0}, exitUsage, nil, `input noop: "maybe" is not a boolean`, nil},
		{"unknown input", []string{"rpc", "puppet", "runonce", "colour=red"}, exitUsage, nil, `has no input "colour"`, nil},
		{"bad compound", []string{"rpc", "rpcutil", "ping", "-S", "roles::db and (os.family=Debian or"}, exitUsage, nil,
			"-S: at column 35: expected a fact comparison", nil},
		{"bad fact filter", []string{"rpc", "rpcutil", "ping", "-F", "novalue"}, exitUsage, nil, `-F "novalue"`, nil},
		{"bad flag", []string{"rpc", "rpcutil", "ping", "--batch", "0"}, exitUsage, nil, "--batch", nil},
		{"unknown flag", []string{"rpc", "rpcutil", "ping", "--frobnicate"}, exitUsage, nil, "unknown flag", nil},
		{"no nodes", []string{"rpc", "rpcutil", "ping", "-A", "nosuchagent", "--discovery-timeout", "0.3"}, exitNoNodes, nil,
			"no nodes discovered", nil},
		{"no key", []string{"rpc", "rpcutil", "ping", "--key", "/nonexistent/client.key"}, exitCannotRun, nil, "fleetfeed keygen", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := f.cli(t, nil, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.without {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

// TestRPCCommandChaining pipes one command's -j (or --jsonl) output into
// the next, which discovers from stdin.
func TestRPCCommandChaining(t *testing.T) {
	f := newCLIFleet(t, 12)
	code, first, stderr := f.cli(t, nil, "rpc", "rpcutil", "ping", "-C", "roles::database", "-j")
	if code != exitOK {
		t.Fatalf("first command: exit %d: %s", code, stderr)
	}
	dbs := ids(2, 6, 10)
	if got := jsonSenders(t, first); !slices.Equal(got, dbs) {
		t.Fatalf("first command answered %v, want %v", got, dbs)
	}
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		want  []string
	}{
		{"auto", []byte(first), nil, dbs},
		{"explicit", []byte(first), []string{"--dm", "stdin"}, dbs},
		{"identity filter", []byte(first), []string{"-I", "/0006/"}, ids(6)},
		{"text list", []byte(agent.DemoIdentity(1) + "\n" + agent.DemoIdentity(3) + "\n"), []string{"--dm", "stdin"}, ids(1, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"rpc", "puppet", "status", "-j"}, tc.args...)
			code, out, stderr := f.cli(t, tc.stdin, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := jsonSenders(t, out); !slices.Equal(got, tc.want) {
				t.Fatalf("answered %v, want %v", got, tc.want)
			}
			var res render.JSONResult
			json.Unmarshal([]byte(out), &res)
			if got, want := res.Stats.DiscoveryMethod, "stdin"; got != want {
				t.Fatalf("discovery method %q, want %q", got, want)
			}
			if len(res.Summaries) != 5 || res.Summaries[0].Output != "enabled" {
				t.Fatalf("summaries %+v", res.Summaries)
			}
		})
	}
	t.Run("jsonl", func(t *testing.T) {
		code, lines, stderr := f.cli(t, nil, "rpc", "rpcutil", "ping", "-I", agent.DemoIdentity(4), "-I", agent.DemoIdentity(5), "--jsonl")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var kinds []string
		for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
			var v struct{ Kind string }
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			kinds = append(kinds, v.Kind)
		}
		if got, want := strings.Join(kinds, ","), "discovery,reply,reply,summaries,stats"; got != want {
			t.Fatalf("line kinds %s, want %s", got, want)
		}
		code, out, stderr := f.cli(t, []byte(lines), "rpc", "rpcutil", "ping", "-j")
		if got := jsonSenders(t, out); code != exitOK || !slices.Equal(got, ids(4, 5)) {
			t.Fatalf("chained from --jsonl: exit %d, answered %v: %s", code, got, stderr)
		}
	})
	t.Run("find", func(t *testing.T) {
		code, out, _ := f.cli(t, nil, "find", "-C", "/load_balancer/", "-j")
		if code != exitOK {
			t.Fatalf("find: exit %d", code)
		}
		code, out, stderr := f.cli(t, []byte(out), "rpc", "rpcutil", "ping", "-j")
		if got := jsonSenders(t, out); code != exitOK || !slices.Equal(got, ids(3, 7, 11)) {
			t.Fatalf("chained from find -j: exit %d, answered %v: %s", code, got, stderr)
		}
	})
	t.Run("fact filter with stdin", func(t *testing.T) {
		// A filter beyond identities means broadcast: stdin is not read.
		code, out, stderr := f.cli(t, []byte(first), "rpc", "rpcutil", "ping", "-F", "datacenter=ams1", "-j")
		if got := jsonSenders(t, out); code != exitOK || !slices.Equal(got, ids(0, 5, 10)) {
			t.Fatalf("exit %d, answered %v: %s", code, got, stderr)
		}
	})
}

func TestDiscoveryMethodsCommand(t *testing.T) {
	f := newCLIFleet(t, 8)
	nodesFile := filepath.Join(t.TempDir(), "nodes.txt")
	if err := os.WriteFile(nodesFile, []byte("# two of them\n"+agent.DemoIdentity(1)+"\n"+agent.DemoIdentity(7)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server's node table, as GET /api/v1/nodes gives it.
	var list []map[string]any
	for _, a := range f.Sim.Agents() {
		reg := a.Registration()
		list = append(list, map[string]any{"name": strings.SplitN(reg.Identity, ".", 2)[0], "facts": reg.Facts,
			"classes": reg.Classes, "agents": reg.Agents})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"flatfile", []string{"--nodes", nodesFile}, ids(1, 7)},
		{"flatfile identity", []string{"--dm", "flatfile", "--nodes", nodesFile, "-I", "/^lb/"}, ids(7)},
		{"flatfile limit", []string{"--nodes", nodesFile, "--limit", "1", "--limit-method", "first"}, ids(1)},
		{"random limit", []string{"--nodes", nodesFile, "--limit", "50%", "--limit-seed", "3"}, nil},
		{"inventory", []string{"--dm", "inventory", "--server", srv.URL, "-F", "processors.count>=4", "-C", "/frontend/"}, ids(1, 4, 5)},
		{"inventory compound", []string{"--dm", "inventory", "--server", srv.URL, "-S", "not identity(/^web/) and datacenter=/^(nyc|sfo)/"},
			ids(2, 3, 7)},
		{"broadcast", []string{"--dm", "broadcast", "-W", "roles::database processors.count=8"}, ids(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := f.cli(t, nil, append([]string{"rpc", "rpcutil", "ping", "-j"}, tc.args...)...)
			got := jsonSenders(t, out)
			if tc.want == nil && len(got) == 1 { // a random one of the two
				tc.want = got
			}
			if code != exitOK || !slices.Equal(got, tc.want) {
				t.Fatalf("exit %d, answered %v, want %v: %s", code, got, tc.want, stderr)
			}
		})
	}
	code, _, stderr := f.cli(t, nil, "rpc", "rpcutil", "ping", "--nodes", nodesFile, "-C", "x")
	if code != exitUsage || !strings.Contains(stderr, "flatfile knows node names only") {
		t.Fatalf("class filter on a flat file: exit %d: %s", code, stderr)
	}
}

// cancelOnReply is a writer that cancels a context when it sees a reply
// line of --jsonl output: Ctrl-C in the middle of a batched request.
type cancelOnReply struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnReply) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(`"kind":"reply"`)) {
		w.cancel()
	}
	return w.buf.Write(p)
}

func TestBatchInterruptCommand(t *testing.T) {
	f := newCLIFleet(t, 12)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelOnReply{cancel: cancel}
	var errb bytes.Buffer
	list := filepath.Join(t.TempDir(), "all")
	if err := os.WriteFile(list, []byte(strings.Join(f.Identities(), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	code := Main(ctx, f.args("rpc", "rpcutil", "ping", "--nodes", list, "--batch", "4", "--batch-sleep", "60", "--jsonl"),
		bytes.NewReader(nil), w, &errb)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s\n%s", code, exitInterrupted, errb.String(), w.buf.String())
	}
	lines := strings.Split(strings.TrimSpace(w.buf.String()), "\n")
	var st render.JSONStats
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil {
		t.Fatal(err)
	}
	if st.Responses != 4 || st.BatchesRun != 1 || st.Batches != 3 || len(st.NotSent) != 8 || !st.Cancelled {
		t.Fatalf("stats %+v, want 4 answers from the first of 3 batches and 8 not sent", st)
	}
}

func TestPingFindInventoryFactsPlot(t *testing.T) {
	f := newCLIFleet(t, 10)
	web0, db2 := agent.DemoIdentity(0), agent.DemoIdentity(2)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"ping broadcast", []string{"ping", "--graph", "-C", "roles::database"}, exitOK,
			[]string{db2, "time=", "---- ping statistics ----", "2 replies max:"}},
		{"ping direct", []string{"ping", "-I", web0, "-I", "ghost.example.net", "-t", "0.5"}, exitNoResponse,
			[]string{web0, "1 replies max:", "No response from: ghost.example.net"}},
		{"ping nobody", []string{"ping", "-A", "nosuchagent", "-t", "0.3"}, exitNoNodes, []string{"No responses received"}},
		{"find", []string{"find", "-F", "environment=staging"}, exitOK, []string{agent.DemoIdentity(9) + "\n"}},
		{"find none", []string{"find", "-F", "environment=qa", "--discovery-timeout", "0.3"}, exitNoNodes, nil},
		{"inventory", []string{"inventory", db2}, exitOK, []string{"Inventory for " + db2, "roles::database",
			"os.release.major => 12", "rpcutil", "Main Collective: fleetfeed"}},
		{"inventory gone", []string{"inventory", "ghost.example.net", "-t", "0.3"}, exitNoResponse, nil},
		{"facts", []string{"facts", "datacenter", "-n"}, exitOK, []string{"Report for fact: datacenter",
			"ams1                                    found 2 times", "sin1                                    found 2 times",
			web0, "Finished processing 10 / 10 hosts"}},
		{"plot", []string{"plot", "rpcutil", "daemon_stats", "total", "-I", "/sim/", "--dm", "flatfile", "--nodes", "NODES"}, exitOK,
			[]string{"Total requests received", "Nodes\n", "└────", "Total Requests", "Finished processing 10 / 10"}},
		{"plot unknown output", []string{"plot", "rpcutil", "ping", "size"}, exitUsage, nil},
		{"runall gives up", []string{"puppet", "runall", "2", "-I", web0, "-I", db2, "--interval", "0.01", "--max-checks", "1"},
			exitFailed, []string{"Puppet ran on 0 / 2 servers", "Failed: " + db2 + ", " + web0}},
	}
	list := filepath.Join(t.TempDir(), "nodes")
	if err := os.WriteFile(list, []byte(strings.Join(f.Identities(), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	// All at once: several wait a discovery or reply timeout.
	type result struct {
		code           int
		stdout, stderr string
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		if j := slices.Index(tc.args, "NODES"); j >= 0 {
			tc.args[j] = list
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.code, r.stdout, r.stderr = f.cli(t, nil, tc.args...)
		}()
	}
	wg.Wait()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := results[i]
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}

func TestAsyncAndRepliesCommands(t *testing.T) {
	f := newCLIFleet(t, 6)
	dbPath := filepath.Join(t.TempDir(), "fleetfeed.db")
	db := feed.NewDB(dbPath)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &rpc.SQLiteReplyStore{DB: db}
	ctx, cancel := context.WithCancel(context.Background())
	conn := f.Dial(t)
	done := make(chan error, 1)
	go func() {
		done <- rpc.ListenReplies(ctx, conn, rpctest.Collective, rpc.DefaultAsyncListener, f.Trusted, store, nil)
	}()
	defer func() {
		cancel()
		<-done
	}()
	code, out, stderr := f.cli(t, nil, "rpc", "puppet", "status", "--async", "--db", dbPath, "-I", "/^web/", "-j")
	if code != exitOK {
		t.Fatalf("rpc --async: exit %d: %s", code, stderr)
	}
	var sent struct {
		RequestID string   `json:"requestid"`
		Nodes     []string `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &sent); err != nil || len(sent.Nodes) != 4 {
		t.Fatalf("--async -j output %q: %v", out, err)
	}
	waitUntil(t, "4 stored replies", func() bool {
		p, err := store.List(ctx, sent.RequestID, rpc.Page{})
		return err == nil && p.Total == 4
	})
	var outb, errb bytes.Buffer
	code = Main(ctx, []string{"replies", sent.RequestID, "--db", dbPath, "--limit", "2"}, nil, &outb, &errb)
	out, stderr = outb.String(), errb.String()
	if code != exitOK || !strings.Contains(out, "puppet#status by user=alice") || !strings.Contains(out, "2 of 4 replies; next page: --after") {
		t.Fatalf("replies: exit %d:\n%s\n%s", code, out, stderr)
	}
	audit, err := (&rpc.SQLiteAuditLog{DB: db}).List(ctx, rpc.AuditPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 1 || audit.Entries[0].RequestID != sent.RequestID || audit.Entries[0].Caller != "user=alice" ||
		audit.Entries[0].Mode != "async" || len(audit.Entries[0].Targets) != 4 {
		t.Fatalf("audit log %+v", audit.Entries)
	}
}

func TestKeygenCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"keygen", "bob", "--dir", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errb.String())
	}
	key, err := rpc.LoadPrivateKey(filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rpc.LoadPublicKey(filepath.Join(dir, "bob.pub"))
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("bob.pub does not match client.key: %v", err)
	}
	if code := Main(context.Background(), []string{"keygen", "bob", "--dir", dir}, nil, &out, &errb); code != exitCannotRun {
		t.Fatalf("second keygen: exit %d, want %d (never overwrite)", code, exitCannotRun)
	}
}

// waitUntil polls cond until it holds or the generous deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rpctest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
