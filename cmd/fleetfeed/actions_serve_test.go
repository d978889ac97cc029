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
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeDemoAcceptsActions: with --demo and a key made by keygen in the
// --demo-trust folder, serve turns the actions on, and the demo agents
// answer the requests an operator (here the first admin) confirms.
func TestServeDemoAcceptsActions(t *testing.T) {
	dir := t.TempDir()
	var kout, kerr bytes.Buffer
	if code := Main(context.Background(), []string{"keygen", "ops", "--dir", dir}, nil, &kout, &kerr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, kerr.String())
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
			"--rules-key", filepath.Join(dir, "client.key"), "--rules-key-name", "ops", "--rules-caller", "user=ops"},
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
	confirm := post + "/actions?action=ping"
	resp, err := c.PostForm(base+post+"/actions", url.Values{"csrf": {csrf(confirm)}, "action": {"ping"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	thread := resp.Request.URL.Path // after the redirect
	waitUntil(t, "the summary", func() bool { return strings.Contains(get(thread), "1 of 1 answered") })
	if body := get(thread); !strings.Contains(body, "Ping answered on") {
		t.Fatalf("the thread has no reply:\n%s", body)
	}
}
