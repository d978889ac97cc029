package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"fleetfeed/rpc"
)

// PuppetConfig configures the puppet plugin. The file paths are Puppet's
// settings of the same names; unset ones default to those of Puppet's own
// packages (/opt/puppetlabs) when that directory exists, else to Debian's.
type PuppetConfig struct {
	// Command is the puppet program.
	Command string `yaml:"command"`
	// Launcher, if set, is a command prefix that starts the run outside
	// the agent's sandbox and cgroup and returns at once, e.g.
	// [systemd-run, --unit=fleetfeed-puppet-run, --collect, --quiet, --];
	// without it the agent starts the run itself, in its own session.
	Launcher       []string `yaml:"launcher"`
	LastRunFile    string   `yaml:"lastrunfile"`
	CatalogRunLock string   `yaml:"agent_catalog_run_lockfile"`
	DisabledLock   string   `yaml:"agent_disabled_lockfile"`
	PIDFile        string   `yaml:"pidfile"`
	// Splay and SplayLimit (seconds) apply to runonce requests that do not
	// say; default true and 30. A forced run never splays.
	Splay      *bool `yaml:"splay"`
	SplayLimit int   `yaml:"splaylimit"`
	// SignalDaemon: when the Puppet daemon runs and a runonce asks for no
	// special options, wake the daemon (SIGUSR1) instead of starting a
	// second Puppet. Default true.
	SignalDaemon *bool `yaml:"signal_daemon"`
	// AllowServerOverride lets runonce name another Puppet server; off by
	// default (a caller could point a node at a server it controls).
	AllowServerOverride bool `yaml:"allow_server_override"`
}

func (c PuppetConfig) withDefaults() PuppetConfig {
	aio := false
	if st, err := os.Stat("/opt/puppetlabs/puppet"); err == nil && st.IsDir() {
		aio = true
	}
	def := func(s *string, aioPath, debPath string) {
		if *s == "" {
			*s = debPath
			if aio {
				*s = aioPath
			}
		}
	}
	def(&c.Command, "/opt/puppetlabs/bin/puppet", "puppet")
	def(&c.LastRunFile, "/opt/puppetlabs/puppet/public/last_run_summary.yaml", "/var/cache/puppet/public/last_run_summary.yaml")
	def(&c.CatalogRunLock, "/opt/puppetlabs/puppet/cache/state/agent_catalog_run.lock", "/var/cache/puppet/state/agent_catalog_run.lock")
	def(&c.DisabledLock, "/opt/puppetlabs/puppet/cache/state/agent_disabled.lock", "/var/cache/puppet/state/agent_disabled.lock")
	def(&c.PIDFile, "/var/run/puppetlabs/agent.pid", "/run/puppet/agent.pid")
	if c.Splay == nil {
		t := true
		c.Splay = &t
	}
	if c.SplayLimit <= 0 {
		c.SplayLimit = 30
	}
	if c.SignalDaemon == nil {
		t := true
		c.SignalDaemon = &t
	}
	return c
}

// puppetPlugin manages the Puppet agent as mcollective-puppet-agent does:
// it reads Puppet's lock, pid and summary files and starts runs.
type puppetPlugin struct {
	cfg    PuppetConfig
	run    Runner
	now    func() time.Time
	signal func(pid int) error // wakes the daemon
}

func newPuppetPlugin(cfg PuppetConfig, r Runner, now func() time.Time) *puppetPlugin {
	return &puppetPlugin{
		cfg: cfg.withDefaults(), run: r, now: now,
		signal: func(pid int) error { return syscall.Kill(pid, syscall.SIGUSR1) },
	}
}

var puppetStatusOutputs = map[string]*rpc.OutputDDL{
	"applying":        {Description: "Is a catalog being applied", DisplayAs: "Applying", Type: "boolean", Default: false},
	"idling":          {Description: "Is the Puppet daemon idling", DisplayAs: "Idling", Type: "boolean", Default: false},
	"enabled":         {Description: "Is the agent enabled", DisplayAs: "Enabled", Type: "boolean"},
	"daemon_present":  {Description: "Is the Puppet daemon running", DisplayAs: "Daemon Running", Type: "boolean", Default: false},
	"lastrun":         {Description: "When the last run finished (Unix time)", DisplayAs: "Last Run", Type: "integer", Default: 0},
	"since_lastrun":   {Description: "Seconds since the last run finished", DisplayAs: "Since Last Run", Type: "integer"},
	"status":          {Description: "Current status of the Puppet agent", DisplayAs: "Status", Type: "string", Default: "unknown"},
	"disable_message": {Description: "Why the agent was disabled", DisplayAs: "Lock Message", Type: "string", Default: ""},
	"message":         {Description: "Descriptive message of the agent's status", DisplayAs: "Message", Type: "string", Default: "unknown"},
}

var puppetDDL = &rpc.DDL{
	Metadata: rpc.Metadata{
		Name:        "puppet",
		Description: "Run Puppet agent, get its status, and enable or disable it",
		Author:      "fleetfeed",
		License:     "Apache-2.0",
		Version:     "1.0.0",
		Timeout:     20,
	},
	Actions: []*rpc.ActionDDL{
		{
			Name:        "runonce",
			Description: "Invoke a single Puppet run",
			Display:     rpc.DisplayFailed,
			Input: map[string]*rpc.InputDDL{
				"force": {Prompt: "Force", Description: "Run now, without splay", Type: rpc.TypeBoolean, Optional: true},
				"noop":  {Prompt: "No-op", Description: "Do a no-op run", Type: rpc.TypeBoolean, Optional: true},
				"splay": {Prompt: "Splay", Description: "Sleep a random time before the run", Type: rpc.TypeBoolean, Optional: true},
				"splaylimit": {Prompt: "Splay limit", Description: "Longest splay, in seconds", Type: rpc.TypeInteger,
					Optional: true},
				"tags": {Prompt: "Tags", Description: "Restrict the run to these tags (comma separated)", Type: rpc.TypeString,
					Validation: "puppet_tags", MaxLength: 120, Optional: true},
				"skip_tags": {Prompt: "Skip tags", Description: "Skip resources with these tags (comma separated)",
					Type: rpc.TypeString, Validation: "puppet_tags", MaxLength: 120, Optional: true},
				"environment": {Prompt: "Environment", Description: "Which Puppet environment to use", Type: rpc.TypeString,
					Validation: "puppet_variable", MaxLength: 50, Optional: true},
				"server": {Prompt: "Puppet server", Description: "Address (host[:port]) of the Puppet server",
					Type: rpc.TypeString, Validation: "puppet_server_address", MaxLength: 255, Optional: true},
				"use_cached_catalog": {Prompt: "Use cached catalog", Description: "Apply the cached catalog",
					Type: rpc.TypeBoolean, Optional: true},
			},
			Output: map[string]*rpc.OutputDDL{
				"summary":      {Description: "Summary of the command run", DisplayAs: "Summary", Type: "string"},
				"initiated_at": {Description: "When the run was started (Unix time)", DisplayAs: "Initiated at", Type: "integer", Default: 0},
			},
		},
		{
			Name:        "status",
			Description: "Get the current status of the Puppet agent",
			Display:     rpc.DisplayAlways,
			Output:      puppetStatusOutputs,
			Aggregate: []rpc.AggregateDDL{
				{Function: "boolean_summary", Args: []string{"enabled"}},
				{Function: "boolean_summary", Args: []string{"daemon_present"}},
				{Function: "summary", Args: []string{"applying"}},
				{Function: "summary", Args: []string{"status"}},
				{Function: "summary", Args: []string{"idling"}},
			},
		},
		{
			Name:        "last_run_summary",
			Description: "Get the summary of the last Puppet run",
			Display:     rpc.DisplayAlways,
			Input: map[string]*rpc.InputDDL{
				"logs": {Prompt: "Logs", Description: "Include the run's logs (not kept in the summary: always empty)",
					Type: rpc.TypeBoolean, Optional: true, Default: false},
			},
			Output: map[string]*rpc.OutputDDL{
				"out_of_sync_resources": {Description: "Resources that were not in the desired state", DisplayAs: "Out of Sync Resources", Type: "integer", Default: 0},
				"failed_resources":      {Description: "Resources that failed to apply", DisplayAs: "Failed Resources", Type: "integer", Default: 0},
				"corrected_resources":   {Description: "Resources corrected after drifting", DisplayAs: "Corrected Resources", Type: "integer", Default: 0},
				"changed_resources":     {Description: "Resources that were changed", DisplayAs: "Changed Resources", Type: "integer", Default: 0},
				"total_resources":       {Description: "Resources managed on this node", DisplayAs: "Total Resources", Type: "integer", Default: 0},
				"config_retrieval_time": {Description: "Seconds spent getting the catalog", DisplayAs: "Config Retrieval Time", Type: "number", Default: 0},
				"total_time":            {Description: "Seconds the run took", DisplayAs: "Total Time", Type: "number", Default: 0},
				"lastrun":               {Description: "When the last run finished (Unix time)", DisplayAs: "Last Run", Type: "integer", Default: 0},
				"since_lastrun":         {Description: "Seconds since the last run finished", DisplayAs: "Since Last Run", Type: "integer"},
				"config_version":        {Description: "Version of the last applied catalog", DisplayAs: "Config Version", Type: "string"},
				"puppet_version":        {Description: "Version of Puppet that ran", DisplayAs: "Puppet Version", Type: "string"},
				"type_distribution":     {Description: "Resources by type (not kept in the summary: always empty)", DisplayAs: "Type Distribution", Type: "hash"},
				"logs":                  {Description: "Logs of the run", DisplayAs: "Logs", Type: "array"},
				"summary":               {Description: "The whole last_run_summary.yaml", DisplayAs: "Summary", Type: "hash"},
			},
			Aggregate: []rpc.AggregateDDL{
				{Function: "average", Args: []string{"config_retrieval_time"}, Format: "Average: %0.2f"},
				{Function: "average", Args: []string{"total_time"}, Format: "Average: %0.2f"},
				{Function: "average", Args: []string{"total_resources"}, Format: "Average: %d"},
			},
		},
		{
			Name:        "enable",
			Description: "Enable the Puppet agent",
			Display:     rpc.DisplayFailed,
			Output: map[string]*rpc.OutputDDL{
				"status":  {Description: "Summary of the command run", DisplayAs: "Status", Type: "string"},
				"enabled": {Description: "Is the agent enabled now", DisplayAs: "Enabled", Type: "boolean"},
			},
			Aggregate: []rpc.AggregateDDL{{Function: "boolean_summary", Args: []string{"enabled"}}},
		},
		{
			Name:        "disable",
			Description: "Disable the Puppet agent",
			Display:     rpc.DisplayFailed,
			Input: map[string]*rpc.InputDDL{
				"message": {Prompt: "Message", Description: "Supply a reason for disabling the Puppet agent",
					Type: rpc.TypeString, Validation: "shellsafe", MaxLength: 120, Optional: true},
			},
			Output: map[string]*rpc.OutputDDL{
				"status":  {Description: "Summary of the command run", DisplayAs: "Status", Type: "string"},
				"enabled": {Description: "Is the agent enabled now", DisplayAs: "Enabled", Type: "boolean"},
			},
			Aggregate: []rpc.AggregateDDL{{Function: "boolean_summary", Args: []string{"enabled"}}},
		},
	},
}

func (p *puppetPlugin) DDL() *rpc.DDL { return puppetDDL }

func (p *puppetPlugin) Do(ctx context.Context, req *Request) (map[string]any, error) {
	switch req.Action {
	case "runonce":
		return p.runonce(ctx, req)
	case "status":
		return p.status(), nil
	case "last_run_summary":
		return p.lastRunSummary()
	case "enable":
		return p.enable()
	case "disable":
		return p.disable(req)
	}
	return nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown action %s for agent puppet", req.Action)
}

// disabled reports whether the disable lock exists, and its message.
func (p *puppetPlugin) disabled() (bool, string) {
	data, err := os.ReadFile(p.cfg.DisabledLock)
	if err != nil {
		return false, ""
	}
	var lock struct {
		Message string `json:"disabled_message"`
	}
	if json.Unmarshal(data, &lock) != nil {
		return true, ""
	}
	return true, lock.Message
}

// applying reports whether a run holds the catalog lock: the lock file
// names a live process (a stale lock does not count).
func (p *puppetPlugin) applying() bool {
	pid, ok := readPID(p.cfg.CatalogRunLock)
	return ok && processAlive(pid)
}

// daemon returns the pid of a running Puppet daemon.
func (p *puppetPlugin) daemon() (int, bool) {
	pid, ok := readPID(p.cfg.PIDFile)
	if !ok || !processAlive(pid) {
		return 0, false
	}
	return pid, true
}

func readPID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lastRun returns the finish time of the last run (0 if unknown).
func (p *puppetPlugin) lastRun() int64 {
	s, err := loadLastRunSummary(p.cfg.LastRunFile)
	if err != nil {
		return 0
	}
	return s.lastRun()
}

func (p *puppetPlugin) status() map[string]any {
	isDisabled, msg := p.disabled()
	applying := p.applying()
	_, daemon := p.daemon()
	idling := daemon && !applying
	state := "stopped"
	switch {
	case isDisabled:
		state = "disabled"
	case applying:
		state = "applying a catalog"
	case idling:
		state = "idling"
	}
	last := p.lastRun()
	since := p.now().Unix() - last
	message := fmt.Sprintf("Currently %s; last completed run %s ago", state, humanSeconds(since))
	if last == 0 {
		message = fmt.Sprintf("Currently %s; no completed run yet", state)
	}
	return map[string]any{
		"applying":        applying,
		"idling":          idling,
		"enabled":         !isDisabled,
		"daemon_present":  daemon,
		"lastrun":         last,
		"since_lastrun":   since,
		"status":          state,
		"disable_message": msg,
		"message":         message,
	}
}

func (p *puppetPlugin) runonce(ctx context.Context, req *Request) (map[string]any, error) {
	if isDisabled, msg := p.disabled(); isDisabled {
		return nil, rpc.Errorf(rpc.StatusAborted, "Puppet is disabled: '%s'", msg)
	}
	if p.applying() {
		return nil, rpc.Errorf(rpc.StatusAborted, "Puppet is currently applying a catalog, cannot run now")
	}
	if req.String("server") != "" && !p.cfg.AllowServerOverride {
		return nil, rpc.Errorf(rpc.StatusAborted, "Passing 'server' option is not allowed in this node's configuration")
	}
	force, _ := req.Bool("force")
	_, hasNoop := req.Bool("noop")
	_, hasCached := req.Bool("use_cached_catalog")
	custom := hasNoop || hasCached || req.String("tags") != "" || req.String("skip_tags") != "" ||
		req.String("environment") != "" || req.String("server") != ""
	now := p.now().Unix()
	if pid, ok := p.daemon(); ok && *p.cfg.SignalDaemon && !custom {
		if err := p.signal(pid); err != nil {
			return nil, rpc.Errorf(rpc.StatusAborted, "Could not signal the Puppet daemon: %v", err)
		}
		return map[string]any{"summary": "Signalled the running Puppet daemon", "initiated_at": now}, nil
	}
	cmd := Command{Path: p.cfg.Command, Args: p.runArgs(req, force)}
	if len(p.cfg.Launcher) > 0 {
		launch := Command{Path: p.cfg.Launcher[0], Args: append(append(p.cfg.Launcher[1:len(p.cfg.Launcher):len(p.cfg.Launcher)], cmd.Path), cmd.Args...)}
		out, err := p.run.Run(ctx, launch)
		if err != nil {
			return nil, rpc.Errorf(rpc.StatusAborted, "Could not start a Puppet run: %v", err)
		}
		if out.ExitCode != 0 {
			return nil, rpc.Errorf(rpc.StatusAborted, "Could not start a Puppet run: %s exited with status %d: %s", p.cfg.Launcher[0], out.ExitCode, firstLine(out.Stderr))
		}
	} else if err := p.run.Start(cmd); err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not start a Puppet run: %v", err)
	}
	return map[string]any{
		"summary":      fmt.Sprintf("Started a Puppet run using the '%s' command", cmd),
		"initiated_at": now,
	}, nil
}

// runArgs are the arguments of "puppet agent --onetime" for a request.
func (p *puppetPlugin) runArgs(req *Request, force bool) []string {
	args := []string{"agent", "--onetime", "--no-daemonize", "--color=false"}
	if noop, ok := req.Bool("noop"); ok {
		args = append(args, map[bool]string{true: "--noop", false: "--no-noop"}[noop])
	}
	splay := *p.cfg.Splay
	if s, ok := req.Bool("splay"); ok {
		splay = s
	}
	limit := int64(p.cfg.SplayLimit)
	if l, ok := req.Int("splaylimit"); ok && l > 0 {
		limit = l
	}
	if splay && !force {
		args = append(args, "--splay", "--splaylimit", strconv.FormatInt(limit, 10))
	} else {
		args = append(args, "--no-splay")
	}
	for _, opt := range []string{"tags", "skip_tags", "environment", "server"} {
		if v := req.String(opt); v != "" {
			args = append(args, "--"+opt, v)
		}
	}
	if cached, ok := req.Bool("use_cached_catalog"); ok {
		args = append(args, map[bool]string{true: "--use_cached_catalog", false: "--no-use_cached_catalog"}[cached])
	}
	return args
}

func (p *puppetPlugin) enable() (map[string]any, error) {
	if isDisabled, _ := p.disabled(); !isDisabled {
		return map[string]any{"enabled": true}, rpc.Errorf(rpc.StatusAborted, "Could not enable Puppet: Already enabled")
	}
	if err := os.Remove(p.cfg.DisabledLock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return map[string]any{"enabled": false}, rpc.Errorf(rpc.StatusAborted, "Could not enable Puppet: %v", err)
	}
	return map[string]any{"status": "Successfully enabled the Puppet agent", "enabled": true}, nil
}

func (p *puppetPlugin) disable(req *Request) (map[string]any, error) {
	msg := req.String("message")
	if msg == "" {
		msg = fmt.Sprintf("Disabled via fleetfeed by %s at %s", req.Wire.CallerID, p.now().Format("2006-01-02 15:04"))
	}
	if isDisabled, old := p.disabled(); isDisabled {
		return map[string]any{"enabled": false}, rpc.Errorf(rpc.StatusAborted, "Could not disable Puppet: Already disabled: '%s'", old)
	}
	data, err := json.Marshal(map[string]string{"disabled_message": msg})
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(p.cfg.DisabledLock, data, 0o644); err != nil {
		return map[string]any{"enabled": true}, rpc.Errorf(rpc.StatusAborted, "Could not disable Puppet: %v", err)
	}
	return map[string]any{"status": "Successfully locked the Puppet agent: " + msg, "enabled": false}, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fleetfeed-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (p *puppetPlugin) lastRunSummary() (map[string]any, error) {
	s, err := loadLastRunSummary(p.cfg.LastRunFile)
	if errors.Is(err, fs.ErrNotExist) {
		// Puppet has not run yet; MCollective answers with zeros too.
		return map[string]any{"since_lastrun": p.now().Unix(), "logs": []string{}, "type_distribution": map[string]any{},
			"summary": map[string]any{}}, nil
	}
	if err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not read the last run summary: %v", err)
	}
	return s.outputs(p.now()), nil
}

// LastRunSummary is Puppet's last_run_summary.yaml.
type LastRunSummary map[string]any

// ParseLastRunSummary parses the contents of last_run_summary.yaml.
func ParseLastRunSummary(data []byte) (LastRunSummary, error) {
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse last run summary: %w", err)
	}
	if m == nil {
		return nil, errors.New("parse last run summary: empty")
	}
	return LastRunSummary(normalizeFacts(m).(map[string]any)), nil
}

func loadLastRunSummary(path string) (LastRunSummary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLastRunSummary(data)
}

// Number returns a numeric field by section and key ("resources",
// "changed"), or 0.
func (s LastRunSummary) Number(section, key string) float64 {
	sec, _ := s[section].(map[string]any)
	f, _ := numberOf(sec[key])
	return f
}

func (s LastRunSummary) lastRun() int64 { return int64(s.Number("time", "last_run")) }

// outputs are the last_run_summary action's outputs.
func (s LastRunSummary) outputs(now time.Time) map[string]any {
	version, _ := s["version"].(map[string]any)
	last := s.lastRun()
	return map[string]any{
		"out_of_sync_resources": int64(s.Number("resources", "out_of_sync")),
		"failed_resources":      int64(s.Number("resources", "failed")),
		"corrected_resources":   int64(s.Number("resources", "corrective_change")),
		"changed_resources":     int64(s.Number("resources", "changed")),
		"total_resources":       int64(s.Number("resources", "total")),
		"config_retrieval_time": s.Number("time", "config_retrieval"),
		"total_time":            s.Number("time", "total"),
		"lastrun":               last,
		"since_lastrun":         now.Unix() - last,
		"config_version":        fmt.Sprint(version["config"]),
		"puppet_version":        fmt.Sprint(version["puppet"]),
		"type_distribution":     map[string]any{},
		"logs":                  []string{},
		"summary":               map[string]any(s),
	}
}

func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// humanSeconds writes a duration as "1 hour 2 minutes 3 seconds".
func humanSeconds(s int64) string {
	if s < 0 {
		s = 0
	}
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	var parts []string
	add := func(n int64, unit string) {
		if n == 1 {
			parts = append(parts, "1 "+unit)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", n, unit))
		}
	}
	add(d, "day")
	add(h, "hour")
	add(m, "minute")
	if sec > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d seconds", sec))
		if sec == 1 {
			parts[len(parts)-1] = "1 second"
		}
	}
	return strings.Join(parts, " ")
}
