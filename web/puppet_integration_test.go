package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of an installed tool, skipping the test when it
// is missing, except under CI=true, where a missing tool fails the run.
func needTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed (Debian package %s)", name, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI must install it")
	}
	t.Skip(msg + "; skipping")
	return ""
}

// TestRealPuppetReports points Debian's real `puppet apply` at the ingest
// endpoint the way a Puppet server would be configured (reports = http,
// reporturl with the token as the basic-auth password) and checks the
// posts its reports make.
func TestRealPuppetReports(t *testing.T) {
	puppet := needTool(t, "puppet", "puppet")
	ts, _ := newServer(t)
	dir := t.TempDir()
	reportURL := strings.Replace(ts.URL, "http://", "http://puppet:"+token+"@", 1) + "/api/v1/ingest/puppet"

	apply := func(manifest string) string {
		t.Helper()
		path := filepath.Join(dir, "site.pp")
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, puppet, "apply",
			"--confdir", filepath.Join(dir, "conf"), "--vardir", filepath.Join(dir, "var"),
			"--logdir", filepath.Join(dir, "log"), "--codedir", filepath.Join(dir, "code"),
			"--rundir", filepath.Join(dir, "run"),
			"--certname", "web42.example.com",
			"--reports", "http", "--reporturl", reportURL, path)
		cmd.Env = append(os.Environ(), "FACTER_ff_dir="+dir)
		out, err := cmd.CombinedOutput()
		// A failed resource makes puppet apply exit non-zero; a failed
		// report upload shows as "Report processor failed".
		if strings.Contains(string(out), "Report processor failed") {
			t.Fatalf("puppet could not deliver its report:\n%s", out)
		}
		_ = err
		return string(out)
	}
	manifest := func(content string, failing bool) string {
		m := `node default { class { 'roles::frontend_web': } }
class roles::frontend_web {
  file { "${facts['ff_dir']}/motd": content => "` + content + `\n" }
`
		if failing {
			m += `  exec { 'check the shop': command => '/bin/false' }
`
		}
		return m + "}\n"
	}

	apply(manifest("hello", false)) // creates the file: changed
	var node map[string]any
	getJSON(t, ts.URL+"/api/v1/nodes/web42", &node)
	if got, want := node["display_name"], "web42.example.com"; got != want {
		t.Fatalf("display name = %v, want %v", got, want)
	}
	roles, _ := node["roles"].([]any)
	if len(roles) != 1 || roles[0] != "frontend_web" {
		t.Fatalf("roles = %v, want [frontend_web]", node["roles"])
	}
	var posts []map[string]any
	getJSON(t, ts.URL+"/api/v1/nodes/web42/posts", &posts)
	if got, want := len(posts), 1; got != want {
		t.Fatalf("after a changed run: %d posts, want %d", got, want)
	}
	tags := fmt.Sprint(posts[0]["tags"])
	for _, want := range []string{"puppet", "changed", "frontend_web"} {
		if !strings.Contains(tags, want) {
			t.Errorf("changed run's tags %s lack %q", tags, want)
		}
	}

	apply(manifest("hello", false)) // nothing to do: no post
	getJSON(t, ts.URL+"/api/v1/nodes/web42/posts", &posts)
	if got, want := len(posts), 1; got != want {
		t.Fatalf("after an unchanged run: %d posts, want %d", got, want)
	}
	if got := getStats(t, ts.URL).Events; got != 2 {
		t.Fatalf("events = %d, want 2 (the unchanged run counts)", got)
	}

	apply(manifest("hello again", true)) // a failed exec
	getJSON(t, ts.URL+"/api/v1/nodes/web42/posts", &posts)
	if got, want := len(posts), 2; got != want {
		t.Fatalf("after a failed run: %d posts, want %d", got, want)
	}
	if got, want := posts[0]["severity"], "critical"; got != want {
		t.Errorf("failed run severity = %v, want %v", got, want)
	}
	if tags := fmt.Sprint(posts[0]["tags"]); !strings.Contains(tags, "fail") {
		t.Errorf("failed run's tags %s lack fail", tags)
	}
	getJSON(t, ts.URL+"/api/v1/nodes/web42", &node)
	if got, want := node["health"], "critical"; got != want {
		t.Errorf("health after a failed run = %v, want %v", got, want)
	}

	apply(manifest("hello again", false)) // fixed: nothing left to change
	getJSON(t, ts.URL+"/api/v1/nodes/web42/posts", &posts)
	if got, want := len(posts), 3; got != want {
		t.Fatalf("after the fix: %d posts, want %d", got, want)
	}
	if got, want := posts[0]["in_reply_to"], posts[1]["id"]; got != want {
		t.Errorf("the clean run replies to %v, want the failure %v", got, want)
	}
	getJSON(t, ts.URL+"/api/v1/nodes/web42", &node)
	if got, want := node["health"], "ok"; got != want {
		t.Errorf("health after the fix = %v, want %v", got, want)
	}
	for _, p := range posts {
		t.Logf("post: %q", p["text"])
	}
}
