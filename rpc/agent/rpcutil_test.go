package agent

import (
	"context"
	"encoding/json"
	"testing"

	"fleetfeed/rpc"
)

func callRPCUtil(t *testing.T, h *harness, action string, data map[string]any) *rpc.Reply {
	t.Helper()
	replies := h.replies()
	h.agent.handle(context.Background(), h.sign(h.request(func(r *rpc.Request) {
		r.Agent, r.Action, r.Data = "rpcutil", action, data
	})), true)
	rep := h.nextReply(replies)
	if got, want := rep.StatusCode, rpc.StatusOK; got != want {
		t.Fatalf("%s: status = %v (%s), want %v", action, got, rep.StatusMsg, want)
	}
	return rep
}

func TestRPCUtil(t *testing.T) {
	h := newHarness(t)
	if got, want := callRPCUtil(t, h, "ping", nil).Data["pong"], any(json.Number("1800000000")); got != want {
		t.Errorf("pong = %v, want %v", got, want)
	}
	inv := callRPCUtil(t, h, "inventory", nil).Data
	if got, want := inv["main_collective"], any(testCollective); got != want {
		t.Errorf("main_collective = %v, want %v", got, want)
	}
	if facts, _ := inv["facts"].(map[string]any); facts["environment"] != "production" {
		t.Errorf("facts = %v", inv["facts"])
	}
	fact := callRPCUtil(t, h, "get_fact", map[string]any{"fact": "os.family"}).Data
	if got, want := fact["value"], any("Debian"); got != want {
		t.Errorf("os.family = %v, want %v", got, want)
	}
	agents, _ := callRPCUtil(t, h, "agent_inventory", nil).Data["agents"].([]any)
	if got, want := len(agents), 2; got != want {
		t.Errorf("agent_inventory has %d agents, want %d", got, want)
	}
	stats := callRPCUtil(t, h, "daemon_stats", nil).Data
	// Five requests so far, this one included; four replies sent before it.
	if got, want := stats["total"], any(json.Number("5")); got != want {
		t.Errorf("total = %v, want %v", got, want)
	}
	if got, want := stats["replies"], any(json.Number("4")); got != want {
		t.Errorf("replies = %v, want %v", got, want)
	}
}

func TestBuiltinDDLs(t *testing.T) {
	for _, d := range BuiltinDDLs() {
		if err := d.Check(); err != nil {
			t.Errorf("%s: %v", d.Metadata.Name, err)
		}
	}
}
