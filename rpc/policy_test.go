package rpc

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

const testPolicyYAML = `
default: deny
rules:
  - effect: allow
    callers: ["/^user=/"]
    agents: [rpcutil]
  - effect: deny
    callers: [user=intern]
    agents: [puppet]
    actions: [runonce, disable]
  - effect: allow
    callers: [user=alice, user=intern]
    agents: [puppet, service]
    facts: ["environment=production"]
    classes: ["/^roles::frontend/"]
  - effect: allow
    callers: [user=root]
`

func TestPolicyAuthorize(t *testing.T) {
	var p Policy
	if err := yaml.Unmarshal([]byte(testPolicyYAML), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	web := Inventory{Identity: "web1", Facts: map[string]any{"environment": "production"}, Classes: []string{"roles::frontend_web"}}
	staging := Inventory{Identity: "web9", Facts: map[string]any{"environment": "staging"}, Classes: []string{"roles::frontend_web"}}
	db := Inventory{Identity: "db1", Facts: map[string]any{"environment": "production"}, Classes: []string{"roles::database"}}
	for _, tc := range []struct {
		name                  string
		caller, agent, action string
		inv                   Inventory
		allowed               bool
		rule                  int
	}{
		{"anyone pings", "user=bob", "rpcutil", "ping", web, true, 0},
		{"keys are not users", "key=bob", "rpcutil", "ping", web, false, -1},
		{"intern denied runonce first", "user=intern", "puppet", "runonce", web, false, 1},
		{"intern may read status", "user=intern", "puppet", "status", web, true, 2},
		{"alice on production web", "user=alice", "puppet", "runonce", web, true, 2},
		{"alice on staging", "user=alice", "puppet", "runonce", staging, false, -1},
		{"alice on a database", "user=alice", "service", "restart", db, false, -1},
		{"alice and package", "user=alice", "package", "status", web, false, -1},
		{"root everything", "user=root", "package", "status", db, true, 3},
		{"callers compare exactly", "user=Alice", "puppet", "status", web, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Authorize(tc.caller, tc.agent, tc.action, tc.inv)
			if got, want := d.Allowed, tc.allowed; got != want {
				t.Fatalf("allowed = %v (%s), want %v", got, d, want)
			}
			if got, want := d.Rule, tc.rule; got != want {
				t.Fatalf("rule = %d, want %d", got, want)
			}
		})
	}
}

func TestPolicyDefault(t *testing.T) {
	inv := Inventory{Identity: "web1"}
	if (&Policy{}).Authorize("user=a", "rpcutil", "ping", inv).Allowed {
		t.Error("an empty policy allows")
	}
	if !(&Policy{Default: Allow}).Authorize("user=a", "rpcutil", "ping", inv).Allowed {
		t.Error("default allow denies")
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
	}{
		{"default", Policy{Default: "maybe"}},
		{"effect", Policy{Rules: []PolicyRule{{Effect: "permit"}}}},
		{"regex", Policy{Rules: []PolicyRule{{Effect: Allow, Callers: []string{"/(/"}}}}},
		{"fact", Policy{Rules: []PolicyRule{{Effect: Allow, Facts: []string{"nonsense"}}}}},
	} {
		if err := tc.p.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a bad policy", tc.name)
		}
	}
}
