package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
)

func TestHandleRuns(t *testing.T) {
	h := newHarness(t)
	replies := h.replies()
	h.agent.handle(context.Background(), h.sign(h.request(nil)), true)
	if got, want := h.rec.count(), 1; got != want {
		t.Fatalf("calls = %d, want %d", got, want)
	}
	if got, want := h.rec.last().String("msg"), "hello"; got != want {
		t.Fatalf("msg = %q, want %q", got, want)
	}
	rep := h.nextReply(replies)
	if got, want := rep.StatusCode, rpc.StatusOK; got != want {
		t.Fatalf("status = %v (%s), want %v", got, rep.StatusMsg, want)
	}
	if got, want := rep.Data["echo"], any("hello"); got != want {
		t.Fatalf("echo = %v, want %v", got, want)
	}
	if got, want := rep.Data["extra"], any("default"); got != want {
		t.Fatalf("extra = %v, want the DDL default %v", got, want)
	}
	if got, want := rep.SenderID, testIdentity; got != want {
		t.Fatalf("sender = %q, want %q", got, want)
	}
	s := h.agent.Stats()
	if got, want := s.Passed, uint64(1); got != want {
		t.Fatalf("passed = %d, want %d", got, want)
	}
	if got, want := s.Replies, uint64(1); got != want {
		t.Fatalf("replies = %d, want %d", got, want)
	}
}

func TestHandleBroadcastMatchingFilter(t *testing.T) {
	h := newHarness(t)
	replies := h.replies()
	body := h.sign(h.request(func(r *rpc.Request) {
		r.Filter = &rpc.Filter{
			Fact:  []rpc.FactFilter{{Fact: "os.family", Operator: "==", Value: "debian"}},
			Class: []string{"/frontend/"},
		}
	}))
	h.agent.handle(context.Background(), body, false)
	if got, want := h.rec.count(), 1; got != want {
		t.Fatalf("calls = %d, want %d", got, want)
	}
	if got, want := h.nextReply(replies).StatusCode, rpc.StatusOK; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
}

// Every refused request is counted under its reason, answered only when
// the caller is entitled to an answer, and never reaches the plugin.
func TestHandleRefuses(t *testing.T) {
	_, malloryKey := newKey(t)
	mallory := &rpc.Signer{Name: "mallory", Key: malloryKey}
	for _, tc := range []struct {
		name   string
		body   func(h *harness) []byte
		direct bool
		reason Reason
		status rpc.StatusCode // -1: no reply
		msg    string         // in the reply's statusmsg
	}{
		{
			name:   "malformed",
			body:   func(h *harness) []byte { return []byte("restart nginx please") },
			direct: true, reason: ReasonMalformed, status: -1,
		},
		{
			name: "protocol",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Protocol = "mcollective.v2" }))
			},
			direct: true, reason: ReasonProtocol, status: -1,
		},
		{
			name: "other collective",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Collective = "staging" }))
			},
			direct: true, reason: ReasonCollective, status: -1,
		},
		{
			name: "unknown key",
			body: func(h *harness) []byte {
				body, err := mallory.SignRequest(h.request(func(r *rpc.Request) { r.CallerID = "user=mallory" }))
				if err != nil {
					t.Fatal(err)
				}
				return body
			},
			direct: true, reason: ReasonUntrusted, status: -1,
		},
		{
			name: "key speaks for another caller",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.CallerID = "user=root" }))
			},
			direct: true, reason: ReasonUntrusted, status: -1,
		},
		{
			name: "bad signature",
			body: func(h *harness) []byte {
				body := h.sign(h.request(nil))
				return []byte(strings.Replace(string(body), `"msg":"hello"`, `"msg":"HELLO"`, 1))
			},
			direct: true, reason: ReasonSignature, status: -1,
		},
		{
			name: "expired",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.MsgTime = testNow.Add(-61 * time.Second).Unix() }))
			},
			direct: true, reason: ReasonExpired, status: -1,
		},
		{
			name: "future",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.MsgTime = testNow.Add(31 * time.Second).Unix() }))
			},
			direct: true, reason: ReasonFuture, status: -1,
		},
		{
			name: "broadcast filter does not match",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) {
					r.Filter = &rpc.Filter{Fact: []rpc.FactFilter{{Fact: "environment", Operator: "==", Value: "staging"}}}
				}))
			},
			direct: false, reason: ReasonNotTargeted, status: -1,
		},
		{
			name: "broadcast for an agent this node lacks",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Agent = "nagios"; r.Filter = nil }))
			},
			direct: false, reason: ReasonNotTargeted, status: -1,
		},
		{
			name: "direct request naming another node",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Filter = &rpc.Filter{Identity: []string{"db1.example.com"}} }))
			},
			direct: true, reason: ReasonNotTargeted, status: -1,
		},
		{
			name: "direct request naming no node",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Filter = nil }))
			},
			direct: true, reason: ReasonNotTargeted, status: -1,
		},
		{
			name: "policy denies",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Action = "secret"; r.Data = nil }))
			},
			direct: true, reason: ReasonUnauthorized, status: rpc.StatusAborted, msg: "not authorized",
		},
		{
			name: "unknown agent",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Agent = "nagios" }))
			},
			direct: true, reason: ReasonUnknownAgent, status: rpc.StatusUnknownAction, msg: "nagios",
		},
		{
			name: "unknown action",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Action = "reboot" }))
			},
			direct: true, reason: ReasonUnknownAction, status: rpc.StatusUnknownAction, msg: "reboot",
		},
		{
			name: "invalid input",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Data = map[string]any{"msg": "hi; reboot"} }))
			},
			direct: true, reason: ReasonInvalidData, status: rpc.StatusInvalidData, msg: "msg",
		},
		{
			name: "input of the wrong type",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Data = map[string]any{"count": "seven"} }))
			},
			direct: true, reason: ReasonInvalidData, status: rpc.StatusInvalidData, msg: "count",
		},
		{
			name: "unknown input",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Data = map[string]any{"command": "reboot"} }))
			},
			direct: true, reason: ReasonInvalidData, status: rpc.StatusInvalidData, msg: "command",
		},
		{
			name: "missing input",
			body: func(h *harness) []byte {
				return h.sign(h.request(func(r *rpc.Request) { r.Action = "need"; r.Data = nil }))
			},
			direct: true, reason: ReasonInvalidData, status: rpc.StatusMissingData, msg: "what",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			replies := h.replies()
			h.agent.handle(context.Background(), tc.body(h), tc.direct)
			if got, want := h.rec.count(), 0; got != want {
				t.Fatalf("the action ran %d times, want %d", got, want)
			}
			s := h.agent.Stats()
			if got, want := s.Dropped[tc.reason], uint64(1); got != want {
				t.Fatalf("dropped[%s] = %d, want %d (all: %v)", tc.reason, got, want, s.Dropped)
			}
			if got, want := s.Passed, uint64(0); got != want {
				t.Fatalf("passed = %d, want %d", got, want)
			}
			if tc.status < 0 {
				if got, want := h.repliesSent(), 0; got != want {
					t.Fatalf("replies sent = %d, want %d", got, want)
				}
				return
			}
			rep := h.nextReply(replies)
			if got, want := rep.StatusCode, tc.status; got != want {
				t.Fatalf("status = %v (%s), want %v", got, rep.StatusMsg, want)
			}
			if !strings.Contains(rep.StatusMsg, tc.msg) {
				t.Fatalf("statusmsg %q does not contain %q", rep.StatusMsg, tc.msg)
			}
		})
	}
}

func TestHandleReplay(t *testing.T) {
	h := newHarness(t)
	body := h.sign(h.request(nil))
	h.agent.handle(context.Background(), body, true)
	h.agent.handle(context.Background(), body, true)
	if got, want := h.rec.count(), 1; got != want {
		t.Fatalf("the action ran %d times, want %d", got, want)
	}
	if got, want := h.agent.Stats().Dropped[ReasonReplay], uint64(1); got != want {
		t.Fatalf("dropped[replay] = %d, want %d", got, want)
	}
	// The same id arriving by broadcast is a replay too.
	h.agent.handle(context.Background(), body, false)
	if got, want := h.rec.count(), 1; got != want {
		t.Fatalf("the action ran %d times, want %d", got, want)
	}
}

func TestHandleActionFailures(t *testing.T) {
	for _, tc := range []struct {
		action string
		status rpc.StatusCode
		msg    string
	}{
		{"fail", rpc.StatusAborted, "it broke"},
		{"refuse", rpc.StatusInvalidData, "not like that"},
		{"panic", rpc.StatusUnknownError, "unexpectedly"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			h := newHarness(t)
			replies := h.replies()
			h.agent.handle(context.Background(), h.sign(h.request(func(r *rpc.Request) { r.Action = tc.action; r.Data = nil })), true)
			rep := h.nextReply(replies)
			if got, want := rep.StatusCode, tc.status; got != want {
				t.Fatalf("status = %v, want %v", got, want)
			}
			if !strings.Contains(rep.StatusMsg, tc.msg) {
				t.Fatalf("statusmsg %q does not contain %q", rep.StatusMsg, tc.msg)
			}
			if got, want := h.agent.Stats().Failed, uint64(1); got != want {
				t.Fatalf("failed = %d, want %d", got, want)
			}
		})
	}
}

func TestReplyTo(t *testing.T) {
	h := newHarness(t)
	store, err := h.conn.Subscribe(context.Background(), "/queue/fleetfeed.reply.store", rpc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	h.agent.handle(context.Background(), h.sign(h.request(func(r *rpc.Request) { r.ReplyTo = "/queue/fleetfeed.reply.store" })), true)
	if got, want := h.nextReply(store).StatusCode, rpc.StatusOK; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
	if got, want := h.repliesSent(), 0; got != want {
		t.Fatalf("replies to the sender = %d, want %d", got, want)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	c := newReplayCache(2)
	now := testNow
	if c.check("a", now.Add(time.Minute), now) {
		t.Fatal("a is new")
	}
	if c.check("b", now.Add(2*time.Minute), now) {
		t.Fatal("b is new")
	}
	if !c.check("a", now.Add(time.Minute), now) {
		t.Fatal("a not seen")
	}
	if c.check("c", now.Add(3*time.Minute), now) {
		t.Fatal("c is new")
	}
	if got, want := c.evicted(), uint64(1); got != want {
		t.Fatalf("evictions = %d, want %d", got, want)
	}
	// a expired first and was evicted; b is still remembered.
	if !c.check("b", now.Add(2*time.Minute), now) {
		t.Fatal("b forgotten")
	}
	// Once expired, ids are forgotten without counting as evictions.
	later := now.Add(time.Hour)
	if c.check("b", later.Add(time.Minute), later) {
		t.Fatal("b remembered after it expired")
	}
	if got, want := c.evicted(), uint64(1); got != want {
		t.Fatalf("evictions = %d, want %d", got, want)
	}
}
