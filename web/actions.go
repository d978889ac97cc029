package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/timeline"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
)

// Actions on posts: an operator asks a post's server (or every server
// with one of its role hashtags, or every server of a list it is in, or
// the servers an action's filter finds) to run an RPC from the post's
// page, the server's profile or a list's page. Which actions fit where is
// the ActionConfig. A confirmation page (GET) says what will run, where
// and on how many servers; confirming (POST, CSRF-checked, role checked
// again) posts "bob asked web01 to run Puppet" in the thread, runs the
// RPC in the background and posts each node's reply and a summary there,
// which the thread page shows live.

// ActionCaller runs an action's RPC; *rpc.Client is one.
type ActionCaller interface {
	// Do runs call and returns what it did; see rpc.Client.Do.
	Do(ctx context.Context, call rpc.Call) (*rpc.Result, error)
	// Discover finds the nodes call would go to, for the confirmation of
	// an action with a filter; see rpc.Client.Discover.
	Discover(ctx context.Context, call rpc.Call) (*rpc.Discovery, error)
}

var _ ActionCaller = (*rpc.Client)(nil)

// ActionSource is the source of the posts actions make.
const ActionSource = "actions"

// Actions lets operators run RPCs from the pages; the server offers no
// actions while its Actions is nil.
type Actions struct {
	// Client sends the RPCs. Its caller id is the one the agents trust
	// the key for; each call's Via names the web user, for the audit log.
	Client ActionCaller
	// Config says which actions fit which posts; DefaultActions when nil.
	Config *ActionConfig
	// Timeout is how long to wait for a batch's replies; the DDL's
	// timeout when zero.
	Timeout time.Duration
	// Logger; slog.Default when nil.
	Logger *slog.Logger
	// Context ends the runs in progress (their summaries are still
	// posted); context.Background when nil.
	Context context.Context

	wg       sync.WaitGroup
	defaults sync.Once
	fallback *ActionConfig

	mu        sync.Mutex
	confirmed map[string]confirmedTargets
}

// Wait returns once every action started has posted its summary.
func (a *Actions) Wait() { a.wg.Wait() }

func (a *Actions) config() *ActionConfig {
	if a.Config != nil {
		return a.Config
	}
	a.defaults.Do(func() { a.fallback = DefaultActions() })
	return a.fallback
}

// confirmedTargets are the servers a filter found for a confirmation
// page, kept until it is confirmed so that what runs is what was shown.
type confirmedTargets struct {
	key     string // who, what and where: see confirmKey
	targets []string
	expires time.Time
}

// Bounds of the confirmations kept.
const (
	confirmTTL = 15 * time.Minute
	maxPending = 1000
)

// confirmKey ties a confirmation to its user, page, action and service.
func confirmKey(user string, sub *actionSubject, spec *ActionSpec, service string) string {
	return strings.Join([]string{user, sub.base, spec.Name, service}, "\x00")
}

// keep stores the servers a confirmation page shows and returns the
// token its form carries.
func (a *Actions) keep(key string, targets []string, now time.Time) string {
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.confirmed == nil {
		a.confirmed = map[string]confirmedTargets{}
	}
	for t, c := range a.confirmed {
		if now.After(c.expires) || len(a.confirmed) >= maxPending {
			delete(a.confirmed, t)
		}
	}
	a.confirmed[tok] = confirmedTargets{key: key, targets: targets, expires: now.Add(confirmTTL)}
	return tok
}

// take returns, once, the servers kept under tok for key.
func (a *Actions) take(tok, key string, now time.Time) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.confirmed[tok]
	if !ok || c.key != key || now.After(c.expires) {
		return nil, feed.Errorf(feed.EINVALID, "this confirmation has expired or was used already; open the action again to see which servers it finds now")
	}
	delete(a.confirmed, tok)
	return c.targets, nil
}

// actionSubject is what actions are asked about: a post (and its server),
// a server's profile, or a list's page.
type actionSubject struct {
	node *nodes.Node // nil on a list's page
	post *feed.Post  // nil on a profile or a list's page
	// list and its member servers, on a list's page.
	list    *timeline.List
	members []*nodes.Node
	// rootID is the thread's first post, which the replies answer; 0 on
	// a profile or list, where the "asked" post starts a thread.
	rootID int64
	page   string // the page the actions are offered on
	base   string // the actions' path
}

// home is the server whose thread the action's posts go in: the subject's
// server, or a list's first.
func (sub *actionSubject) home() string {
	if sub.node != nil {
		return sub.node.Name
	}
	return sub.members[0].Name
}

// service is the service a monitoring post is about, from its details.
func (sub *actionSubject) service() string {
	if sub.post == nil || len(sub.post.Details) == 0 {
		return ""
	}
	var d map[string]any
	if err := json.Unmarshal(sub.post.Details, &d); err != nil {
		return ""
	}
	for _, k := range []string{"unit", "systemd_unit", "service"} {
		if v, ok := d[k].(string); ok && validServiceName(v) {
			return v
		}
	}
	return ""
}

// validServiceName keeps check names that are no service name ("HTTP
// response time") out of the service agent's requests.
func validServiceName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}

// fitting are the actions that fit the subject, in the config's order.
// On a list's page, those offered on the profile of every server of the
// list, without a filter of their own.
func (a *Actions) fitting(sub *actionSubject) []*ActionSpec {
	svc := sub.service()
	var out []*ActionSpec
	for _, spec := range a.config().Actions {
		if spec.needsService && svc == "" {
			continue
		}
		var ok bool
		switch {
		case sub.post != nil:
			ok = spec.fitsPost(sub.post, sub.node)
		case sub.list != nil:
			ok = spec.filter == nil && len(sub.members) > 0 &&
				!slices.ContainsFunc(sub.members, func(n *nodes.Node) bool { return !spec.fitsProfile(n) })
		default:
			ok = spec.fitsProfile(sub.node)
		}
		if ok {
			out = append(out, spec)
		}
	}
	return out
}

// tags are the role hashtags the subject offers "on every server with
// this hashtag" for: the post's tags that are its server's roles, or, on
// a profile, the server's roles.
func (sub *actionSubject) tags() []string {
	if sub.node == nil {
		return nil
	}
	if sub.post == nil {
		return sub.node.Roles
	}
	var out []string
	for _, t := range sub.post.Tags {
		if slices.Contains(sub.node.Roles, t) {
			out = append(out, t)
		}
	}
	return out
}

// identity is the name the node's agent answers to: its FQDN when the
// node table knows one, else its name.
func identity(n *nodes.Node) string {
	if fqdn, ok := n.Facts["fqdn"].(string); ok && fqdn != "" {
		return fqdn
	}
	for _, a := range append([]string{n.DisplayName}, n.Aliases...) {
		if strings.HasPrefix(a, n.Name+".") {
			return a
		}
	}
	return n.Name
}

// actionRoutes registers the actions' pages and forms.
func (s *Server) actionRoutes() {
	operator := func(h http.HandlerFunc) http.HandlerFunc { return s.requireRole(people.RoleOperator, h) }
	post := func(pattern string, h http.HandlerFunc) {
		s.postRoutes = append(s.postRoutes, pattern)
		s.mux.HandleFunc("POST "+pattern, htmlPage(s.checkCSRF(h)))
	}
	for pattern, subject := range map[string]func(*http.Request) (*actionSubject, error){
		"/posts/{id}/actions":   s.postSubject,
		"/nodes/{name}/actions": s.nodeSubject,
		"/lists/{id}/actions":   s.listSubject,
	} {
		s.mux.HandleFunc("GET "+pattern, htmlPage(operator(s.handleActionConfirm(subject))))
		post(pattern, operator(s.handleActionRun(subject)))
	}
}

// postSubject is the post of /posts/{id}/actions.
func (s *Server) postSubject(r *http.Request) (*actionSubject, error) {
	id, err := feed.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	p, err := s.Pipeline.DB.PostByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	n, err := s.Nodes.Get(r.Context(), p.Node)
	if err != nil {
		return nil, err
	}
	return postActionSubject(p, n), nil
}

func postActionSubject(p *feed.Post, n *nodes.Node) *actionSubject {
	root := p.ID
	if p.InReplyTo != 0 {
		root = p.InReplyTo
	}
	return &actionSubject{node: n, post: p, rootID: root, page: postPath(p.ID), base: postPath(p.ID) + "/actions"}
}

// nodeSubject is the server of /nodes/{name}/actions.
func (s *Server) nodeSubject(r *http.Request) (*actionSubject, error) {
	n, err := s.Nodes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return nodeActionSubject(n), nil
}

func nodeActionSubject(n *nodes.Node) *actionSubject {
	return &actionSubject{node: n, page: nodePath(n.Name), base: "/nodes/" + url.PathEscape(n.Name) + "/actions"}
}

// listSubject is the list of /lists/{id}/actions, if the user may see it.
func (s *Server) listSubject(r *http.Request) (*actionSubject, error) {
	id, err := parseListID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	l, err := s.Follows.List(r.Context(), userID(r), id)
	if err != nil {
		return nil, err
	}
	return s.listActionSubject(r.Context(), l)
}

func (s *Server) listActionSubject(ctx context.Context, l *timeline.List) (*actionSubject, error) {
	members, err := s.listMembers(ctx, l)
	if err != nil {
		return nil, err
	}
	return &actionSubject{list: l, members: members, page: listPath(l.ID), base: listPath(l.ID) + "/actions"}, nil
}

// listMembers are the servers of a list that the node table knows.
func (s *Server) listMembers(ctx context.Context, l *timeline.List) ([]*nodes.Node, error) {
	var out []*nodes.Node
	for _, name := range l.Nodes {
		n, err := s.Nodes.Get(ctx, name)
		if feed.ErrorCode(err) == feed.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// actionLists are the lists with servers in them that the user may see
// (their own and the public ones) and that hold the server named node.
func (s *Server) actionLists(ctx context.Context, userID int64, node string) ([]*timeline.List, error) {
	own, err := s.Follows.OwnLists(ctx, userID)
	if err != nil {
		return nil, err
	}
	public, err := s.Follows.PublicLists(ctx)
	if err != nil {
		return nil, err
	}
	var out []*timeline.List
	for _, l := range append(own, public...) {
		if slices.Contains(l.Nodes, node) && !slices.ContainsFunc(out, func(o *timeline.List) bool { return o.ID == l.ID }) {
			out = append(out, l)
		}
	}
	return out, nil
}

// actionConfirm is the confirmation page.
type actionConfirm struct {
	Heading, Summary, Command, Note string
	Targets                         []string
	Name, Tag, List, Confirm        string
	CSRF, Action                    string
	Button, Back                    string
	Batch                           int
	Batched                         bool
}

func (s *Server) handleActionConfirm(subject func(*http.Request) (*actionSubject, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subject(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		u := currentUser(r)
		req := actionRequestOf(r.URL.Query())
		p, err := s.plan(r.Context(), u, sub, req, false)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		v := actionConfirm{
			Heading: p.label() + "?",
			Summary: fmt.Sprintf("This asks %s to %s: %s in all.", p.where(), p.words(),
				plural(len(p.targets), "server", "servers")),
			Command: p.command(), Targets: p.targets, Name: p.spec.Name, Tag: req.tag, List: req.list,
			CSRF: s.csrfToken(w, r), Action: sub.base, Button: p.label(), Back: sub.page,
			Batch: p.batch, Batched: p.multiple(),
		}
		var notes []string
		if p.filter != "" {
			v.Confirm = s.Actions.keep(confirmKey(u.Name, sub, p.spec, p.service), p.targets, s.now())
			notes = append(notes, fmt.Sprintf("These are the servers with %s that answered discovery just now; confirming asks exactly them.", p.filter))
		}
		if sub.list != nil {
			notes = append(notes, "Its posts go in a new thread on @"+sub.home()+", the list's first server.")
		}
		v.Note = strings.Join(notes, " ")
		s.render(w, r, http.StatusOK, "actions.html", pageData{Title: p.label(), Body: v})
	}
}

func (s *Server) handleActionRun(subject func(*http.Request) (*actionSubject, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subject(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		u := currentUser(r)
		if err := r.ParseForm(); err != nil {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "the form cannot be read"))
			return
		}
		p, err := s.plan(r.Context(), u, sub, actionRequestOf(r.PostForm), true)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		run := &actionRun{a: s.Actions, poster: s.Pipeline, plan: p, node: sub.home(), replyTo: sub.rootID,
			id: rpc.NewRequestID()[:16], now: s.now}
		details := map[string]any{"user": u.Name, "targets": p.targets}
		if p.list != nil {
			details["list"] = p.list.Name
		}
		if p.filter != "" {
			details["filter"] = p.filter
		}
		asked, err := run.post(r.Context(), "asked", fmt.Sprintf("%s asked %s to %s", u.Name, p.where(), p.words()),
			translators.SeverityInfo, details)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		run.asked = asked
		if run.replyTo == 0 {
			run.replyTo = asked
		}
		s.Actions.wg.Add(1)
		go func() {
			defer s.Actions.wg.Done()
			run.do(u.Name)
		}()
		http.Redirect(w, r, postPath(run.replyTo), http.StatusSeeOther)
	}
}
