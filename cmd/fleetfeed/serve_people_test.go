package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/timeline/people"
)

func TestEnsureAdmin(t *testing.T) {
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &people.Store{DB: db, Params: people.Params{Memory: 64, Time: 1, Threads: 1}}
	ctx := context.Background()
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))

	// No password: a hint, no admin.
	cfg := DefaultServeConfig()
	if err := ensureAdmin(ctx, store, cfg, logger); err != nil {
		t.Fatal(err)
	}
	if ok, _ := store.HasAdmin(ctx); ok {
		t.Fatal("an admin was made without a password")
	}
	if !strings.Contains(log.String(), "fleetfeed user add NAME --role admin") {
		t.Fatalf("no hint in the log: %s", log.String())
	}

	// With one: the admin, and the password nowhere in the log.
	cfg.AdminUser, cfg.AdminPassword = "root", "first-admin-passphrase"
	if err := ensureAdmin(ctx, store, cfg, logger); err != nil {
		t.Fatal(err)
	}
	u, err := store.Authenticate(ctx, "root", "first-admin-passphrase")
	if err != nil || u.Role != people.RoleAdmin {
		t.Fatalf("first admin: %+v, %v", u, err)
	}
	if strings.Contains(log.String(), "first-admin-passphrase") {
		t.Fatalf("the password is in the log: %s", log.String())
	}

	// Once there is one, nothing more is made.
	cfg.AdminUser = "second"
	if err := ensureAdmin(ctx, store, cfg, logger); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ByName(ctx, "second"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("a second admin was made: %v", err)
	}

	// A bad password is a clear error.
	db2 := feed.NewDB(filepath.Join(t.TempDir(), "other.db"))
	if err := db2.Open(); err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	cfg.AdminPassword = "short"
	if err := ensureAdmin(ctx, &people.Store{DB: db2}, cfg, logger); err == nil || !strings.Contains(err.Error(), "at least 8 characters") {
		t.Fatalf("short password: %v", err)
	}
}
