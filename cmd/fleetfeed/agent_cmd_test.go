package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetfeed/rpc"
)

// TestAgentCommandRegisters runs `fleetfeed serve` and `fleetfeed agent`
// with a configuration file, and sees the agent's server appear.
func TestAgentCommandRegisters(t *testing.T) {
	httpAddr, stompAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan int, 1)
	go func() {
		served <- Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", httpAddr,
			"--stomp-listen", stompAddr, "--stomp-passcode", "pw"}, strings.NewReader(""), io.Discard, io.Discard)
	}()
	base := "http://" + httpAddr
	waitFor(t, "the server", func() bool { return getJSON(base+"/healthz", &map[string]any{}) == nil })

	dir := t.TempDir()
	if _, _, err := rpc.GenerateKeyFiles(dir, "mail01"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "trusted"), 0o755)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("facts.yaml", "datacenter: lon1\nlatitude: 51.5\nlongitude: -0.12\nos:\n  family: Debian\n")
	write("classes.txt", "settings\nroles::mail\nprofile::postfix\n")
	config := write("agent.yaml", `identity: mail01.example.com
collective: fleetfeed
key_file: `+filepath.Join(dir, "mail01.key")+`
trusted_keys_dir: `+filepath.Join(dir, "trusted")+`
facts_file: `+filepath.Join(dir, "facts.yaml")+`
classes_file: `+filepath.Join(dir, "classes.txt")+`
policy:
  default: deny
`)
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan int, 1)
	var errOut strings.Builder
	go func() {
		ran <- Main(agentCtx, []string{"agent", "--config", config, "--broker", "stomp://fleetfeed:pw@" + stompAddr},
			strings.NewReader(""), io.Discard, &errOut)
	}()
	var node struct {
		Name     string
		Roles    []string
		Location struct{ Datacenter string }
	}
	waitFor(t, "the agent's registration", func() bool { return getJSON(base+"/api/v1/nodes/mail01.example.com", &node) == nil })
	if node.Name != "mail01" || node.Location.Datacenter != "lon1" || len(node.Roles) != 1 || node.Roles[0] != "mail" {
		t.Fatalf("node = %+v", node)
	}
	stopAgent()
	if code := <-ran; code != 0 {
		t.Fatalf("agent exited %d: %s", code, errOut.String())
	}
	cancel()
	<-served
}

func TestAgentCommandNeedsABroker(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "agent.yaml")
	os.WriteFile(config, []byte("identity: x\n"), 0o644)
	t.Setenv("FLEETFEED_BROKER", "")
	var errOut strings.Builder
	if code := Main(context.Background(), []string{"agent", "--config", config}, strings.NewReader(""), io.Discard, &errOut); code == 0 {
		t.Fatal("agent without a broker exited 0")
	}
	if !strings.Contains(errOut.String(), "broker") {
		t.Fatalf("error %q does not say what is missing", errOut.String())
	}
}
