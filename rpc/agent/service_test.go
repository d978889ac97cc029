package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fleetfeed/rpc"
)

func doService(t *testing.T, p *servicePlugin, action, svc string) (map[string]any, error) {
	t.Helper()
	inputs, err := serviceDDL.Action(action).ValidateInputs(map[string]any{"service": svc})
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	return p.Do(context.Background(), &Request{Wire: &rpc.Request{}, Action: action, Inputs: inputs})
}

func TestServiceStatus(t *testing.T) {
	for _, tc := range []struct {
		stdout string
		exit   int
		want   string
	}{
		{"active\n", 0, "running"},
		{"reloading\n", 0, "running"},
		{"inactive\n", 3, "stopped"},
		{"failed\n", 3, "stopped"},
	} {
		run := &fakeRunner{outputs: map[string]Output{"systemctl is-active -- nginx": {Stdout: []byte(tc.stdout), ExitCode: tc.exit}}}
		out, err := doService(t, newServicePlugin(ServiceConfig{}, run), "status", "nginx")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out["status"], any(tc.want); got != want {
			t.Errorf("%q: status = %v, want %v", tc.stdout, got, want)
		}
	}
}

func TestServiceStatusNoAnswer(t *testing.T) {
	run := &fakeRunner{outputs: map[string]Output{"systemctl is-active -- nginx": {
		ExitCode: 1, Stderr: []byte("System has not been booted with systemd as init system (PID 1). Can't operate.\n")}}}
	_, err := doService(t, newServicePlugin(ServiceConfig{}, run), "status", "nginx")
	var se *rpc.StatusError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "not been booted with systemd") {
		t.Fatalf("status = %v, want systemctl's complaint", err)
	}
}

func TestServiceRestart(t *testing.T) {
	run := &fakeRunner{outputs: map[string]Output{"systemctl is-active -- nginx": {Stdout: []byte("active\n")}}}
	out, err := doService(t, newServicePlugin(ServiceConfig{}, run), "restart", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := run.lines(), "systemctl restart -- nginx\nsystemctl is-active -- nginx"; got != want {
		t.Fatalf("ran\n%s\nwant\n%s", got, want)
	}
	if got, want := out["status"], any("running"); got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
}

func TestServiceStartFails(t *testing.T) {
	run := &fakeRunner{outputs: map[string]Output{
		"systemctl start -- nginx":     {ExitCode: 1, Stderr: []byte("Job for nginx.service failed because the control process exited with error code.\n")},
		"systemctl is-active -- nginx": {Stdout: []byte("failed\n"), ExitCode: 3},
	}}
	out, err := doService(t, newServicePlugin(ServiceConfig{}, run), "start", "nginx")
	if err == nil || !strings.Contains(err.Error(), "Job for nginx.service failed") {
		t.Fatalf("start = %v, want systemctl's error", err)
	}
	if got, want := out["status"], any("stopped"); got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
}

func TestServiceProtected(t *testing.T) {
	run := &fakeRunner{}
	p := newServicePlugin(ServiceConfig{Protected: []string{"ssh", "/^fleetfeed/"}}, run)
	for _, tc := range []struct{ action, svc string }{{"stop", "ssh"}, {"restart", "fleetfeed-agent"}} {
		if _, err := doService(t, p, tc.action, tc.svc); err == nil || !strings.Contains(err.Error(), "protected") {
			t.Errorf("%s %s = %v, want refused", tc.action, tc.svc, err)
		}
	}
	if got := run.commands(); len(got) != 0 {
		t.Fatalf("ran %v", got)
	}
}

func TestServiceNameValidated(t *testing.T) {
	for _, svc := range []string{"--now", "nginx; reboot", "a b", "$(reboot)", ""} {
		if _, err := serviceDDL.Action("stop").ValidateInputs(map[string]any{"service": svc}); err == nil {
			t.Errorf("service %q accepted", svc)
		}
	}
	for _, svc := range []string{"nginx", "nginx.service", "getty@tty1.service", "systemd-journald"} {
		if _, err := serviceDDL.Action("stop").ValidateInputs(map[string]any{"service": svc}); err != nil {
			t.Errorf("service %q refused: %v", svc, err)
		}
	}
}
