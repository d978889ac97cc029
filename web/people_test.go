package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline/mail"
	"fleetfeed/timeline/people"
	"fleetfeed/web"
)

// password is every test user's password.
const password = "correct horse battery staple"

// peopleServer is startServer with cheap password hashing.
func peopleServer(t *testing.T, configure func(*web.Server)) (*httptest.Server, *web.Server) {
	t.Helper()
	return startServer(t, func(s *web.Server) {
		s.People.Params = people.Params{Memory: 64, Time: 1, Threads: 1}
		s.Logger = slog.New(slog.DiscardHandler)
		if configure != nil {
			configure(s)
		}
	})
}

// addUser makes an account.
func addUser(t *testing.T, s *web.Server, name string, role people.Role) *people.User {
	t.Helper()
	u, err := s.People.Create(context.Background(), people.NewUser{Name: name, Password: password, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// client is a browser without JavaScript: a cookie jar, no redirects
// followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches a path and returns the status and body.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// page fetches a page that must answer 200.
func (c *client) page(path string) string {
	c.t.Helper()
	status, body := c.get(path)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d: %s", path, status, body)
	}
	return body
}

// post sends a form and returns the response (its body read).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads a CSRF token from a page's form.
func (c *client) csrf(path string) string {
	c.t.Helper()
	m := csrfInput.FindStringSubmatch(c.page(path))
	if m == nil {
		c.t.Fatalf("%s has no CSRF token", path)
	}
	return html.UnescapeString(m[1])
}

// submit posts a form with a CSRF token taken from the page at from, and
// expects a redirect (303).
func (c *client) submit(from, path string, form url.Values) *http.Response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf(from))
	resp, body := c.post(path, form)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST %s: %d, want 303: %s", path, resp.StatusCode, body)
	}
	return resp
}

// login signs in through the login form.
func login(t *testing.T, base, name string) *client {
	t.Helper()
	c := newClient(t, base)
	resp := c.submit("/login", "/login", url.Values{"name": {name}, "password": {password}, "next": {"/"}})
	if got := resp.Header.Get("Location"); got != "/" {
		t.Fatalf("login goes to %q", got)
	}
	return c
}

// getJSONAs fetches an API path as the client and decodes the answer.
func (c *client) json(path string, v any) int {
	c.t.Helper()
	status, body := c.get(path)
	if status == http.StatusOK && v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return status
}

// texts are the sentences of a timeline's posts, newest first.
func texts(posts []map[string]any) []string {
	var out []string
	for _, p := range posts {
		out = append(out, p["text"].(string))
	}
	return out
}

func TestLoginSessionAndLogout(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "alice", people.RoleViewer)
	c := newClient(t, ts.URL)

	// A wrong password: the form again, with one message for both cases.
	resp, body := c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {"alice"}, "password": {"wrong password"}})
	if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
		t.Fatalf("bad login: %d, want %d", got, want)
	}
	mustContain(t, "failed login page", body, "Wrong user name or password.", `value="alice"`)

	// The right one: a session cookie, HttpOnly and SameSite=Lax, and
	// back to where the visitor was going, never to another site.
	resp, _ = c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {"alice"}, "password": {password}, "next": {"//evil.example/"}})
	if got, want := resp.StatusCode, http.StatusSeeOther; got != want {
		t.Fatalf("login: %d, want %d", got, want)
	}
	if got := resp.Header.Get("Location"); got != "/" {
		t.Fatalf("login redirects to %q, want /", got)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "fleetfeed_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", cookie)
	}
	home := c.page("/")
	mustContain(t, "home page", home, "<h1>Home</h1>", "Signed in as <strong>alice</strong> (viewer)", `data-stream="home"`)

	// Signing out ends the session on the server, not just the cookie.
	c.submit("/", "/logout", nil)
	mustContain(t, "page after logout", c.page("/"), "<h1>Public timeline</h1>", `href="/login"`)
	if _, err := s.People.LookupSession(context.Background(), cookie.Value); feed.ErrorCode(err) != feed.EUNAUTHORIZED {
		t.Fatalf("session after logout: %v", err)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "bob", people.RoleViewer)
	c := newClient(t, ts.URL)
	for range 5 {
		c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {"bob"}, "password": {"not the password"}})
	}
	// Now even the right password waits.
	resp, body := c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {"bob"}, "password": {password}})
	if got, want := resp.StatusCode, http.StatusTooManyRequests; got != want {
		t.Fatalf("status after 5 failures: %d, want %d", got, want)
	}
	mustContain(t, "refused login", body, "Too many failed sign-ins; try again in 15 minutes.")
}

func TestFailedLoginDoesNotLogThePassword(t *testing.T) {
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	ts, s := peopleServer(t, func(s *web.Server) {
		s.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	addUser(t, s, "carol", people.RoleViewer)
	c := newClient(t, ts.URL)
	const secret = "hunter2-Sup3rSecret!"
	for range 7 { // failures, then the limiter's refusals
		c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {"carol"}, "password": {secret}})
	}
	c.post("/login", url.Values{"csrf": {"forged"}, "name": {"carol"}, "password": {secret}})
	c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "name": {secret}, "password": {secret}})
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if !strings.Contains(out, "sign-in failed") || !strings.Contains(out, "too many failures") {
		t.Fatalf("the log does not tell of failed sign-ins:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, secret) && !strings.Contains(line, "user="+secret) {
			t.Errorf("a password is in the log: %s", line)
		}
	}
	if strings.Contains(strings.ReplaceAll(out, "user="+secret, ""), secret) {
		t.Errorf("a password is in the log:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// postRouteForms are the forms the CSRF table test sends to every POST
// route, filled in so that, with a valid token, each would succeed or fail
// for a reason other than CSRF.
var postRouteForms = map[string]url.Values{
	"/login":                      {"name": {"admin"}, "password": {password}},
	"/logout":                     {},
	"/follow":                     {"node": {"web01"}},
	"/unfollow":                   {"node": {"web01"}},
	"/lists":                      {"name": {"New list"}},
	"/lists/{id}/edit":            {"name": {"Renamed"}},
	"/lists/{id}/delete":          {},
	"/lists/{id}/nodes":           {"node": {"web01"}},
	"/lists/{id}/nodes/remove":    {"node": {"web01"}},
	"/lists/{id}/queries":         {"query": {"#ok"}},
	"/lists/{id}/queries/remove":  {"query": {"#ok"}},
	"/settings/email":             {"email": {"admin@example.com"}},
	"/settings/mail":              {"critical": {"on"}},
	"/settings/feed-token":        {},
	"/settings/feed-token/revoke": {},
	"/unsubscribe":                {"token": {"x"}},
	"/admin/mail":                 {"host": {""}},
	"/admin/mail/retry":           {"id": {"1"}},
	"/admin/rules/reload":         {},
	"/nodes/{name}/profile":       {"bio": {"Hacked"}},
	"/posts/{id}/actions":         {"action": {"ping"}},
	"/nodes/{name}/actions":       {"action": {"ping"}},
	"/lists/{id}/actions":         {"action": {"ping"}},
}

func TestEveryFormRejectsMissingOrWrongCSRF(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "admin", people.RoleAdmin)
	ingest(t, s, draft{"web01", "Hello", []string{"ok"}})
	admin := login(t, ts.URL, "admin")
	other := login(t, ts.URL, "admin") // another session: its tokens are not this one's
	admin.submit("/lists", "/lists", url.Values{"name": {"Mine"}})
	lists, err := s.Follows.OwnLists(context.Background(), 1)
	if err != nil || len(lists) != 1 {
		t.Fatalf("lists: %v %v", lists, err)
	}
	listID := feed.FormatID(lists[0].ID)

	routes := s.CSRFRoutes()
	if len(routes) != len(postRouteForms) {
		t.Errorf("the server has %d CSRF-checked POST routes, the table %d: %v", len(routes), len(postRouteForms), routes)
	}
	for _, pattern := range routes {
		form, ok := postRouteForms[pattern]
		if !ok {
			t.Errorf("POST %s is not in the table", pattern)
			continue
		}
		path := strings.NewReplacer("{id}", listID, "{name}", "web01").Replace(pattern)
		for _, tt := range []struct {
			name, token string
		}{
			{"missing", ""},
			{"wrong", "bm90IGEgdG9rZW4gYXQgYWxsIGJ1dCBsb25nIGVub3VnaCB0byBsb29rIGxpa2Ugb25lISEh"},
			{"another session's", other.csrf("/settings")},
		} {
			t.Run(pattern+"/"+tt.name, func(t *testing.T) {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if tt.token != "" {
					f.Set("csrf", tt.token)
				}
				resp, body := admin.post(path, f)
				if got, want := resp.StatusCode, http.StatusForbidden; got != want {
					t.Fatalf("POST %s with a %s CSRF token: %d, want %d: %s", path, tt.name, got, want, body)
				}
			})
		}
	}
	// Nothing changed: the session still works, the profile is as it was.
	mustContain(t, "home after the forged posts", admin.page("/"), "Signed in as <strong>admin</strong>")
	if n, _ := s.Nodes.Get(context.Background(), "web01"); n.Bio != "" {
		t.Fatalf("a forged form changed the bio to %q", n.Bio)
	}
	// A header token works for scripts.
	req, _ := http.NewRequest("POST", ts.URL+"/follow", strings.NewReader("tag=ok&next=/"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", admin.csrf("/settings"))
	resp, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusSeeOther; got != want {
		t.Fatalf("POST /follow with X-CSRF-Token: %d, want %d", got, want)
	}
}

func TestRolesAreEnforced(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "viewer", people.RoleViewer)
	addUser(t, s, "operator", people.RoleOperator)
	addUser(t, s, "admin", people.RoleAdmin)
	ingest(t, s, draft{"web01", "Hello", nil})
	adminOnly := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/admin/mail", nil},
		{"POST", "/admin/mail", url.Values{"host": {""}}},
		{"POST", "/admin/mail/retry", url.Values{"id": {"1"}}},
		{"POST", "/nodes/web01/profile", url.Values{"bio": {"Not yours to edit"}}},
	}
	for _, name := range []string{"viewer", "operator"} {
		c := login(t, ts.URL, name)
		for _, r := range adminOnly {
			var status int
			var body string
			if r.method == "GET" {
				status, body = c.get(r.path)
			} else {
				r.form.Set("csrf", c.csrf("/settings"))
				var resp *http.Response
				resp, body = c.post(r.path, r.form)
				status = resp.StatusCode
			}
			if status != http.StatusForbidden {
				t.Errorf("%s: %s %s: %d, want 403: %s", name, r.method, r.path, status, body)
			}
		}
		if strings.Contains(c.page("/@web01"), "Edit this profile") {
			t.Errorf("%s is offered the profile form", name)
		}
	}
	if n, _ := s.Nodes.Get(context.Background(), "web01"); n.Bio != "" {
		t.Fatalf("a viewer changed the bio to %q", n.Bio)
	}
	// Anonymous visitors are sent to sign in; the API says 401.
	anon := newClient(t, ts.URL)
	if status, _ := anon.get("/settings"); status != http.StatusSeeOther {
		t.Errorf("anonymous GET /settings: %d, want 303 to /login", status)
	}
	if status := anon.json("/api/v1/timelines/home", nil); status != http.StatusUnauthorized {
		t.Errorf("anonymous home API: %d, want 401", status)
	}
	// The administrator gets in, and edits a profile.
	admin := login(t, ts.URL, "admin")
	mustContain(t, "admin mail page", admin.page("/admin/mail"), "SMTP relay", "E-mail admin")
	admin.submit("/@web01", "/nodes/web01/profile", url.Values{"display_name": {"Web one"}, "bio": {"Serves the shop."},
		"contact": {"ops@example.com"}, "datacenter": {"ams1"}, "latitude": {"52.37"}, "longitude": {"4.9"}})
	mustContain(t, "edited profile", admin.page("/@web01"), "<h1 id=\"profile-name\">Web one</h1>", "Serves the shop.", "ams1 (52.37, 4.9)")
}

func TestFollowHomeTimelineAndPrivateFeeds(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "dana", people.RoleViewer)
	ingest(t, s, draft{"web01", "Web one says hi", nil}, draft{"db01", "Backup done", []string{"backup"}},
		draft{"mail01", "Queue is long", []string{"warning"}})
	c := login(t, ts.URL, "dana")

	// The follow buttons are forms on the profile and tag pages.
	mustContain(t, "profile", c.page("/@web01"), `action="/follow"`, "Follow @web01")
	c.submit("/@web01", "/follow", url.Values{"node": {"web01"}, "next": {"/@web01"}})
	mustContain(t, "profile after follow", c.page("/@web01"), `action="/unfollow"`, "Unfollow @web01")
	c.submit("/tags/backup", "/follow", url.Values{"tag": {"backup"}, "next": {"/tags/backup"}})

	var home []map[string]any
	if status := c.json("/api/v1/timelines/home", &home); status != http.StatusOK {
		t.Fatalf("home API: %d", status)
	}
	if got, want := texts(home), []string{"Backup done #backup", "Web one says hi"}; !slices.Equal(got, want) {
		t.Fatalf("home timeline %q, want %q", got, want)
	}
	page := c.page("/")
	mustContain(t, "home page", page, "Web one says hi", "Backup done")
	if strings.Contains(page, "Queue is long") {
		t.Fatalf("the home page shows a post of a server not followed")
	}

	// The private feed: shown once, works without a cookie, and stops
	// when revoked.
	form := url.Values{"csrf": {c.csrf("/settings")}}
	_, settings := c.post("/settings/feed-token", form)
	m := regexp.MustCompile(`id="feed-token">([^<]+)<`).FindStringSubmatch(settings)
	if m == nil {
		t.Fatalf("no feed token shown: %s", settings)
	}
	tok := m[1]
	resp, body := get(t, ts.URL+"/home.rss?token="+url.QueryEscape(tok))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Backup done") || strings.Contains(body, "Queue is long") {
		t.Fatalf("home feed: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.URL+"/home.json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("home feed without token: %d, want 401", resp.StatusCode)
	}
	c.submit("/settings", "/settings/feed-token/revoke", nil)
	if resp, _ := get(t, ts.URL+"/home.atom?token="+url.QueryEscape(tok)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("home feed with a revoked token: %d, want 401", resp.StatusCode)
	}

	// Unfollow from the settings page.
	c.submit("/settings", "/unfollow", url.Values{"node": {"web01"}, "next": {"/settings"}})
	c.json("/api/v1/timelines/home", &home)
	if got, want := texts(home), []string{"Backup done #backup"}; !slices.Equal(got, want) {
		t.Fatalf("home after unfollow %q, want %q", got, want)
	}
}

func TestListsQueriesAndPrivacy(t *testing.T) {
	ts, s := peopleServer(t, nil)
	addUser(t, s, "erin", people.RoleViewer)
	addUser(t, s, "frank", people.RoleViewer)
	ingest(t, s,
		draft{"web01", "Frontend in Amsterdam is slow", []string{"frontend_web", "ams1"}},
		draft{"web02", "Frontend in Paris is slow", []string{"frontend_web", "par1"}},
		draft{"db01", "Database is fine", []string{"ok"}})
	erin := login(t, ts.URL, "erin")
	resp := erin.submit("/lists", "/lists", url.Values{"name": {"Amsterdam web"}})
	listPath := resp.Header.Get("Location")
	erin.submit(listPath, listPath+"/queries", url.Values{"query": {"#frontend_web AND #ams1"}})
	erin.submit(listPath, listPath+"/nodes", url.Values{"node": {"@db01"}})
	// A query that does not parse is refused, saying why.
	form := url.Values{"csrf": {erin.csrf(listPath)}, "query": {"#frontend_web AND"}}
	if r, body := erin.post(listPath+"/queries", form); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad query: %d %s", r.StatusCode, body)
	}
	page := erin.page(listPath)
	mustContain(t, "list page", page, "<code>#frontend_web AND #ams1</code>", "@db01", "Frontend in Amsterdam is slow", "Database is fine", `data-stream="list:`)
	if strings.Contains(page, "Paris") {
		t.Fatalf("the list shows a post its query leaves out")
	}

	// Private: another user, an anonymous reader and the API see nothing.
	frank := login(t, ts.URL, "frank")
	if status, _ := frank.get(listPath); status != http.StatusNotFound {
		t.Fatalf("frank reads erin's private list: %d", status)
	}
	if status := frank.json("/api/v1"+listPath+"/posts", nil); status != http.StatusNotFound {
		t.Fatalf("frank reads erin's private list by API: %d", status)
	}
	if r, _ := get(t, ts.URL+listPath+".rss"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("private list feed: %d, want 404", r.StatusCode)
	}

	// Public: frank follows it, and his home has its posts.
	erin.submit(listPath, listPath+"/edit", url.Values{"name": {"Amsterdam web"}, "public": {"on"}})
	mustContain(t, "lists page", frank.page("/lists"), "Amsterdam web", "by erin")
	mustContain(t, "frank's view", frank.page(listPath), "Follow this list")
	frank.submit(listPath, "/follow", url.Values{"list": {strings.TrimPrefix(listPath, "/lists/")}, "next": {listPath}})
	var home []map[string]any
	frank.json("/api/v1/timelines/home", &home)
	if got, want := texts(home), []string{"Database is fine #ok", "Frontend in Amsterdam is slow #frontend_web #ams1"}; !slices.Equal(got, want) {
		t.Fatalf("frank's home %q, want %q", got, want)
	}
	var posts []map[string]any
	getJSON(t, ts.URL+"/api/v1"+listPath+"/posts", &posts)
	if len(posts) != 2 {
		t.Fatalf("anonymous list API: %d posts, want 2", len(posts))
	}
	r, body := get(t, ts.URL+listPath+".atom")
	if r.StatusCode != http.StatusOK || !strings.Contains(body, "Frontend in Amsterdam is slow") {
		t.Fatalf("public list feed: %d %s", r.StatusCode, body)
	}

	// Only the owner edits; and deleting removes it.
	form = url.Values{"csrf": {frank.csrf(listPath)}, "node": {"web02"}}
	if r, _ := frank.post(listPath+"/nodes", form); r.StatusCode != http.StatusForbidden {
		t.Fatalf("frank edits erin's list: %d, want 403", r.StatusCode)
	}
	erin.submit(listPath, listPath+"/delete", nil)
	if status, _ := erin.get(listPath); status != http.StatusNotFound {
		t.Fatalf("deleted list: %d", status)
	}
}

func TestSearch(t *testing.T) {
	ts, s := peopleServer(t, nil)
	ingest(t, s, draft{"web01", "Disk space is running low", []string{"warning"}},
		draft{"web02", "Disk space is fine", []string{"ok"}},
		draft{"db01", "Backup failed", []string{"critical"}})
	var posts []map[string]any
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"disk", []string{"Disk space is fine #ok", "Disk space is running low #warning"}},
		{"from:web01", []string{"Disk space is running low #warning"}},
		{"#critical", []string{"Backup failed #critical"}},
		{"disk NOT #ok", []string{"Disk space is running low #warning"}},
	} {
		getJSON(t, ts.URL+"/api/v1/search?q="+url.QueryEscape(tt.q), &posts)
		if got := texts(posts); !slices.Equal(got, tt.want) {
			t.Errorf("search %q: %q, want %q", tt.q, got, tt.want)
		}
	}
	// Paged like a timeline.
	a := do(t, "GET", ts.URL+"/api/v1/search?q=disk&limit=1", "", "")
	if a.status != http.StatusOK || !strings.Contains(a.header.Get("Link"), "max_id=") || !strings.Contains(a.header.Get("Link"), "q=disk") {
		t.Fatalf("paged search: %d, Link %q", a.status, a.header.Get("Link"))
	}
	// A query that does not parse: 400 in the API, said on the page.
	if a := do(t, "GET", ts.URL+"/api/v1/search?q="+url.QueryEscape("(disk"), "", ""); a.status != http.StatusBadRequest {
		t.Fatalf("bad query API: %d %s", a.status, a.raw)
	}
	resp, body := get(t, ts.URL+"/search?q="+url.QueryEscape("(disk"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `class="problem"`) {
		t.Fatalf("bad query page: %d %s", resp.StatusCode, body)
	}
	body = page(t, ts.URL+"/search?q="+url.QueryEscape("from:web01"))
	mustContain(t, "search page", body, "Disk space is running low", `value="from:web01"`, `href="/search.rss?q=from%3Aweb01"`)
	resp, body = get(t, ts.URL+"/search.rss?q=backup")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Backup failed") || strings.Contains(body, "Disk space") {
		t.Fatalf("search feed: %d %s", resp.StatusCode, body)
	}
	_, body = get(t, ts.URL+"/search.json?q=backup")
	mustContain(t, "search JSON feed", body, `/search.json?q=backup"`)
}

func TestMapAndDatacenters(t *testing.T) {
	ts, s := peopleServer(t, nil)
	ctx := context.Background()
	place := func(name, dc string, lat, lon float64) {
		if _, err := s.Nodes.Upsert(ctx, name, nodes.Profile{Location: &nodes.Location{Datacenter: dc, Latitude: &lat, Longitude: &lon}}); err != nil {
			t.Fatal(err)
		}
	}
	place("web01", "ams1", 52.37, 4.9)
	place("web02", "ams1", 52.37, 4.9)
	place("db01", "nyc1", 40.71, -74.0)
	do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/json",
		`{"id":"m1","node":"db01","post":{"text":"Database is down","tags":["critical"],"severity":"critical","thread":"check:db","opens":true}}`)
	ingest(t, s, draft{"web01", "All fine", nil})

	body := page(t, ts.URL+"/map")
	mustContain(t, "map", body, `<image href="/static/world.`, `data-dc="ams1"`, `class="dc-dot health-critical"`,
		"nyc1 · Critical", "ams1 · OK", `href="/map/nyc1"`, `src="/static/map.`)
	// nyc1 is at x = (−74 + 180) × 1000 / 360 ≈ 294.4, y = (90 − 40.71) × 500 / 180 ≈ 136.9.
	mustContain(t, "map", body, `cx="294.4" cy="136.9"`)
	var dcs []nodes.Datacenter
	getJSON(t, ts.URL+"/api/v1/datacenters", &dcs)
	if len(dcs) != 2 || dcs[0].Name != "ams1" || dcs[0].Servers != 2 || dcs[1].Health != "critical" {
		t.Fatalf("datacenters: %+v", dcs)
	}
	body = page(t, ts.URL+"/map/ams1")
	mustContain(t, "datacenter page", body, "Datacenter ams1", "@web01", "@web02", "All fine")
	if strings.Contains(body, "Database is down") {
		t.Fatalf("ams1's page shows nyc1's post")
	}
	if r, _ := get(t, ts.URL+"/map/nowhere"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown datacenter: %d", r.StatusCode)
	}
}

func TestPrivateServer(t *testing.T) {
	ts, s := peopleServer(t, func(s *web.Server) { s.Private = true })
	u := addUser(t, s, "gina", people.RoleViewer)
	ingest(t, s, draft{"web01", "Hello", nil})
	tok, err := s.People.NewFeedToken(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, ts.URL)
	for _, p := range []string{"/", "/@web01", "/tags/ok", "/map", "/search?q=x", "/lists"} {
		status, _ := anon.get(p)
		if status != http.StatusSeeOther {
			t.Errorf("anonymous GET %s: %d, want 303 to /login", p, status)
		}
	}
	for _, p := range []string{"/api/v1/timelines/public", "/public.rss", "/api/v1/streaming", "/home.rss"} {
		if status, _ := anon.get(p); status != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %d, want 401", p, status)
		}
	}
	for _, p := range []string{"/login", "/healthz", "/home.rss?token=" + url.QueryEscape(tok)} {
		if status, body := anon.get(p); status != http.StatusOK {
			t.Errorf("anonymous GET %s: %d, want 200: %s", p, status, body)
		}
	}
	if a := do(t, "POST", ts.URL+"/api/v1/ingest/events", "application/json", `{"id":"x1","node":"web01","post":{"text":"Ingest works","tags":["ok"],"severity":"ok"}}`); a.status != http.StatusAccepted {
		t.Errorf("ingest on a private server: %d %s", a.status, a.raw)
	}
	// The login page sends the visitor back where they were going.
	resp, _ := anon.post("/login", url.Values{"csrf": {anon.csrf("/login")}, "name": {"gina"}, "password": {password}, "next": {"/@web01"}})
	if got := resp.Header.Get("Location"); got != "/@web01" {
		t.Fatalf("after login: %q", got)
	}
	mustContain(t, "profile", anon.page("/@web01"), "Ingest works")
}

func TestMailSettingsAndUnsubscribe(t *testing.T) {
	ts, s := peopleServer(t, nil)
	u := addUser(t, s, "hank", people.RoleViewer)
	addUser(t, s, "admin", people.RoleAdmin)
	c := login(t, ts.URL, "hank")
	c.submit("/settings", "/settings/email", url.Values{"email": {"hank@example.com"}})
	c.submit("/settings", "/settings/mail", url.Values{"critical": {"on"}, "digest": {"on"}})
	mustContain(t, "settings", c.page("/settings"), `value="hank@example.com"`, `name="critical" checked`, `name="digest" checked`)

	admin := login(t, ts.URL, "admin")
	admin.submit("/admin/mail", "/admin/mail", url.Values{"host": {"smtp.example.com"}, "port": {"587"},
		"security": {"starttls"}, "from": {"fleetfeed@example.com"}, "password": {"smtp-secret"}})
	page := admin.page("/admin/mail?saved=settings")
	mustContain(t, "admin mail", page, `value="smtp.example.com"`, "The SMTP settings are saved", `placeholder="unchanged"`)
	if strings.Contains(page, "smtp-secret") {
		t.Fatalf("the admin page shows the SMTP password")
	}
	set, _ := s.Mail.Settings(context.Background())
	if set.Password != "smtp-secret" || set.Port != 587 {
		t.Fatalf("settings %+v", set)
	}

	// The unsubscribe link works without signing in, after a confirmation.
	link, err := s.Mail.UnsubscribeURL(context.Background(), u.ID, mail.KindCritical)
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(link)
	anon := newClient(t, ts.URL)
	path := "/unsubscribe?" + lu.RawQuery
	mustContain(t, "unsubscribe page", anon.page(path), "Stop mail about critical posts?")
	resp, body := anon.post("/unsubscribe", url.Values{"csrf": {anon.csrf(path)}, "token": {lu.Query().Get("token")}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, body)
	}
	if p, _ := s.Mail.Prefs(context.Background(), u.ID); p.Critical || !p.Digest {
		t.Fatalf("prefs after unsubscribe: %+v", p)
	}
	if status, _ := anon.get("/unsubscribe?token=forged"); status != http.StatusBadRequest {
		t.Fatalf("forged unsubscribe link: %d", status)
	}
}

func TestSessionCookieIsSecureOverTLS(t *testing.T) {
	_, s := peopleServer(t, nil)
	addUser(t, s, "tls", people.RoleViewer)
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	c := newClient(t, ts.URL)
	c.http.Transport = ts.Client().Transport
	resp := c.submit("/login", "/login", url.Values{"name": {"tls"}, "password": {password}})
	for _, ck := range resp.Cookies() {
		if ck.Name == "fleetfeed_session" {
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie over TLS: %+v", ck)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}
