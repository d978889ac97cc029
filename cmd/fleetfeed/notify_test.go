package main

import (
	"bufio"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/web"
)

// TestNotifyNagios runs `fleetfeed notify nagios` as Nagios would, with a
// real notification's NAGIOS_* environment, against a real server.
func TestNotifyNagios(t *testing.T) {
	db := feed.NewDB(filepath.Join(t.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	srv.IngestToken = "tok"
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	f, err := os.Open("../../../shared/testdata/nagios/env/1795629090137692616-service-PROBLEM.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "NAGIOS_") {
			t.Setenv(k, v)
		}
	}
	var out, errOut strings.Builder
	if code := Main(context.Background(), []string{"notify", "nagios", "--server", ts.URL, "--token", "tok"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got, want := out.String(), "posted: 1 new, 0 folded\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM posts WHERE text = 'Experiencing high load'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("posts: %d, %v", n, err)
	}
	// A wrong token is refused with the server's reason.
	errOut.Reset()
	if code := Main(context.Background(), []string{"notify", "nagios", "--server", ts.URL, "--token", "nope"}, strings.NewReader(""), io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "token") {
		t.Fatalf("wrong token: exit %d, %q", code, errOut.String())
	}
}

// TestIngestCommand sends real files with `fleetfeed ingest`, guessing
// each one's content type.
func TestIngestCommand(t *testing.T) {
	db := feed.NewDB(filepath.Join(t.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	srv.IngestToken = "tok"
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	shared := "../../../shared/testdata/"
	for _, tc := range []struct{ source, file, node string }{
		{"suricata", "suricata/beats-eve-6.0-alert.jsonl", ""},
		{"puppet", "puppet/03-failed.http-post-body.yaml", ""},
		{"puppet", "puppet/06-changed-json.last_run_report.json", ""},
		{"fail2ban", "fail2ban/http/req002.body", ""},
		{"fail2ban", "fail2ban/fail2ban.log", "web01.example.com"},
		{"snort", "snort/suricata-verify-lua-fastlog.fast.log", "sensor01"},
	} {
		t.Run(tc.source+"/"+filepath.Base(tc.file), func(t *testing.T) {
			args := []string{"ingest", tc.source, shared + tc.file, "--server", ts.URL, "--token", "tok"}
			if tc.node != "" {
				args = append(args, "--node", tc.node)
			}
			var errOut strings.Builder
			if code := Main(context.Background(), args, strings.NewReader(""), io.Discard, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
		})
	}
}
