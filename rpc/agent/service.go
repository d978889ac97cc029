package agent

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"fleetfeed/rpc"
)

// ServiceConfig configures the service plugin.
type ServiceConfig struct {
	// Systemctl is the systemctl program.
	Systemctl string `yaml:"systemctl"`
	// Protected lists services (names or /regex/) that may not be stopped
	// or restarted through the agent, such as sshd or the agent itself,
	// whose loss would cut the operator off.
	Protected []string `yaml:"protected"`
}

// servicePlugin manages systemd services with systemctl.
type servicePlugin struct {
	cfg ServiceConfig
	run Runner
}

func newServicePlugin(cfg ServiceConfig, r Runner) *servicePlugin {
	if cfg.Systemctl == "" {
		cfg.Systemctl = "systemctl"
	}
	return &servicePlugin{cfg: cfg, run: r}
}

// serviceInput is a unit name: no leading '-', so it can never be read as
// an option even without the "--" the plugin passes anyway.
var serviceInput = map[string]*rpc.InputDDL{
	"service": {
		Prompt: "Service Name", Description: "The service to act on (a systemd unit name)",
		Type: rpc.TypeString, Validation: `^[A-Za-z0-9][A-Za-z0-9@_.:\-]*$`, MaxLength: 256,
	},
}

var serviceOutputs = map[string]*rpc.OutputDDL{
	"status":       {Description: "The status of the service: running or stopped", DisplayAs: "Service Status", Type: "string", Default: "unknown"},
	"active_state": {Description: "systemd's ActiveState of the unit", DisplayAs: "Active State", Type: "string"},
}

func serviceAction(name, desc string, display rpc.Display) *rpc.ActionDDL {
	return &rpc.ActionDDL{
		Name: name, Description: desc, Display: display, Input: serviceInput, Output: serviceOutputs,
		Aggregate: []rpc.AggregateDDL{{Function: "summary", Args: []string{"status"}}},
	}
}

var serviceDDL = &rpc.DDL{
	Metadata: rpc.Metadata{
		Name:        "service",
		Description: "Start, stop, restart and query system services",
		Author:      "fleetfeed",
		License:     "Apache-2.0",
		Version:     "1.0.0",
		Timeout:     60,
	},
	Actions: []*rpc.ActionDDL{
		serviceAction("status", "Get the status of a service", rpc.DisplayAlways),
		serviceAction("start", "Start a service", rpc.DisplayFailed),
		serviceAction("stop", "Stop a service", rpc.DisplayFailed),
		serviceAction("restart", "Restart a service", rpc.DisplayFailed),
	},
}

func (p *servicePlugin) DDL() *rpc.DDL { return serviceDDL }

func (p *servicePlugin) Do(ctx context.Context, req *Request) (map[string]any, error) {
	svc := req.String("service")
	switch req.Action {
	case "status":
		return p.status(ctx, svc)
	case "start", "stop", "restart":
	default:
		return nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown action %s for agent service", req.Action)
	}
	if req.Action != "start" && slices.ContainsFunc(p.cfg.Protected, func(pat string) bool { return matchName(pat, svc) }) {
		return nil, rpc.Errorf(rpc.StatusAborted, "The service %s is protected on this node and cannot be %s", svc,
			map[string]string{"stop": "stopped", "restart": "restarted"}[req.Action])
	}
	out, err := p.run.Run(ctx, Command{Path: p.cfg.Systemctl, Args: []string{req.Action, "--", svc}})
	if err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not %s service %s: %v", req.Action, svc, err)
	}
	if out.ExitCode != 0 {
		data, _ := p.status(ctx, svc)
		return data, rpc.Errorf(rpc.StatusAborted, "Could not %s service %s: %s", req.Action, svc, firstLine(out.Stderr))
	}
	return p.status(ctx, svc)
}

// status asks systemctl is-active: "active" (and "reloading") is running,
// anything else stopped. is-active exits non-zero for an inactive unit,
// so the exit status alone means nothing; no output means systemctl could
// not answer.
func (p *servicePlugin) status(ctx context.Context, svc string) (map[string]any, error) {
	out, err := p.run.Run(ctx, Command{Path: p.cfg.Systemctl, Args: []string{"is-active", "--", svc}})
	if err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not get the status of service %s: %v", svc, err)
	}
	state := strings.TrimSpace(string(out.Stdout))
	if state == "" {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not get the status of service %s: %s", svc, firstLine(out.Stderr))
	}
	status := "stopped"
	if state == "active" || state == "reloading" {
		status = "running"
	}
	return map[string]any{"status": status, "active_state": state}, nil
}

// matchName matches a name against a literal or a /regex/.
func matchName(pattern, name string) bool {
	if len(pattern) >= 2 && pattern[0] == '/' && pattern[len(pattern)-1] == '/' {
		re, err := regexp.Compile(pattern[1 : len(pattern)-1])
		return err == nil && re.MatchString(name)
	}
	return pattern == name
}
