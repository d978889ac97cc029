package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestUserCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "f.db")
	if out, errs, code := runCLI(t, "correct horse\n", "user", "add", "alice", "--role", "admin", "--email", "alice@example.com", "--db", db); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errs)
	}
	if _, errs, code := runCLI(t, "correct horse\n", "user", "add", "Alice", "--db", db); code == 0 || !strings.Contains(errs, `user "Alice" already exists`) {
		t.Fatalf("adding a taken name: %d %q", code, errs)
	}
	if _, errs, code := runCLI(t, "short\n", "user", "add", "bob", "--db", db); code == 0 || !strings.Contains(errs, "at least 8 characters") {
		t.Fatalf("a short password: %d %q", code, errs)
	}
	if _, errs, code := runCLI(t, "", "user", "add", "bob", "--db", db); code == 0 || !strings.Contains(errs, "no password") {
		t.Fatalf("no password: %d %q", code, errs)
	}
	runCLI(t, "battery staple", "user", "add", "bob", "--role", "operator", "--db", db)
	out, _, code := runCLI(t, "", "user", "list", "--db", db)
	if code != 0 {
		t.Fatalf("user list: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got, want := len(lines), 3; got != want {
		t.Fatalf("user list printed %d lines, want %d:\n%s", got, want, out)
	}
	if !strings.HasPrefix(lines[1], "alice") || !strings.Contains(lines[1], "admin") || !strings.Contains(lines[2], "operator") {
		t.Fatalf("user list:\n%s", out)
	}
	if _, errs, code := runCLI(t, "", "user", "role", "alice", "viewer", "--db", db); code == 0 || !strings.Contains(errs, "last administrator") {
		t.Fatalf("demoting the last admin: %d %q", code, errs)
	}
	if out, _, code := runCLI(t, "", "user", "role", "bob", "admin", "--db", db); code != 0 || out != "bob is now admin\n" {
		t.Fatalf("user role: %d %q", code, out)
	}
	if out, _, code := runCLI(t, "new password\n", "user", "passwd", "bob", "--db", db); code != 0 || out != "password of bob changed\n" {
		t.Fatalf("user passwd: %d %q", code, out)
	}
	if _, errs, code := runCLI(t, "", "user", "passwd", "carol", "--db", db); code == 0 || !strings.Contains(errs, `no user "carol"`) {
		t.Fatalf("passwd of nobody: %d %q", code, errs)
	}
}

func TestNodesImportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	file := filepath.Join(dir, "nodes.yaml")
	os.WriteFile(file, []byte("- handle: web01\n  location: {datacenter: AMS1}\n- handle: db01\n"), 0o600)
	if out, errs, code := runCLI(t, "", "nodes", "import", file, "--db", db); code != 0 || out != "imported 2 servers: 2 created, 0 updated\n" {
		t.Fatalf("nodes import: %d %q %q", code, out, errs)
	}
	os.WriteFile(file, []byte("- handle: web01\n  contact: nobody\n- {}\n"), 0o600)
	_, errs, code := runCLI(t, "", "nodes", "import", file, "--db", db)
	if code == 0 || !strings.Contains(errs, "2 bad entries") || !strings.Contains(errs, "line 1 (web01)") || !strings.Contains(errs, "line 3 (entry 2): no handle") {
		t.Fatalf("a bad nodes file: %d %q", code, errs)
	}
}
