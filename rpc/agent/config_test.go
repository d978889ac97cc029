package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fleetfeed/rpc"
)

func TestLoadExampleConfig(t *testing.T) {
	cfg, err := LoadConfig("agent.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Identity, "web1.example.com"; got != want {
		t.Errorf("identity = %q, want %q", got, want)
	}
	if got, want := cfg.RegistrationInterval, 5*time.Minute; got != want {
		t.Errorf("registration_interval = %v, want %v", got, want)
	}
	if err := cfg.Policy.Validate(); err != nil {
		t.Errorf("policy: %v", err)
	}
	if got, want := len(cfg.Policy.Rules), 5; got != want {
		t.Errorf("%d policy rules, want %d", got, want)
	}
	if got, want := cfg.Plugins.Puppet.Launcher[0], "systemd-run"; got != want {
		t.Errorf("launcher = %q, want %q", got, want)
	}
	if _, err := rpc.ParsePublicKey([]byte(cfg.TrustedKeys[1].PublicKey)); err != nil {
		t.Errorf("example public key: %v", err)
	}
}

func TestLoadConfigUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte("identity: web1\nregistraton_interval: 5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "registraton_interval") {
		t.Fatalf("LoadConfig = %v, want an error naming the misspelt key", err)
	}
}

// A configuration file naming key files, a facts file and a classes file
// makes a working agent.
func TestNewFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := rpc.GenerateKeyFiles(dir, "web1.example.com"); err != nil {
		t.Fatal(err)
	}
	trusted := filepath.Join(dir, "trusted")
	if err := os.Mkdir(trusted, 0o755); err != nil {
		t.Fatal(err)
	}
	alicePub, _, err := rpc.GenerateKeyFiles(trusted, "alice")
	if err != nil {
		t.Fatal(err)
	}
	serverPub, _ := newKey(t)
	facts := filepath.Join(dir, "facts.yaml")
	if err := os.WriteFile(facts, []byte("environment: production\nos:\n  family: Debian\n  release:\n    major: 12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	classes, err := filepath.Abs("testdata/puppet/08-write_catalog_summary.classes.txt")
	if err != nil {
		t.Fatal(err)
	}
	config := `
identity: web1.example.com
key_file: ` + filepath.Join(dir, "web1.example.com.key") + `
trusted_keys_dir: ` + trusted + `
trusted_keys:
  - name: server
    public_key: ` + rpc.EncodePublicKey(serverPub) + `
    principals: ["*"]
facts_file: ` + facts + `
classes_file: ` + classes + `
plugins:
  enabled: [service]
policy:
  default: allow
registration_interval: -1s
`
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := a.Inventory()
	if got, want := inv.Classes, []string{"settings"}; !slices.Equal(got, want) {
		t.Errorf("classes = %v, want %v", got, want)
	}
	if !(&rpc.Filter{Fact: []rpc.FactFilter{{Fact: "os.release.major", Operator: ">=", Value: "12"}}}).Match(inv) {
		t.Errorf("facts %v do not match os.release.major>=12", inv.Facts)
	}
	if got, want := a.Agents(), []string{"rpcutil", "service"}; !slices.Equal(got, want) {
		t.Errorf("agents = %v, want %v", got, want)
	}
	if pub, ok := a.keys.Lookup("alice"); !ok || !pub.Equal(alicePub) {
		t.Error("alice's key not trusted")
	}
	if !a.keys.Allows("server", "user=anyone") {
		t.Error("server key not trusted for everyone")
	}
	if got, want := a.signer.Name, "web1.example.com"; got != want {
		t.Errorf("key name = %q, want %q", got, want)
	}
	if got, want := a.Destinations(), []string{
		"/queue/fleetfeed.node.web1.example.com",
		"/topic/fleetfeed.broadcast.agent.rpcutil",
		"/topic/fleetfeed.broadcast.agent.service",
	}; !slices.Equal(got, want) {
		t.Errorf("destinations = %v, want %v", got, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, key := newKey(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no key", Config{Identity: "web1", Keys: rpc.NewKeyRing(), Facts: map[string]any{}}},
		{"bad identity", Config{Identity: "web 1", Key: key, Keys: rpc.NewKeyRing(), Facts: map[string]any{}}},
		{"bad policy", Config{Identity: "web1", Key: key, Keys: rpc.NewKeyRing(), Facts: map[string]any{},
			Policy: rpc.Policy{Default: "perhaps"}}},
		{"unknown plugin", Config{Identity: "web1", Key: key, Keys: rpc.NewKeyRing(), Facts: map[string]any{},
			Plugins: PluginsConfig{Enabled: []string{"nagios"}}}},
		{"duplicate plugin", Config{Identity: "web1", Key: key, Keys: rpc.NewKeyRing(), Facts: map[string]any{},
			Plugins: PluginsConfig{Enabled: []string{}}, ExtraPlugins: []Plugin{&recorder{}, &recorder{}}}},
		{"missing facts file", Config{Identity: "web1", Key: key, Keys: rpc.NewKeyRing(), FactsFile: "/nonexistent/facts.yaml"}},
		{"trusted key without key", Config{Identity: "web1", Key: key, TrustedKeys: []TrustedKey{{Name: "x"}}, Facts: map[string]any{}}},
	} {
		if _, err := New(tc.cfg, nil, nil); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestLoadFacts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content string }{
		{"facts.json", `{"os": {"family": "Debian"}, "processors": {"count": 4}}`},
		{"facts.yaml", "os:\n  family: Debian\nprocessors:\n  count: 4\n"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		facts, err := LoadFacts(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ff := rpc.FactFilter{Fact: "processors.count", Operator: ">", Value: "2"}
		if !ff.Match(facts) {
			t.Errorf("%s: facts %v do not match %v", tc.name, facts, ff)
		}
	}
}

func TestRunFacter(t *testing.T) {
	run := &fakeRunner{outputs: map[string]Output{"/usr/bin/facter -j": {Stdout: []byte(`{"kernel": "Linux", "networking": {"fqdn": "web1.example.com", "mac": "02:00:00:00:00:09"}}`)}}}
	h := newHarness(t, func(c *Config) { c.Facts, c.MACs, c.Runner = nil, nil, run })
	inv := h.agent.Inventory()
	if got, want := inv.Facts["kernel"], any("Linux"); got != want {
		t.Fatalf("kernel = %v, want %v", got, want)
	}
	reg := h.agent.Registration()
	if got, want := reg.FQDN, "web1.example.com"; got != want {
		t.Errorf("fqdn = %q, want %q", got, want)
	}
	if got, want := reg.MACs, []string{"02:00:00:00:00:09"}; !slices.Equal(got, want) {
		t.Errorf("macs = %v, want %v", got, want)
	}
}

// TestRealFacter runs this machine's Facter, when it has one.
func TestRealFacter(t *testing.T) {
	path, err := ExecRunner{}.LookPath("facter")
	if err != nil || testing.Short() {
		t.Skip("no facter here, or -short")
	}
	facts, err := RunFacter(context.Background(), ExecRunner{}, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rpc.LookupFact(facts, "kernel"); !ok {
		t.Fatalf("no kernel fact in %d facts", len(facts))
	}
}
