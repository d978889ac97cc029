package agent

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"fleetfeed/rpc"
)

func doPackage(t *testing.T, p *packagePlugin, name string) (map[string]any, error) {
	t.Helper()
	inputs, err := packageDDL.Action("status").ValidateInputs(map[string]any{"package": name})
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	return p.Do(context.Background(), &Request{Wire: &rpc.Request{}, Action: "status", Inputs: inputs})
}

// TestPackageStatusDpkg asks the real dpkg-query of this machine.
func TestPackageStatusDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("no dpkg-query here")
	}
	p := newPackagePlugin(PackageConfig{}, ExecRunner{})
	if got, want := p.cfg.Manager, "dpkg"; got != want {
		t.Fatalf("manager = %q, want %q", got, want)
	}
	out, err := doPackage(t, p, "bash")
	if err != nil {
		t.Fatal(err)
	}
	version, _ := out["version"].(string)
	if version == "" || out["ensure"] != version {
		t.Fatalf("bash: ensure = %v, version = %v", out["ensure"], out["version"])
	}
	if got, want := out["status"], any("install ok installed"); got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
	out, err = doPackage(t, p, "fleetfeed-no-such-package")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out["ensure"], any("absent"); got != want {
		t.Fatalf("ensure = %v, want %v", got, want)
	}
}

func TestPackageStatusRPM(t *testing.T) {
	run := &fakeRunner{
		missing: map[string]bool{"dpkg-query": true},
		outputs: map[string]Output{
			"rpm -q --queryformat %{VERSION}-%{RELEASE}\t%{ARCH}\n -- bash": {Stdout: []byte("5.1.8-9.el9\tx86_64\n")},
			"rpm -q --queryformat %{VERSION}-%{RELEASE}\t%{ARCH}\n -- nope": {Stdout: []byte("package nope is not installed\n"), ExitCode: 1},
		},
	}
	p := newPackagePlugin(PackageConfig{}, run)
	if got, want := p.cfg.Manager, "rpm"; got != want {
		t.Fatalf("manager = %q, want %q", got, want)
	}
	out, err := doPackage(t, p, "bash")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out["ensure"], any("5.1.8-9.el9"); got != want {
		t.Fatalf("ensure = %v, want %v", got, want)
	}
	out, err = doPackage(t, p, "nope")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out["ensure"], any("absent"); got != want {
		t.Fatalf("ensure = %v, want %v", got, want)
	}
}

func TestPackageNameValidated(t *testing.T) {
	for _, name := range []string{"-Wbash", "bash;reboot", "bash baz", ""} {
		if _, err := packageDDL.Action("status").ValidateInputs(map[string]any{"package": name}); err == nil {
			t.Errorf("package %q accepted", name)
		}
	}
	for _, name := range []string{"bash", "libstdc++6", "python3.11", "libc6:amd64"} {
		if _, err := packageDDL.Action("status").ValidateInputs(map[string]any{"package": name}); err != nil {
			t.Errorf("package %q refused: %v", name, err)
		}
	}
}

func TestExecRunnerBoundsOutput(t *testing.T) {
	if _, err := exec.LookPath("head"); err != nil {
		t.Skip("no head here")
	}
	out, err := ExecRunner{}.Run(context.Background(), Command{Path: "head", Args: []string{"-c", "100000", "/dev/zero"}, MaxOutput: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(out.Stdout), 1000; got != want {
		t.Fatalf("stdout = %d bytes, want %d", got, want)
	}
	if !out.Truncated {
		t.Fatal("not marked truncated")
	}
}

func TestExecRunnerExitCode(t *testing.T) {
	out, err := ExecRunner{}.Run(context.Background(), Command{Path: "sh", Args: []string{"-c", "echo oops >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.ExitCode, 3; got != want {
		t.Fatalf("exit = %d, want %d", got, want)
	}
	if got, want := strings.TrimSpace(string(out.Stderr)), "oops"; got != want {
		t.Fatalf("stderr = %q, want %q", got, want)
	}
	if _, err := (ExecRunner{}).Run(context.Background(), Command{Path: "/nonexistent/program"}); err == nil {
		t.Fatal("running a missing program succeeded")
	}
}
