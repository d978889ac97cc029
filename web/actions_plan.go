package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/timeline"
	"fleetfeed/timeline/people"
)

// actionMenu is the list of actions a page offers an operator.
type actionMenu struct {
	Heading string
	Items   []actionItem
}

type actionItem struct {
	Name, Label, URL string
}

// actionMenu returns the actions the page of sub offers the request's
// user: none without Actions or for less than an operator. Errors leave
// the menu out.
func (s *Server) actionMenu(r *http.Request, sub *actionSubject) *actionMenu {
	u := currentUser(r)
	if s.Actions == nil || u == nil || !u.Role.AtLeast(people.RoleOperator) {
		return nil
	}
	specs := s.Actions.fitting(sub)
	if len(specs) == 0 {
		return nil
	}
	m := &actionMenu{Heading: "Act on this server"}
	item := func(spec *ActionSpec, label, extra string) {
		m.Items = append(m.Items, actionItem{Name: spec.Name, Label: label,
			URL: sub.base + "?action=" + url.QueryEscape(spec.Name) + extra})
	}
	svc := sub.service()
	if sub.list != nil {
		m.Heading = "Act on the servers of this list"
		for _, spec := range specs {
			item(spec, fillText(spec.Label, svc)+" on every server in this list", "")
		}
		return m
	}
	var everywhere []*ActionSpec // the actions that run where they are asked
	for _, spec := range specs {
		item(spec, fillText(spec.Label, svc), "")
		if spec.filter == nil {
			everywhere = append(everywhere, spec)
		}
	}
	for _, t := range sub.tags() {
		for _, spec := range everywhere {
			item(spec, fillText(spec.Label, svc)+" on every #"+t+" server", "&tag="+url.QueryEscape(t))
		}
	}
	lists, err := s.actionLists(r.Context(), u.ID, sub.node.Name)
	if err != nil {
		s.Logger.Error("the lists of a server's actions", "node", sub.node.Name, "err", err)
		return m
	}
	for _, l := range lists {
		for _, spec := range everywhere {
			item(spec, fillText(spec.Label, svc)+" on every server in the list "+l.Name,
				"&list="+strconv.FormatInt(l.ID, 10))
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
	return s.actionMenu(r, postActionSubject(p, n))
}

// listActionMenu is actionMenu for a list's page; errors leave it out.
func (s *Server) listActionMenu(r *http.Request, l *timeline.List) *actionMenu {
	if s.Actions == nil || currentUser(r) == nil || len(l.Nodes) == 0 {
		return nil
	}
	sub, err := s.listActionSubject(r.Context(), l)
	if err != nil {
		s.Logger.Error("a list's actions", "list", l.ID, "err", err)
		return nil
	}
	return s.actionMenu(r, sub)
}

// fillText puts the service in an action's text.
func fillText(s, service string) string { return strings.ReplaceAll(s, serviceSlot, service) }

// actionRequest is what the confirmation page's address, or its form,
// asks for.
type actionRequest struct {
	action, tag, list, batch, confirm string
}

func actionRequestOf(v url.Values) actionRequest {
	return actionRequest{action: v.Get("action"), tag: v.Get("tag"), list: v.Get("list"), batch: v.Get("batch"), confirm: v.Get("confirm")}
}

// actionPlan is one action, ready to run.
type actionPlan struct {
	spec    *ActionSpec
	tag     string
	list    *timeline.List // the list whose servers it runs on
	filter  string         // the filter's servers, in words
	targets []string
	batch   int
	service string
}

// defaultActionBatch is the batch size offered for many servers.
const defaultActionBatch = 5

// plan checks the request's action, hashtag or list and batch size
// against what fits sub, and finds the servers. An action with a filter
// discovers them, unless confirm holds the token of the ones its
// confirmation page showed, which are taken instead.
func (s *Server) plan(ctx context.Context, u *people.User, sub *actionSubject, req actionRequest, confirming bool) (*actionPlan, error) {
	if s.Actions == nil {
		return nil, feed.Errorf(feed.ENOTFOUND, "actions are turned off on this server: it has no RPC key")
	}
	p := &actionPlan{tag: req.tag, batch: defaultActionBatch}
	specs := s.Actions.fitting(sub)
	i := slices.IndexFunc(specs, func(d *ActionSpec) bool { return d.Name == req.action })
	if i < 0 {
		return nil, feed.Errorf(feed.EINVALID, "the action %q does not fit here", req.action)
	}
	p.spec = specs[i]
	if p.spec.needsService {
		p.service = sub.service()
	}
	if req.batch != "" {
		n, err := strconv.Atoi(strings.TrimSpace(req.batch))
		if err != nil || n < 0 {
			return nil, feed.Errorf(feed.EINVALID, "the batch size must be a whole number, 0 for all at once")
		}
		p.batch = n
	}
	switch {
	case p.spec.filter != nil:
		if req.tag != "" || req.list != "" {
			return nil, feed.Errorf(feed.EINVALID, "%q runs on the servers its filter finds, not on a hashtag's or a list's", p.spec.Label)
		}
		p.filter = filterWords(p.spec)
		key := confirmKey(u.Name, sub, p.spec, p.service)
		if confirming {
			targets, err := s.Actions.take(req.confirm, key, s.now())
			if err != nil {
				return nil, err
			}
			p.targets = targets
			return p, nil
		}
		d, err := s.Actions.Client.Discover(ctx, rpc.Call{Agent: p.spec.Run.Agent, Action: p.spec.Run.Action, Filter: p.spec.filter})
		if err != nil {
			return nil, fmt.Errorf("discover the servers of %s: %w", p.spec.Name, err)
		}
		if len(d.Nodes) == 0 {
			return nil, feed.Errorf(feed.ENOTFOUND, "no server with %s answered discovery", p.filter)
		}
		p.targets = d.Nodes
		return p, nil
	case sub.list != nil:
		if req.tag != "" {
			return nil, feed.Errorf(feed.EINVALID, "a list's page runs actions on the list's servers, not on a hashtag's")
		}
		p.list = sub.list
		for _, n := range sub.members {
			p.targets = append(p.targets, identity(n))
		}
		return p, nil
	case req.list != "":
		if req.tag != "" {
			return nil, feed.Errorf(feed.EINVALID, "ask a hashtag's servers or a list's, not both")
		}
		id, err := parseListID(req.list)
		if err != nil {
			return nil, err
		}
		l, err := s.Follows.List(ctx, u.ID, id)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(l.Nodes, sub.node.Name) {
			return nil, feed.Errorf(feed.EINVALID, "@%s is not in the list %s", sub.node.Name, l.Name)
		}
		members, err := s.listMembers(ctx, l)
		if err != nil {
			return nil, err
		}
		p.list = l
		for _, n := range members {
			p.targets = append(p.targets, identity(n))
		}
		return p, nil
	case req.tag != "":
		if !slices.Contains(sub.tags(), req.tag) {
			return nil, feed.Errorf(feed.EINVALID, "#%s is not a role hashtag of this post", req.tag)
		}
		ns, err := s.Nodes.List(ctx, nodes.ListOptions{Role: req.tag})
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			p.targets = append(p.targets, identity(n))
		}
		if len(p.targets) == 0 {
			return nil, feed.Errorf(feed.ENOTFOUND, "no server has #%s", req.tag)
		}
		return p, nil
	}
	p.targets, p.batch = []string{identity(sub.node)}, 0
	return p, nil
}

// filterWords describes an action's filter: "class roles::frontend_lb".
func filterWords(spec *ActionSpec) string {
	f := spec.Run.Filter
	var parts []string
	for _, group := range []struct {
		one, many string
		values    []string
	}{
		{"the name", "the names", f.Identity}, {"the class", "the classes", f.Class}, {"the fact", "the facts", f.Fact},
		{"the agent", "the agents", f.Agent}, {"the filter", "the filters", f.Compound},
	} {
		switch len(group.values) {
		case 0:
		case 1:
			parts = append(parts, group.one+" "+group.values[0])
		default:
			parts = append(parts, group.many+" "+strings.Join(group.values, ", "))
		}
	}
	return strings.Join(parts, " and ")
}

// multiple: the plan asks more than the subject's own server.
func (p *actionPlan) multiple() bool { return p.tag != "" || p.list != nil || p.filter != "" }

// where says which servers, for the posts and the confirmation page.
func (p *actionPlan) where() string {
	n := plural(len(p.targets), "server", "servers")
	var s string
	switch {
	case p.filter != "":
		s = "the " + n + " with " + p.filter
	case p.list != nil:
		s = "the " + n + " in the list " + p.list.Name
	case p.tag != "":
		s = "the " + n + " tagged #" + p.tag
	default:
		return p.targets[0]
	}
	if p.batch > 0 && p.batch < len(p.targets) {
		s += fmt.Sprintf(", %d at a time", p.batch)
	}
	return s
}

// words says what the action does, with its service.
func (p *actionPlan) words() string { return fillText(p.spec.Words, p.service) }

// done is a node's success, with the service.
func (p *actionPlan) done() string { return fillText(p.spec.Done, p.service) }

// label is the action's button, with the service.
func (p *actionPlan) label() string { return fillText(p.spec.Label, p.service) }

func (p *actionPlan) data() map[string]any { return fillService(p.spec.Run.Data, p.service) }

// command is the RPC as the command line would send it.
func (p *actionPlan) command() string {
	cmd := p.spec.Run.Agent + " " + p.spec.Run.Action
	data := p.data()
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fmt.Sprint(data[k])
		if b, err := json.Marshal(data[k]); err == nil && !isScalar(data[k]) {
			v = string(b)
		}
		cmd += " " + k + "=" + v
	}
	f := p.spec.Run.Filter
	for _, flag := range []struct {
		name   string
		values []string
	}{{"-I", f.Identity}, {"-C", f.Class}, {"-F", f.Fact}, {"-A", f.Agent}, {"-S", f.Compound}} {
		for _, v := range flag.values {
			cmd += " " + flag.name + " " + shellWord(v)
		}
	}
	return cmd
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// shellWord quotes s for a shell when it needs it.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (p *actionPlan) call(user string, timeout time.Duration) rpc.Call {
	return rpc.Call{
		Agent: p.spec.Run.Agent, Action: p.spec.Run.Action, Data: p.data(), Targets: p.targets,
		Batch: rpc.Size{N: p.batch}, Timeout: timeout, Via: "user=" + user,
	}
}
