package rpc

import (
	"fmt"
)

// Effect is what a policy rule does to a request it matches.
type Effect string

// The effects.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Policy decides which callers may run which actions on a node. Rules are
// tried in order and the first that matches decides; if none matches,
// Default does, and an unset Default denies. It is loaded from the agent's
// configuration file:
//
//	policy:
//	  default: deny
//	  rules:
//	    - effect: allow
//	      callers: ["/^user=/"]
//	      agents: [rpcutil]
//	    - effect: deny
//	      callers: ["user=intern"]
//	      agents: [puppet]
//	      actions: [runonce]
//	    - effect: allow
//	      callers: ["user=alice", "user=bob"]
//	      agents: [puppet, service]
//	      facts: ["environment=production"]
//	      classes: ["/^roles::frontend/"]
type Policy struct {
	Default Effect       `yaml:"default" json:"default"`
	Rules   []PolicyRule `yaml:"rules" json:"rules"`
}

// PolicyRule matches requests by caller, agent and action, and nodes by
// their facts and classes. An empty list matches anything. Callers, agents
// and actions are literal (compared exactly), "*" or /regex/; facts are
// fact filters ("environment=production", "memory.system.total_bytes>1e9"),
// all of which must hold on the node; classes are names or /regex/, all of
// which the node must have.
type PolicyRule struct {
	Effect  Effect   `yaml:"effect" json:"effect"`
	Callers []string `yaml:"callers,omitempty" json:"callers,omitempty"`
	Agents  []string `yaml:"agents,omitempty" json:"agents,omitempty"`
	Actions []string `yaml:"actions,omitempty" json:"actions,omitempty"`
	Facts   []string `yaml:"facts,omitempty" json:"facts,omitempty"`
	Classes []string `yaml:"classes,omitempty" json:"classes,omitempty"`
}

// Decision is the outcome of a policy check.
type Decision struct {
	Allowed bool
	// Rule is the index of the rule that decided, or -1 for the default.
	Rule int
}

// String describes the decision for a log line.
func (d Decision) String() string {
	verdict := "denied"
	if d.Allowed {
		verdict = "allowed"
	}
	if d.Rule < 0 {
		return verdict + " by default"
	}
	return fmt.Sprintf("%s by rule %d", verdict, d.Rule+1)
}

// Validate checks effects, patterns and fact filters.
func (p *Policy) Validate() error {
	switch p.Default {
	case "", Allow, Deny:
	default:
		return fmt.Errorf("policy: default %q: want allow or deny", p.Default)
	}
	for i, r := range p.Rules {
		if r.Effect != Allow && r.Effect != Deny {
			return fmt.Errorf("policy rule %d: effect %q: want allow or deny", i+1, r.Effect)
		}
		for _, list := range [][]string{r.Callers, r.Agents, r.Actions, r.Classes} {
			for _, pat := range list {
				if _, err := compilePattern(pat); err != nil {
					return fmt.Errorf("policy rule %d: %q: %w", i+1, pat, err)
				}
			}
		}
		if _, err := r.nodeFilter(); err != nil {
			return fmt.Errorf("policy rule %d: %w", i+1, err)
		}
	}
	return nil
}

// Authorize decides whether caller may run agent's action on the node
// described by inv. A rule whose facts do not parse never matches (Validate
// reports it).
func (p *Policy) Authorize(caller, agent, action string, inv Inventory) Decision {
	for i, r := range p.Rules {
		if !listMatch(r.Callers, caller) || !listMatch(r.Agents, agent) || !listMatch(r.Actions, action) {
			continue
		}
		f, err := r.nodeFilter()
		if err != nil || !f.Match(inv) {
			continue
		}
		return Decision{Allowed: r.Effect == Allow, Rule: i}
	}
	return Decision{Allowed: p.Default == Allow, Rule: -1}
}

func (r PolicyRule) nodeFilter() (*Filter, error) {
	f := &Filter{Class: r.Classes}
	for _, s := range r.Facts {
		ff, err := ParseFactFilter(s)
		if err != nil {
			return nil, err
		}
		f.Fact = append(f.Fact, ff)
	}
	return f, nil
}

func listMatch(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if matchPattern(p, s, false) {
			return true
		}
	}
	return false
}
