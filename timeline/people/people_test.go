package people_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline/people"
)

// fastParams keep argon2id cheap in tests; production uses DefaultParams.
var fastParams = people.Params{Memory: 64, Time: 1, Threads: 1}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) (*people.Store, *clock) {
	t.Helper()
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db.Now = c.now
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &people.Store{DB: db, Params: fastParams}, c
}

func mustCreate(t *testing.T, s *people.Store, name string, role people.Role) *people.User {
	t.Helper()
	u, err := s.Create(context.Background(), people.NewUser{Name: name, Password: "correct horse", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if ok, err := s.HasAdmin(ctx); err != nil || ok {
		t.Fatalf("HasAdmin on an empty store = %v, %v", ok, err)
	}
	alice := mustCreate(t, s, "alice", people.RoleAdmin)
	if ok, _ := s.HasAdmin(ctx); !ok {
		t.Fatal("HasAdmin after creating an admin = false")
	}
	bob := mustCreate(t, s, "bob", people.RoleViewer)

	if _, err := s.Create(ctx, people.NewUser{Name: "ALICE", Password: "whatever123", Role: people.RoleViewer}); feed.ErrorCode(err) != feed.ECONFLICT {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, bad := range []people.NewUser{
		{Name: "", Password: "longenough", Role: people.RoleViewer},
		{Name: "has space", Password: "longenough", Role: people.RoleViewer},
		{Name: "carol", Password: "short", Role: people.RoleViewer},
		{Name: "carol", Password: "longenough", Role: "root"},
		{Name: "carol", Password: "longenough", Role: people.RoleViewer, Email: "not-an-address"},
	} {
		if _, err := s.Create(ctx, bad); feed.ErrorCode(err) != feed.EINVALID {
			t.Errorf("Create(%+v) = %v, want EINVALID", bad, err)
		}
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(list), 2; got != want {
		t.Fatalf("List: %d users, want %d", got, want)
	}
	if got, want := list[0].Name+","+list[1].Name, "alice,bob"; got != want {
		t.Fatalf("List = %s, want %s", got, want)
	}

	if err := s.SetRole(ctx, bob.ID, people.RoleOperator); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get(ctx, bob.ID); u.Role != people.RoleOperator {
		t.Fatalf("role after SetRole = %s", u.Role)
	}
	if err := s.SetRole(ctx, alice.ID, people.RoleViewer); feed.ErrorCode(err) != feed.ECONFLICT {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := s.Delete(ctx, alice.ID); feed.ErrorCode(err) != feed.ECONFLICT {
		t.Fatalf("deleting the last admin: %v", err)
	}
	if err := s.SetEmail(ctx, bob.ID, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.ByName(ctx, "BOB"); u == nil || u.Email != "bob@example.com" {
		t.Fatalf("ByName(BOB) = %+v", u)
	}
	if !people.RoleAdmin.AtLeast(people.RoleOperator) || people.RoleViewer.AtLeast(people.RoleOperator) {
		t.Fatal("AtLeast is wrong")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u := mustCreate(t, s, "alice", people.RoleViewer)

	got, err := s.Authenticate(ctx, "Alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID {
		t.Fatalf("Authenticate returned user %d, want %d", got.ID, u.ID)
	}
	wrongPass, err1 := s.Authenticate(ctx, "alice", "wrong horse")
	noUser, err2 := s.Authenticate(ctx, "mallory", "correct horse")
	if wrongPass != nil || noUser != nil {
		t.Fatal("a failed sign-in returned a user")
	}
	// One answer for both, so the message does not tell which names exist.
	if feed.ErrorCode(err1) != feed.EUNAUTHORIZED || err1.Error() != err2.Error() {
		t.Fatalf("failures differ: %v / %v", err1, err2)
	}

	if err := s.SetPassword(ctx, u.ID, "battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", "correct horse"); err == nil {
		t.Fatal("the old password still works")
	}
	if _, err := s.Authenticate(ctx, "alice", "battery staple"); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := people.HashPassword("correct horse", fastParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := people.HashPassword("correct horse", fastParams)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{{"correct horse", true}, {"correct horse ", false}, {"", false}} {
		if got, err := people.CheckPassword(h, tc.password); err != nil || got != tc.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.password, got, err, tc.want)
		}
	}
	if _, err := people.CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("a bcrypt hash was accepted")
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	s.SessionTTL = time.Hour
	u := mustCreate(t, s, "alice", people.RoleViewer)

	sess, err := s.CreateSession(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupSession(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.User.ID != u.ID || string(got.CSRF) != string(sess.CSRF) {
		t.Fatalf("LookupSession = %+v", got)
	}
	// The database holds only the token's hash.
	var n int
	s.DB.SQL().QueryRow(`SELECT COUNT(*) FROM sessions WHERE token = ?`, sess.Token).Scan(&n)
	if n != 0 {
		t.Fatal("the session token is stored as given")
	}
	if _, err := s.LookupSession(ctx, sess.Token+"x"); feed.ErrorCode(err) != feed.EUNAUTHORIZED {
		t.Fatalf("a wrong token: %v", err)
	}

	c.t = c.t.Add(2 * time.Hour)
	if _, err := s.LookupSession(ctx, sess.Token); feed.ErrorCode(err) != feed.EUNAUTHORIZED {
		t.Fatalf("an expired session: %v", err)
	}
	if n, _ := s.DeleteExpiredSessions(ctx); n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, want 1", n)
	}

	a, _ := s.CreateSession(ctx, u.ID)
	b, _ := s.CreateSession(ctx, u.ID)
	if err := s.DeleteSession(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupSession(ctx, a.Token); err == nil {
		t.Fatal("a deleted session still works")
	}
	if _, err := s.LookupSession(ctx, b.Token); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupSession(ctx, b.Token); err == nil {
		t.Fatal("a session survived DeleteUserSessions")
	}
	// A new password ends the sessions too.
	d, _ := s.CreateSession(ctx, u.ID)
	s.SetPassword(ctx, u.ID, "battery staple")
	if _, err := s.LookupSession(ctx, d.Token); err == nil {
		t.Fatal("a session survived a password change")
	}
}

func TestCSRF(t *testing.T) {
	secret := people.CSRFSecret("0123456789abcdef0123456789abcdef")
	other := people.CSRFSecret("fedcba9876543210fedcba9876543210")
	tok := secret.Token()
	if tok == secret.Token() {
		t.Fatal("two tokens are equal")
	}
	for _, tc := range []struct {
		name   string
		secret people.CSRFSecret
		token  string
		want   bool
	}{
		{"own", secret, tok, true},
		{"other session", other, tok, false},
		{"empty", secret, "", false},
		{"tampered", secret, tok[:len(tok)-2] + "AA", false},
		{"garbage", secret, "!!!", false},
		{"no secret", nil, tok, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.secret.Verify(tc.token); got != tc.want {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFeedToken(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u := mustCreate(t, s, "alice", people.RoleViewer)
	if _, err := s.LookupFeedToken(ctx, "nothing"); feed.ErrorCode(err) != feed.EUNAUTHORIZED {
		t.Fatalf("unknown token: %v", err)
	}
	tok, err := s.NewFeedToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupFeedToken(ctx, tok)
	if err != nil || got.ID != u.ID || !got.HasFeedToken {
		t.Fatalf("LookupFeedToken = %+v, %v", got, err)
	}
	tok2, _ := s.NewFeedToken(ctx, u.ID)
	if _, err := s.LookupFeedToken(ctx, tok); err == nil {
		t.Fatal("the replaced token still works")
	}
	if err := s.RevokeFeedToken(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupFeedToken(ctx, tok2); err == nil {
		t.Fatal("a revoked token still works")
	}
}

func TestSecret(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, err := s.Secret(ctx, "unsubscribe")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Secret(ctx, "unsubscribe")
	c, _ := s.Secret(ctx, "other")
	if got, want := len(a), 32; got != want {
		t.Fatalf("secret of %d bytes, want %d", got, want)
	}
	if string(a) != string(b) || string(a) == string(c) {
		t.Fatal("Secret is not stable per name")
	}
}

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l := people.NewLimiter()
	l.Now = c.now
	for i := 0; i < 5; i++ {
		if err := l.Allow("alice", "192.0.2.1"); err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
		l.Fail("alice", "192.0.2.1")
		c.t = c.t.Add(time.Minute)
	}
	err := l.Allow("Alice", "198.51.100.7")
	if feed.ErrorCode(err) != feed.EUNAUTHORIZED {
		t.Fatalf("sixth attempt for the name: %v", err)
	}
	// The first failure was at 12:00; the sixth try is at 12:05: ten
	// more minutes until it leaves the window.
	if got, want := feed.ErrorMessage(err), "too many failed sign-ins; try again in 10 minutes"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
	if err := l.Allow("bob", "192.0.2.1"); err == nil {
		t.Fatal("the IP address is not limited")
	}
	if err := l.Allow("bob", "198.51.100.7"); err != nil {
		t.Fatalf("another name from another address: %v", err)
	}
	c.t = c.t.Add(11 * time.Minute)
	if err := l.Allow("alice", "192.0.2.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	for i := 0; i < 5; i++ {
		l.Fail("bob", "")
	}
	l.Succeed("bob")
	if err := l.Allow("bob", ""); err != nil {
		t.Fatalf("after a good sign-in: %v", err)
	}
}
