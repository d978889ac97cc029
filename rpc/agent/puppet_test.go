package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
)

type puppetFixture struct {
	p       *puppetPlugin
	run     *fakeRunner
	dir     string
	signals []int
}

func newPuppetFixture(t *testing.T, change ...func(*PuppetConfig)) *puppetFixture {
	t.Helper()
	dir := t.TempDir()
	cfg := PuppetConfig{
		Command:        "/usr/bin/puppet",
		LastRunFile:    filepath.Join(dir, "last_run_summary.yaml"),
		CatalogRunLock: filepath.Join(dir, "agent_catalog_run.lock"),
		DisabledLock:   filepath.Join(dir, "agent_disabled.lock"),
		PIDFile:        filepath.Join(dir, "agent.pid"),
	}
	for _, c := range change {
		c(&cfg)
	}
	f := &puppetFixture{run: &fakeRunner{}, dir: dir}
	f.p = newPuppetPlugin(cfg, f.run, func() time.Time { return testNow })
	f.p.signal = func(pid int) error { f.signals = append(f.signals, pid); return nil }
	return f
}

func (f *puppetFixture) do(t *testing.T, action string, inputs map[string]any) (map[string]any, error) {
	t.Helper()
	act := puppetDDL.Action(action)
	typed, err := act.ValidateInputs(inputs)
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	wire := &rpc.Request{CallerID: "user=alice", Agent: "puppet", Action: action}
	return f.p.Do(context.Background(), &Request{Wire: wire, Action: action, Inputs: typed})
}

func (f *puppetFixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deadPID is a pid no process has (above the kernel's pid_max limit).
const deadPID = "4194305"

func TestPuppetRunonceArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs map[string]any
		want   string
	}{
		{"defaults splay", map[string]any{}, "agent --onetime --no-daemonize --color=false --splay --splaylimit 30"},
		{"force never splays", map[string]any{"force": true}, "agent --onetime --no-daemonize --color=false --no-splay"},
		{"no splay", map[string]any{"splay": false}, "agent --onetime --no-daemonize --color=false --no-splay"},
		{"splaylimit", map[string]any{"splaylimit": 120.0}, "agent --onetime --no-daemonize --color=false --splay --splaylimit 120"},
		{"noop and tags", map[string]any{"noop": true, "tags": "nginx,profile::web", "force": true},
			"agent --onetime --no-daemonize --color=false --noop --no-splay --tags nginx,profile::web"},
		{"no-noop environment cached", map[string]any{"noop": false, "environment": "staging", "use_cached_catalog": true, "force": true},
			"agent --onetime --no-daemonize --color=false --no-noop --no-splay --environment staging --use_cached_catalog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPuppetFixture(t)
			out, err := f.do(t, "runonce", tc.inputs)
			if err != nil {
				t.Fatalf("runonce: %v", err)
			}
			if got, want := len(f.run.started), 1; got != want {
				t.Fatalf("started %d commands, want %d", got, want)
			}
			cmd := f.run.started[0]
			if got, want := cmd.Path, "/usr/bin/puppet"; got != want {
				t.Fatalf("path = %q, want %q", got, want)
			}
			if got, want := strings.Join(cmd.Args, " "), tc.want; got != want {
				t.Fatalf("args = %q\nwant   %q", got, want)
			}
			if got, want := out["initiated_at"], any(testNow.Unix()); got != want {
				t.Fatalf("initiated_at = %v, want %v", got, want)
			}
		})
	}
}

func TestPuppetRunonceRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, f *puppetFixture)
		inputs map[string]any
		msg    string
	}{
		{"disabled", func(t *testing.T, f *puppetFixture) {
			f.write(t, "agent_disabled.lock", `{"disabled_message":"maintenance window"}`)
		}, nil, "Puppet is disabled: 'maintenance window'"},
		{"applying", func(t *testing.T, f *puppetFixture) {
			f.write(t, "agent_catalog_run.lock", strconv.Itoa(os.Getpid()))
		}, nil, "currently applying"},
		{"server override", func(*testing.T, *puppetFixture) {}, map[string]any{"server": "evil.example.com"}, "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPuppetFixture(t)
			tc.setup(t, f)
			_, err := f.do(t, "runonce", tc.inputs)
			var se *rpc.StatusError
			if !errors.As(err, &se) || se.Code != rpc.StatusAborted {
				t.Fatalf("runonce = %v, want an aborted status", err)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("message %q does not contain %q", se.Msg, tc.msg)
			}
			if got := f.run.commands(); len(got) != 0 {
				t.Fatalf("ran %v", got)
			}
		})
	}
}

func TestPuppetRunonceStaleLock(t *testing.T) {
	f := newPuppetFixture(t)
	f.write(t, "agent_catalog_run.lock", deadPID)
	if _, err := f.do(t, "runonce", nil); err != nil {
		t.Fatalf("runonce with a stale lock: %v", err)
	}
	if got, want := len(f.run.started), 1; got != want {
		t.Fatalf("started %d, want %d", got, want)
	}
}

func TestPuppetRunonceSignalsDaemon(t *testing.T) {
	f := newPuppetFixture(t)
	f.write(t, "agent.pid", strconv.Itoa(os.Getpid()))
	out, err := f.do(t, "runonce", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.signals), 1; got != want {
		t.Fatalf("signals = %d, want %d", got, want)
	}
	if got := f.run.commands(); len(got) != 0 {
		t.Fatalf("ran %v", got)
	}
	if !strings.Contains(out["summary"].(string), "Signalled") {
		t.Fatalf("summary = %v", out["summary"])
	}
	// With options the daemon cannot take, a one-off run starts instead.
	if _, err := f.do(t, "runonce", map[string]any{"noop": true}); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.run.started), 1; got != want {
		t.Fatalf("started %d, want %d", got, want)
	}
}

func TestPuppetRunonceLauncher(t *testing.T) {
	f := newPuppetFixture(t, func(c *PuppetConfig) {
		c.Launcher = []string{"systemd-run", "--unit=fleetfeed-puppet-run", "--collect", "--quiet", "--"}
	})
	if _, err := f.do(t, "runonce", map[string]any{"force": true}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.run.lines(),
		"systemd-run --unit=fleetfeed-puppet-run --collect --quiet -- /usr/bin/puppet agent --onetime --no-daemonize --color=false --no-splay"; got != want {
		t.Fatalf("ran %q\nwant %q", got, want)
	}
	// A launcher that fails (the unit still exists: a run is going on)
	// fails the request.
	f.run.outputs = map[string]Output{f.run.ran[0].String(): {ExitCode: 1, Stderr: []byte("Unit fleetfeed-puppet-run.service already exists.\n")}}
	_, err := f.do(t, "runonce", map[string]any{"force": true})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("runonce = %v, want the launcher's error", err)
	}
}

func TestPuppetStatus(t *testing.T) {
	f := newPuppetFixture(t)
	data, err := os.ReadFile("testdata/puppet/01-changed.last_run_summary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "last_run_summary.yaml", string(data))
	lastRun := int64(1795628582)
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T)
		status string
		check  map[string]any
	}{
		{"stopped", func(*testing.T) {}, "stopped", map[string]any{"enabled": true, "daemon_present": false, "applying": false}},
		{"idling", func(t *testing.T) { f.write(t, "agent.pid", strconv.Itoa(os.Getpid())) }, "idling",
			map[string]any{"idling": true, "daemon_present": true}},
		{"applying", func(t *testing.T) { f.write(t, "agent_catalog_run.lock", strconv.Itoa(os.Getpid())) }, "applying a catalog",
			map[string]any{"applying": true, "idling": false}},
		{"disabled", func(t *testing.T) { f.write(t, "agent_disabled.lock", `{"disabled_message":"upgrading"}`) }, "disabled",
			map[string]any{"enabled": false, "disable_message": "upgrading"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			out, err := f.do(t, "status", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := out["status"], any(tc.status); got != want {
				t.Fatalf("status = %v, want %v", got, want)
			}
			for k, want := range tc.check {
				if got := out[k]; got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			if got, want := out["lastrun"], any(lastRun); got != want {
				t.Errorf("lastrun = %v, want %v", got, want)
			}
			if got, want := out["since_lastrun"], any(testNow.Unix()-lastRun); got != want {
				t.Errorf("since_lastrun = %v, want %v", got, want)
			}
		})
	}
}

func TestPuppetLastRunSummary(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]any
	}{
		{"01-changed.last_run_summary.yaml", map[string]any{
			"changed_resources": int64(5), "out_of_sync_resources": int64(5), "failed_resources": int64(0),
			"corrected_resources": int64(0), "total_resources": int64(12), "config_retrieval_time": 0.423491853,
			"total_time": 0.043259416, "lastrun": int64(1795628582), "config_version": "1795628582", "puppet_version": "7.23.0",
		}},
		{"03-failed.last_run_summary.yaml", map[string]any{
			"changed_resources": int64(1), "out_of_sync_resources": int64(3), "failed_resources": int64(2),
			"total_resources": int64(11), "lastrun": int64(1795628622),
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newPuppetFixture(t)
			data, err := os.ReadFile(filepath.Join("testdata/puppet", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			f.write(t, "last_run_summary.yaml", string(data))
			out, err := f.do(t, "last_run_summary", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if got := out[k]; got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			summary, ok := out["summary"].(map[string]any)
			if !ok || summary["events"] == nil {
				t.Errorf("summary = %v, want the whole file", out["summary"])
			}
		})
	}
}

func TestPuppetLastRunSummaryMissing(t *testing.T) {
	f := newPuppetFixture(t)
	out, err := f.do(t, "last_run_summary", nil)
	if err != nil {
		t.Fatalf("last_run_summary without a file: %v", err)
	}
	if _, ok := out["lastrun"]; ok {
		t.Errorf("lastrun = %v, want the DDL default", out["lastrun"])
	}
}

func TestPuppetDisableEnable(t *testing.T) {
	f := newPuppetFixture(t)
	out, err := f.do(t, "disable", map[string]any{"message": "kernel upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out["enabled"], any(false); got != want {
		t.Fatalf("enabled = %v, want %v", got, want)
	}
	lock, err := os.ReadFile(filepath.Join(f.dir, "agent_disabled.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(lock), `{"disabled_message":"kernel upgrade"}`; got != want {
		t.Fatalf("lock = %s, want %s", got, want)
	}
	if _, err := f.do(t, "disable", nil); err == nil || !strings.Contains(err.Error(), "Already disabled") {
		t.Fatalf("second disable = %v, want Already disabled", err)
	}
	if out, err = f.do(t, "enable", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := out["enabled"], any(true); got != want {
		t.Fatalf("enabled = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "agent_disabled.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock still there: %v", err)
	}
	if _, err := f.do(t, "enable", nil); err == nil || !strings.Contains(err.Error(), "Already enabled") {
		t.Fatalf("second enable = %v, want Already enabled", err)
	}
	// Without a message the lock says who disabled it and when.
	if _, err := f.do(t, "disable", nil); err != nil {
		t.Fatal(err)
	}
	if _, msg := f.p.disabled(); !strings.Contains(msg, "user=alice") {
		t.Fatalf("default message %q does not name the caller", msg)
	}
}

// Through the agent: inputs that could smuggle options or shell syntax
// are refused by the DDL before anything runs.
func TestPuppetInputsValidated(t *testing.T) {
	run := &fakeRunner{}
	h := newHarness(t, func(c *Config) {
		c.Plugins.Enabled = []string{"puppet"}
		c.Plugins.Puppet = PuppetConfig{DisabledLock: filepath.Join(t.TempDir(), "none.lock")}
		c.Runner = run
	})
	replies := h.replies()
	for _, data := range []map[string]any{
		{"tags": "nginx --server evil"},
		{"environment": "production; reboot"},
		{"message": "$(reboot)"},
		{"splaylimit": "30; reboot"},
	} {
		action := "runonce"
		if _, ok := data["message"]; ok {
			action = "disable"
		}
		h.agent.handle(context.Background(), h.sign(h.request(func(r *rpc.Request) {
			r.Agent, r.Action, r.Data = "puppet", action, data
		})), true)
		if got, want := h.nextReply(replies).StatusCode, rpc.StatusInvalidData; got != want {
			t.Errorf("%v: status = %v, want %v", data, got, want)
		}
	}
	if got := run.commands(); len(got) != 0 {
		t.Fatalf("ran %v", got)
	}
}

func TestHumanSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0 seconds"},
		{1, "1 second"},
		{61, "1 minute 1 second"},
		{3600, "1 hour"},
		{90061, "1 day 1 hour 1 minute 1 second"},
	} {
		if got := humanSeconds(tc.in); got != tc.want {
			t.Errorf("humanSeconds(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
