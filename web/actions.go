package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
)

// Actions on posts: an operator asks a post's server (or every server
// with one of its role hashtags) to run an RPC from the post's page or
// the server's profile. A confirmation page (GET) says what will run and
// where; confirming (POST, CSRF-checked, role checked again) posts "bob
// asked web01 to run Puppet" in the thread, runs the RPC in the
// background and posts each node's reply and a summary there, which the
// thread page shows live.

// ActionCaller runs an action's RPC; *rpc.Client is one.
type ActionCaller interface {
	// Do runs call and returns what it did; see rpc.Client.Do.
	Do(ctx context.Context, call rpc.Call) (*rpc.Result, error)
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
	// Fits says which actions fit which posts; DefaultActionFits when nil.
	Fits []ActionFit
	// Timeout is how long to wait for a batch's replies; the DDL's
	// timeout when zero.
	Timeout time.Duration
	// Logger; slog.Default when nil.
	Logger *slog.Logger
	// Context ends the runs in progress (their summaries are still
	// posted); context.Background when nil.
	Context context.Context

	wg sync.WaitGroup
}

// Wait returns once every action started has posted its summary.
func (a *Actions) Wait() { a.wg.Wait() }

// ActionFit offers Actions on the posts from Source that carry Tag; an
// empty Source or Tag matches any. A server's profile offers the actions
// of the fits with neither.
type ActionFit struct {
	Source  string
	Tag     string
	Actions []string
}

// DefaultActionFits: Puppet and ping everywhere, Puppet's no-op run on
// Puppet's posts, the service actions on monitoring posts (shown only when
// the post names its service).
var DefaultActionFits = []ActionFit{
	{Actions: []string{"puppet-run", "puppet-status", "ping"}},
	{Source: translators.SourcePuppet, Actions: []string{"puppet-noop"}},
	{Tag: "puppet", Actions: []string{"puppet-noop"}},
	{Source: translators.SourceNagios, Actions: []string{"service-status", "service-restart"}},
	{Source: translators.SourceIcinga2, Actions: []string{"service-status", "service-restart"}},
}

// actionDef is one action an operator can run.
type actionDef struct {
	Name          string
	Label         string // the button: "Run Puppet"
	Agent, Action string
	Words         string // "run Puppet", after "asked web01 to"
	Done          string // a node's success, before " on web01"
	Noop          bool
	NeedsService  bool
}

// actionDefs are the actions, in the order pages list them.
var actionDefs = []actionDef{
	{Name: "puppet-run", Label: "Run Puppet", Agent: "puppet", Action: "runonce", Words: "run Puppet", Done: "Puppet run started"},
	{Name: "puppet-noop", Label: "Run Puppet in no-op mode", Agent: "puppet", Action: "runonce", Noop: true,
		Words: "run Puppet in no-op mode", Done: "Puppet no-op run started"},
	{Name: "puppet-status", Label: "Show Puppet's status", Agent: "puppet", Action: "status", Words: "report on Puppet", Done: "Puppet status"},
	{Name: "service-status", Label: "Check the service", Agent: "service", Action: "status", NeedsService: true,
		Words: "check the service", Done: "Service checked"},
	{Name: "service-restart", Label: "Restart the service", Agent: "service", Action: "restart", NeedsService: true,
		Words: "restart the service", Done: "Service restarted"},
	{Name: "ping", Label: "Ping", Agent: "rpcutil", Action: "ping", Words: "answer a ping", Done: "Ping answered"},
}

// actionSubject is what actions are asked about: a post (and its server),
// or a server's profile.
type actionSubject struct {
	node *nodes.Node
	post *feed.Post // nil on a profile
	// rootID is the thread's first post, which the replies answer; 0 on
	// a profile, where the "asked" post starts a thread.
	rootID int64
	page   string // the page the actions are offered on
	base   string // the actions' path
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

// fitting are the actions that fit the subject, in actionDefs order.
func (a *Actions) fitting(sub *actionSubject) []actionDef {
	fits := a.Fits
	if fits == nil {
		fits = DefaultActionFits
	}
	names := map[string]bool{}
	for _, f := range fits {
		if sub.post == nil {
			if f.Source != "" || f.Tag != "" {
				continue
			}
		} else if (f.Source != "" && f.Source != sub.post.Source) || (f.Tag != "" && !slices.Contains(sub.post.Tags, f.Tag)) {
			continue
		}
		for _, n := range f.Actions {
			names[n] = true
		}
	}
	svc := sub.service()
	var out []actionDef
	for _, d := range actionDefs {
		if names[d.Name] && (!d.NeedsService || svc != "") {
			out = append(out, d)
		}
	}
	return out
}

// tags are the role hashtags the subject offers "on every server with
// this hashtag" for: the post's tags that are its server's roles, or, on
// a profile, the server's roles.
func (sub *actionSubject) tags() []string {
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
	s.mux.HandleFunc("GET /posts/{id}/actions", htmlPage(operator(s.handleActionConfirm(s.postSubject))))
	post("/posts/{id}/actions", operator(s.handleActionRun(s.postSubject)))
	s.mux.HandleFunc("GET /nodes/{name}/actions", htmlPage(operator(s.handleActionConfirm(s.nodeSubject))))
	post("/nodes/{name}/actions", operator(s.handleActionRun(s.nodeSubject)))
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
	root := p.ID
	if p.InReplyTo != 0 {
		root = p.InReplyTo
	}
	return &actionSubject{node: n, post: p, rootID: root, page: postPath(p.ID), base: postPath(p.ID) + "/actions"}, nil
}

// nodeSubject is the server of /nodes/{name}/actions.
func (s *Server) nodeSubject(r *http.Request) (*actionSubject, error) {
	n, err := s.Nodes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return &actionSubject{node: n, page: nodePath(n.Name), base: "/nodes/" + url.PathEscape(n.Name) + "/actions"}, nil
}

// actionMenu is the list of actions a page offers an operator.
type actionMenu struct {
	Items []actionItem
}

type actionItem struct {
	Name, Label, URL string
}

// actionMenu returns the actions the page of sub offers the request's
// user: none without Actions or for less than an operator.
func (s *Server) actionMenu(r *http.Request, sub *actionSubject) *actionMenu {
	u := currentUser(r)
	if s.Actions == nil || u == nil || !u.Role.AtLeast(people.RoleOperator) {
		return nil
	}
	defs := s.Actions.fitting(sub)
	if len(defs) == 0 {
		return nil
	}
	m := &actionMenu{}
	for _, d := range defs {
		m.Items = append(m.Items, actionItem{Name: d.Name, Label: d.Label, URL: sub.base + "?action=" + url.QueryEscape(d.Name)})
	}
	for _, t := range sub.tags() {
		for _, d := range defs {
			m.Items = append(m.Items, actionItem{Name: d.Name, Label: d.Label + " on every #" + t + " server",
				URL: sub.base + "?action=" + url.QueryEscape(d.Name) + "&tag=" + url.QueryEscape(t)})
		}
	}
	return m
}

// postActionMenu is actionMenu for a post page; errors leave the menu out.
func (s *Server) postActionMenu(r *http.Request, p *feed.Post) *actionMenu {
	if s.Actions == nil || currentUser(r) == nil {
		return nil
	}
	n, err := s.Nodes.Get(r.Context(), p.Node)
	if err != nil {
		return nil
	}
	root := p.ID
	if p.InReplyTo != 0 {
		root = p.InReplyTo
	}
	return s.actionMenu(r, &actionSubject{node: n, post: p, rootID: root, base: postPath(p.ID) + "/actions"})
}

// actionPlan is one action, ready to run.
type actionPlan struct {
	def     actionDef
	tag     string
	targets []string
	batch   int
	service string
}

// defaultActionBatch is the batch size offered for a hashtag's servers.
const defaultActionBatch = 5

// plan checks the request's action, hashtag and batch size against what
// fits sub, and finds the servers.
func (s *Server) plan(ctx context.Context, sub *actionSubject, name, tag, batch string) (*actionPlan, error) {
	if s.Actions == nil {
		return nil, feed.Errorf(feed.ENOTFOUND, "actions are turned off on this server: it has no RPC key")
	}
	p := &actionPlan{tag: tag, batch: defaultActionBatch}
	i := slices.IndexFunc(s.Actions.fitting(sub), func(d actionDef) bool { return d.Name == name })
	if i < 0 {
		return nil, feed.Errorf(feed.EINVALID, "the action %q does not fit here", name)
	}
	p.def = s.Actions.fitting(sub)[i]
	if p.def.NeedsService {
		p.service = sub.service()
	}
	if batch != "" {
		n, err := strconv.Atoi(strings.TrimSpace(batch))
		if err != nil || n < 0 {
			return nil, feed.Errorf(feed.EINVALID, "the batch size must be a whole number, 0 for all at once")
		}
		p.batch = n
	}
	if tag == "" {
		p.targets, p.batch = []string{identity(sub.node)}, 0
		return p, nil
	}
	if !slices.Contains(sub.tags(), tag) {
		return nil, feed.Errorf(feed.EINVALID, "#%s is not a role hashtag of this post", tag)
	}
	ns, err := s.Nodes.List(ctx, nodes.ListOptions{Role: tag})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		p.targets = append(p.targets, identity(n))
	}
	if len(p.targets) == 0 {
		return nil, feed.Errorf(feed.ENOTFOUND, "no server has #%s", tag)
	}
	return p, nil
}

// where says which servers, for the posts and the confirmation page.
func (p *actionPlan) where() string {
	if p.tag == "" {
		return p.targets[0]
	}
	s := fmt.Sprintf("the %s tagged #%s", plural(len(p.targets), "server", "servers"), p.tag)
	if p.batch > 0 && p.batch < len(p.targets) {
		s += fmt.Sprintf(", %d at a time", p.batch)
	}
	return s
}

// words says what the action does, with its service.
func (p *actionPlan) words() string {
	if p.service != "" {
		return strings.Replace(p.def.Words, "the service", "the service "+p.service, 1)
	}
	return p.def.Words
}

func (p *actionPlan) call(user string, timeout time.Duration) rpc.Call {
	var data map[string]any
	switch {
	case p.def.Noop:
		data = map[string]any{"noop": true}
	case p.def.NeedsService:
		data = map[string]any{"service": p.service}
	}
	return rpc.Call{
		Agent: p.def.Agent, Action: p.def.Action, Data: data, Targets: p.targets,
		Batch: rpc.Size{N: p.batch}, Timeout: timeout, Via: "user=" + user,
	}
}

// actionConfirm is the confirmation page.
type actionConfirm struct {
	Heading, Summary, Command string
	Targets                   []string
	Name, Tag, CSRF, Action   string
	Button, Back              string
	Batch                     int
	Batched                   bool
}

func (s *Server) handleActionConfirm(subject func(*http.Request) (*actionSubject, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subject(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		q := r.URL.Query()
		p, err := s.plan(r.Context(), sub, q.Get("action"), q.Get("tag"), q.Get("batch"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		cmd := p.def.Agent + " " + p.def.Action
		if p.def.Noop {
			cmd += " noop=true"
		}
		if p.service != "" {
			cmd += " service=" + p.service
		}
		v := actionConfirm{
			Heading: p.def.Label + "?",
			Summary: fmt.Sprintf("This asks %s to %s: %s in all.", p.where(), p.words(),
				plural(len(p.targets), "server", "servers")),
			Command: cmd, Targets: p.targets, Name: p.def.Name, Tag: p.tag, CSRF: s.csrfToken(w, r),
			Action: sub.base, Button: p.def.Label, Back: sub.page, Batch: p.batch, Batched: p.tag != "",
		}
		s.render(w, r, http.StatusOK, "actions.html", pageData{Title: p.def.Label, Body: v})
	}
}

func (s *Server) handleActionRun(subject func(*http.Request) (*actionSubject, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subject(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		p, err := s.plan(r.Context(), sub, r.PostFormValue("action"), r.PostFormValue("tag"), r.PostFormValue("batch"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		u := currentUser(r)
		run := &actionRun{a: s.Actions, poster: s.Pipeline, plan: p, node: sub.node.Name, replyTo: sub.rootID,
			id: rpc.NewRequestID()[:16], now: s.now}
		asked, err := run.post(r.Context(), "asked", fmt.Sprintf("%s asked %s to %s", u.Name, p.where(), p.words()),
			translators.SeverityInfo, map[string]any{"user": u.Name, "targets": p.targets})
		if err != nil {
			s.Error(w, r, err)
			return
		}
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

// actionPoster stores the posts actions make; *feed.Pipeline is one.
type actionPoster interface {
	Ingest(ctx context.Context, evs []translators.Event) (*feed.IngestResult, error)
}

// actionRun is one action being run, and where its posts go.
type actionRun struct {
	a       *Actions
	poster  actionPoster
	plan    *actionPlan
	node    string // the server whose thread the posts are in
	replyTo int64
	id      string
	now     func() time.Time
}

// actionRunLimit bounds a whole run, batches included.
const actionRunLimit = 30 * time.Minute

// do runs the RPC, posting each reply and then a summary.
func (run *actionRun) do(user string) {
	log := run.a.Logger
	if log == nil {
		log = slog.Default()
	}
	parent := run.a.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, actionRunLimit)
	defer cancel()
	call := run.plan.call(user, run.a.Timeout)
	call.OnReply = func(rcv rpc.Received) {
		text, sev := replyText(run.plan, rcv)
		if _, err := run.post(ctx, "reply:"+rcv.SenderID, text, sev, map[string]any{
			"node": rcv.SenderID, "status": rcv.StatusMsg, "data": rcv.Data,
		}); err != nil {
			log.Error("post an action's reply", "err", err)
		}
	}
	res, err := run.a.Client.Do(ctx, call)
	text, sev, details := summaryText(run.plan, res, err)
	if _, err := run.post(ctx, "summary", text, sev, details); err != nil {
		log.Error("post an action's summary", "err", err)
	}
}

// post stores one of the run's posts and returns its id.
func (run *actionRun) post(ctx context.Context, part, text string, sev translators.Severity, details map[string]any) (int64, error) {
	details["action"] = run.plan.def.Name
	tags := []string{"action"}
	switch sev {
	case translators.SeverityOK:
		tags = append(tags, "ok")
	case translators.SeverityWarning:
		tags = append(tags, "warning")
	}
	ev := translators.Event{
		ID: ActionSource + ":" + run.id + ":" + part, Source: ActionSource, Node: run.node, Time: run.now(),
		Post: &translators.Draft{
			// A thread of its own keeps a run's posts from folding into
			// an earlier run's.
			Text: clip(text), Tags: tags, Severity: sev, Thread: "action:" + run.id, ReplyTo: run.replyTo, Details: details,
		},
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	res, err := run.poster.Ingest(pctx, []translators.Event{ev})
	if err != nil {
		return 0, fmt.Errorf("post action: %w", err)
	}
	if len(res.Posts) > 0 {
		return res.Posts[0], nil
	}
	if len(res.Folded) > 0 {
		return res.Folded[0], nil
	}
	return 0, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > translators.MaxSentence {
		return string(r[:translators.MaxSentence-1]) + "…"
	}
	return s
}

// replyText says what a node answered, in plain language.
func replyText(p *actionPlan, rcv rpc.Received) (string, translators.Severity) {
	if rcv.StatusCode != rpc.StatusOK {
		msg := rcv.StatusMsg
		if msg == "" {
			msg = rcv.StatusCode.String()
		}
		return fmt.Sprintf("%s could not %s: %s", rcv.SenderID, p.words(), msg), translators.SeverityWarning
	}
	text := p.def.Done + " on " + rcv.SenderID
	for _, k := range []string{"message", "status", "summary"} {
		if v, ok := rcv.Data[k].(string); ok && v != "" {
			text += ": " + v
			break
		}
	}
	return text, translators.SeverityOK
}

// summaryText says how the run went once every node answered or the wait
// ended: "3 of 4 answered; web7 did not respond".
func summaryText(p *actionPlan, res *rpc.Result, err error) (string, translators.Severity, map[string]any) {
	details := map[string]any{}
	if err != nil {
		details["error"] = err.Error()
	}
	if res == nil {
		return fmt.Sprintf("Could not ask %s to %s", p.where(), p.words()), translators.SeverityWarning, details
	}
	st := &res.Stats
	details["requestid"], details["ok"], details["failed"], details["no_response"] = st.RequestID, st.OK, st.Failed, st.NoResponse
	text := fmt.Sprintf("%d of %d answered", st.Responded, len(st.Targets))
	if st.Failed > 0 {
		text += fmt.Sprintf(", %d with a failure", st.Failed)
	}
	if n := len(st.NoResponse); n > 0 {
		names := st.NoResponse
		if n > 5 {
			names = names[:5]
		}
		text += "; " + strings.Join(names, ", ")
		if n > 5 {
			text += fmt.Sprintf(" and %d more", n-5)
		}
		text += " did not respond"
	}
	if n := len(st.NotSent); n > 0 {
		text += fmt.Sprintf("; %s never asked", plural(n, "server was", "servers were"))
	}
	sev := translators.SeverityOK
	if !st.AllOK() || err != nil {
		sev = translators.SeverityWarning
	}
	return text, sev, details
}
