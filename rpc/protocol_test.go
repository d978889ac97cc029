package rpc

import (
	"errors"
	"testing"
	"time"
)

func TestDestinations(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{BroadcastDestination("fleetfeed", "puppet"), "/topic/fleetfeed.broadcast.agent.puppet"},
		{NodeDestination("fleetfeed", "web1.example.com"), "/queue/fleetfeed.node.web1.example.com"},
		{ReplyDestination("fleetfeed", "cli-alice"), "/topic/fleetfeed.reply.cli-alice"},
		{RegistrationDestination("fleetfeed"), "/queue/fleetfeed.registration"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"web1.example.com", true},
		{"rpcutil", true},
		{"agent_inventory", true},
		{"user@host", true},
		{"", false},
		{".hidden", false},
		{"-option", false},
		{"a/b", false},
		{"a b", false},
		{"a*", false},
		{string(make([]byte, 256)), false},
	} {
		if got := CheckName(tc.name) == nil; got != tc.ok {
			t.Errorf("CheckName(%q) ok = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Request)
		want   error
	}{
		{"ok", func(*Request) {}, nil},
		{"protocol", func(r *Request) { r.Protocol = "mcollective" }, ErrProtocol},
		{"no agent", func(r *Request) { r.Agent = "" }, ErrMalformed},
		{"agent with slash", func(r *Request) { r.Agent = "../x" }, ErrMalformed},
		{"no caller", func(r *Request) { r.CallerID = "" }, ErrMalformed},
		{"zero ttl", func(r *Request) { r.TTL = 0 }, ErrMalformed},
		{"huge ttl", func(r *Request) { r.TTL = int(MaxTTL/time.Second) + 1 }, ErrMalformed},
		{"replyto queue", func(r *Request) { r.ReplyTo = "/queue/fleetfeed.reply.store" }, nil},
		{"replyto other", func(r *Request) { r.ReplyTo = "/queue/fleetfeed.node.db1" }, ErrMalformed},
		{"replyto other collective", func(r *Request) { r.ReplyTo = "/topic/other.reply.x" }, ErrMalformed},
		{"bad filter regex", func(r *Request) { r.Filter = &Filter{Identity: []string{"/(/"}} }, ErrMalformed},
		{"bad fact operator", func(r *Request) {
			r.Filter = &Filter{Fact: []FactFilter{{Fact: "a", Operator: "~=", Value: "b"}}}
		}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := testRequest()
			tc.change(req)
			err := req.Validate()
			if tc.want == nil && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRequestCheckTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	skew := 30 * time.Second
	for _, tc := range []struct {
		name    string
		msgtime time.Time
		ttl     int
		want    error
	}{
		{"fresh", now, 60, nil},
		{"last second", now.Add(-60 * time.Second), 60, nil},
		{"expired", now.Add(-61 * time.Second), 60, ErrExpired},
		{"long ttl", now.Add(-time.Hour), 7200, nil},
		{"within skew", now.Add(30 * time.Second), 60, nil},
		{"future", now.Add(31 * time.Second), 60, ErrFuture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := testRequest()
			req.MsgTime, req.TTL = tc.msgtime.Unix(), tc.ttl
			err := req.CheckTime(now, skew)
			if got, want := err, tc.want; (want == nil) != (got == nil) || !errors.Is(got, want) {
				t.Fatalf("CheckTime = %v, want %v", got, want)
			}
		})
	}
}

func TestStatusCodeString(t *testing.T) {
	if got, want := StatusInvalidData.String(), "Invalid Request Data"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := StatusCode(9).String(), "Status 9"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestNewRequestID(t *testing.T) {
	a, b := NewRequestID(), NewRequestID()
	if got, want := len(a), 32; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	if a == b {
		t.Fatal("two request ids are equal")
	}
	if err := CheckName(a); err != nil {
		t.Fatal(err)
	}
}
