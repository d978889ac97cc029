package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fleetfeed/web"
)

// TestServeDemoAcceptsActions: with --demo and a key made by keygen in the
// --demo-trust folder, serve turns the actions on, offers those of
// --actions, and the demo agents answer the requests an operator (here the
// first admin) confirms.
func TestServeDemoAcceptsActions(t *testing.T) {
	dir := t.TempDir()
	var kout, kerr bytes.Buffer
	if code := Main(context.Background(), []string{"keygen", "ops", "--dir", dir}, nil, &kout, &kerr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, kerr.String())
	}
	actions := filepath.Join(dir, "actions.yaml")
	if err := os.WriteFile(actions, []byte(helloActions), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLEETFEED_ADMIN_PASSWORD", "correct horse battery staple")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var log lockedBuffer
	go func() {
		done <- Main(ctx, []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", addr,
			"--stomp-listen", freeAddr(t), "--stomp-passcode", "pw", "--ingest-token", "tok",
			"--demo", "--demo-size", "4", "--demo-pace", "50ms", "--demo-trust", dir, "--admin-user", "boss",
			"--rules-key", filepath.Join(dir, "client.key"), "--rules-key-name", "ops", "--rules-caller", "user=ops",
			"--actions", actions},
			strings.NewReader(""), io.Discard, &log)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, log.String())
		}
	}()
	waitUntil(t, "actions on", func() bool { return strings.Contains(log.String(), "actions on posts are on") })
	waitUntil(t, "demo fleet", func() bool { return strings.Contains(log.String(), "demo fleet started") })
	base := "http://" + addr

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d: %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	csrf := func(path string) string {
		t.Helper()
		m := csrfRe.FindStringSubmatch(get(path))
		if m == nil {
			t.Fatalf("%s has no CSRF token", path)
		}
		return html.UnescapeString(m[1])
	}
	if _, err := c.PostForm(base+"/login", url.Values{"csrf": {csrf("/login")}, "name": {"boss"},
		"password": {"correct horse battery staple"}, "next": {"/"}}); err != nil {
		t.Fatal(err)
	}

	// A demo server's post.
	var id string
	waitUntil(t, "a demo post", func() bool {
		var tl []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(get("/api/v1/timelines/public")), &tl); err != nil || len(tl) == 0 {
			return false
		}
		id = tl[0].ID
		return true
	})
	post := "/posts/" + id
	if body := get(post); !strings.Contains(body, `data-action="say-hello"`) || strings.Contains(body, `data-action="ping"`) {
		t.Fatalf("the post does not offer the actions of --actions:\n%s", body)
	}
	confirm := post + "/actions?action=say-hello"
	resp, err := c.PostForm(base+post+"/actions", url.Values{"csrf": {csrf(confirm)}, "action": {"say-hello"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	thread := resp.Request.URL.Path // after the redirect
	waitUntil(t, "the summary", func() bool { return strings.Contains(get(thread), "1 of 1 answered") })
	if body := get(thread); !strings.Contains(body, "Hello said on") {
		t.Fatalf("the thread has no reply:\n%s", body)
	}
}

// helloActions offers one action, on every post.
const helloActions = `actions:
  - name: say-hello
    label: Say hello
    words: say hello
    done: Hello said
    run:
      agent: rpcutil
      action: ping
`

// TestServeRefusesABadActionsFile: serve stops at once, naming the file
// and the line.
func TestServeRefusesABadActionsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(helloActions, "agent: rpcutil", "agent: rpcutils!", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--db", filepath.Join(t.TempDir(), "f.db"), "--http", freeAddr(t),
		"--stomp-listen", freeAddr(t), "--stomp-passcode", "pw", "--ingest-token", "tok", "--actions", path},
		strings.NewReader(""), io.Discard, &out)
	if code == 0 {
		t.Fatalf("serve started with a bad actions file")
	}
	for _, want := range []string{"--actions: " + path + ": ", "line 7:", `name "rpcutils!"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the error %q lacks %q", out.String(), want)
		}
	}
}

// TestREADMEActions: the README shows the default actions file as it is,
// and its example loads.
func TestREADMEActions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	indent := func(s string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			if l != "" {
				l = "    " + l
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n") + "\n"
	}
	if !strings.Contains(readme, indent(string(web.DefaultActionsYAML()))) {
		t.Errorf("the README does not show web/actions_default.yaml as it is")
	}
	const start, end = "    cat > actions.yaml <<'EOF'\n", "\n    EOF\n"
	i := strings.Index(readme, start)
	j := strings.Index(readme[i+len(start):], end)
	if i < 0 || j < 0 {
		t.Fatal("the README has no actions.yaml example")
	}
	var example []string
	for _, l := range strings.Split(readme[i+len(start):i+len(start)+j], "\n") {
		example = append(example, strings.TrimPrefix(l, "    "))
	}
	path := filepath.Join(t.TempDir(), "actions.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(example, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadActions(ServeConfig{Actions: path})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Actions), 3; got != want {
		t.Fatalf("the example has %d actions, want %d", got, want)
	}
}
