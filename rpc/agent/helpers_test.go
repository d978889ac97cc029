package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetfeed/rpc"
	"fleetfeed/rpc/internal/memconn"
)

// recorder is a test plugin that records every call: a rejected request
// must leave it untouched.
type recorder struct {
	mu    sync.Mutex
	calls []*Request
}

var recorderDDL = &rpc.DDL{
	Metadata: rpc.Metadata{Name: "recorder", Description: "records calls", Version: "1.0.0", Timeout: 5},
	Actions: []*rpc.ActionDDL{
		{
			Name: "record",
			Input: map[string]*rpc.InputDDL{
				"msg":   {Type: rpc.TypeString, Validation: "shellsafe", MaxLength: 20, Optional: true},
				"count": {Type: rpc.TypeInteger, Optional: true},
			},
			Output: map[string]*rpc.OutputDDL{
				"echo":  {DisplayAs: "Echo"},
				"extra": {DisplayAs: "Extra", Default: "default"},
			},
		},
		{
			Name:  "need",
			Input: map[string]*rpc.InputDDL{"what": {Type: rpc.TypeString}},
		},
		{Name: "secret"},
		{Name: "fail"},
		{Name: "refuse"},
		{Name: "panic"},
	},
}

func (r *recorder) DDL() *rpc.DDL { return recorderDDL }

func (r *recorder) Do(ctx context.Context, req *Request) (map[string]any, error) {
	r.mu.Lock()
	r.calls = append(r.calls, req)
	r.mu.Unlock()
	switch req.Action {
	case "fail":
		return map[string]any{"echo": "partial"}, errors.New("it broke")
	case "refuse":
		return nil, rpc.Errorf(rpc.StatusInvalidData, "not like that")
	case "panic":
		panic("boom")
	}
	return map[string]any{"echo": req.String("msg")}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) last() *Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[len(r.calls)-1]
}

const (
	testIdentity   = "web1.example.com"
	testCollective = "fleetfeed"
)

var testNow = time.Unix(1_800_000_000, 0)

// harness is an agent on an in-memory broker, with a client key (alice)
// it trusts and a recorder plugin.
type harness struct {
	t      *testing.T
	broker *memconn.Broker
	conn   *memconn.Conn
	client *rpc.Signer
	agent  *Agent
	rec    *recorder
	agents *rpc.KeyRing // trusts the agent's key, for checking replies
}

func testPolicy() rpc.Policy {
	return rpc.Policy{
		Default: rpc.Deny,
		Rules: []rpc.PolicyRule{
			{Effect: rpc.Deny, Callers: []string{"user=alice"}, Agents: []string{"recorder"}, Actions: []string{"secret"}},
			{Effect: rpc.Allow, Callers: []string{"user=alice"}},
		},
	}
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func newHarness(t *testing.T, change ...func(*Config)) *harness {
	t.Helper()
	clientPub, clientKey := newKey(t)
	agentPub, agentKey := newKey(t)
	trusted := rpc.NewKeyRing()
	if err := trusted.Add("alice", clientPub); err != nil {
		t.Fatal(err)
	}
	agents := rpc.NewKeyRing()
	if err := agents.Add(testIdentity, agentPub); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, broker: memconn.New(), client: &rpc.Signer{Name: "alice", Key: clientKey}, rec: &recorder{}, agents: agents}
	h.conn = h.broker.Connect()
	cfg := Config{
		Identity:             testIdentity,
		Collective:           testCollective,
		Key:                  agentKey,
		Keys:                 trusted,
		Policy:               testPolicy(),
		Facts:                map[string]any{"environment": "production", "os": map[string]any{"family": "Debian"}, "datacenter": "ams1", "latitude": 52.37, "longitude": 4.9},
		Classes:              []string{"roles::frontend_web"},
		MACs:                 []string{"02:00:00:00:00:01"},
		Plugins:              PluginsConfig{Enabled: []string{}},
		ExtraPlugins:         []Plugin{h.rec},
		Runner:               &fakeRunner{},
		Now:                  func() time.Time { return testNow },
		RegistrationInterval: -1,
	}
	for _, c := range change {
		c(&cfg)
	}
	a, err := New(cfg, h.conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	return h
}

// request returns a request from alice to this node, changed by change.
func (h *harness) request(change func(*rpc.Request)) *rpc.Request {
	req := rpc.NewRequest(testCollective, "recorder", "record", map[string]any{"msg": "hello"})
	req.SenderID = "cli-alice"
	req.CallerID = "user=alice"
	req.MsgTime = testNow.Unix()
	req.Filter = &rpc.Filter{Identity: []string{testIdentity}}
	if change != nil {
		change(req)
	}
	return req
}

func (h *harness) sign(req *rpc.Request) []byte {
	h.t.Helper()
	body, err := h.client.SignRequest(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return body
}

// replies subscribes to alice's reply topic.
func (h *harness) replies() rpc.Subscription {
	h.t.Helper()
	s, err := h.conn.Subscribe(context.Background(), rpc.ReplyDestination(testCollective, "cli-alice"), rpc.AckAuto)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { s.Unsubscribe() })
	return s
}

// repliesSent counts replies sent to alice.
func (h *harness) repliesSent() int {
	return h.broker.Sent(rpc.ReplyDestination(testCollective, "cli-alice"))
}

// nextReply reads and verifies the next reply.
func (h *harness) nextReply(s rpc.Subscription) *rpc.Reply {
	h.t.Helper()
	m := <-s.C()
	rep, err := rpc.VerifyReply(m.Body, h.agents)
	if err != nil {
		h.t.Fatalf("VerifyReply: %v", err)
	}
	return rep
}

// fakeRunner records commands and answers from a table keyed by the
// command line.
type fakeRunner struct {
	mu      sync.Mutex
	ran     []Command
	started []Command
	outputs map[string]Output
	missing map[string]bool // programs LookPath does not find
}

func (f *fakeRunner) Run(ctx context.Context, cmd Command) (Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, cmd)
	if out, ok := f.outputs[cmd.String()]; ok {
		return out, nil
	}
	return Output{}, nil
}

func (f *fakeRunner) Start(cmd Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, cmd)
	return nil
}

func (f *fakeRunner) LookPath(name string) (string, error) {
	if f.missing[name] {
		return "", errors.New("not found")
	}
	return "/usr/bin/" + name, nil
}

func (f *fakeRunner) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, c := range f.ran {
		s = append(s, c.String())
	}
	for _, c := range f.started {
		s = append(s, "start: "+c.String())
	}
	return s
}

func (f *fakeRunner) lines() string { return strings.Join(f.commands(), "\n") }
