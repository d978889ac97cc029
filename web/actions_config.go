package web

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/rules"
)

// The actions file says which actions the pages offer on which posts; see
// actions_default.yaml, which is also the configuration without one.

// defaultActionsYAML is the default actions file.
//
//go:embed actions_default.yaml
var defaultActionsYAML []byte

// DefaultActionsYAML returns the default actions file, to copy.
func DefaultActionsYAML() []byte { return slices.Clone(defaultActionsYAML) }

// ErrInvalidActions is returned, wrapped, for an actions file that cannot
// be used.
var ErrInvalidActions = errors.New("invalid actions")

// ActionConfig is an actions file: the actions an operator may run from
// the pages, in the order the pages list them. Make one with ParseActions,
// LoadActions or DefaultActions, which check it and prepare it to run.
type ActionConfig struct {
	Actions []*ActionSpec `yaml:"actions"`
}

// ActionSpec is one action.
type ActionSpec struct {
	// Name is short and unique; it is in the confirmation page's address.
	Name string `yaml:"name"`
	// Label is the button: "Run Puppet".
	Label string `yaml:"label"`
	// Words say what the servers are asked to do, after "bob asked web01
	// to": "run Puppet".
	Words string `yaml:"words"`
	// Done is a server's success, before " on web01": "Puppet run started".
	Done  string        `yaml:"done"`
	Run   ActionRPC     `yaml:"run"`
	Match ActionMatches `yaml:"match"`

	filter       *rpc.Filter // nil: the action runs where it is asked
	needsService bool
}

// ActionRPC is the RPC an action sends.
type ActionRPC struct {
	Agent  string `yaml:"agent"`
	Action string `yaml:"action"`
	// Data are the arguments; a string may hold {{service}}.
	Data map[string]any `yaml:"data"`
	// Filter, when given, names the servers the action runs on (found by
	// discovery when the operator opens the confirmation), whatever the
	// post or profile it is offered on.
	Filter rules.Filter `yaml:"filter"`
}

// ActionMatch says which posts, and whether the profiles, an action fits;
// every condition given must hold.
type ActionMatch struct {
	// Source is the post's source (puppet, nagios, icinga2, …).
	Source string `yaml:"source"`
	// Tags must all be among the post's hashtags.
	Tags []string `yaml:"tags"`
	// Roles: the server has one of them ("frontend_web" or
	// "roles::frontend_web"); on posts and profiles alike.
	Roles []string `yaml:"roles"`
	// Profile also offers the action on the profile of a server that has
	// one of Roles (of any server without Roles); Source and Tags are
	// about posts and are not checked there.
	Profile bool `yaml:"profile"`
}

// ActionMatches are an action's matches: it fits where any of them does,
// and every post when there are none. In YAML, one mapping or a list.
type ActionMatches []ActionMatch

// UnmarshalYAML reads one match or a list of them. It uses the decoder's
// own unmarshal function, so unknown keys stay errors.
func (m *ActionMatches) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	if _, isList := raw.([]any); isList {
		var list []ActionMatch
		if err := unmarshal(&list); err != nil {
			return err
		}
		*m = list
		return nil
	}
	var one ActionMatch
	if err := unmarshal(&one); err != nil {
		return err
	}
	*m = ActionMatches{one}
	return nil
}

// serviceSlot is the placeholder for the service a post names.
const serviceSlot = "{{service}}"

// placeholder finds {{…}} in the texts of an action.
var placeholder = regexp.MustCompile(`\{\{[^}]*\}\}`)

// LoadActions reads and checks an actions file (see ParseActions). Its
// errors name the file and, where they can, the line.
func LoadActions(path string, ddls []*rpc.DDL) (*ActionConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load actions: %w", err)
	}
	c, err := ParseActions(data, ddls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseActions reads and checks actions in YAML. Unknown keys are errors,
// so that a misspelt "label" does not silently go missing. When ddls
// describe an action's agent, the action must be one of the agent's and
// its data must be valid inputs. Its errors wrap ErrInvalidActions and say
// on which line.
func ParseActions(data []byte, ddls []*rpc.DDL) (*ActionConfig, error) {
	var c ActionConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidActions, err)
	}
	// The document again, as nodes, for the lines the checks below name.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidActions, err)
	}
	items := actionNodes(&doc)
	if len(c.Actions) == 0 {
		return nil, fmt.Errorf("%w: the file lists no actions (under \"actions:\")", ErrInvalidActions)
	}
	byAgent := map[string]*rpc.DDL{}
	for _, d := range ddls {
		byAgent[d.Metadata.Name] = d
	}
	seen := map[string]bool{}
	for i, a := range c.Actions {
		var item *yaml.Node
		if i < len(items) {
			item = items[i]
		}
		if a == nil {
			return nil, fmt.Errorf("%w: line %d: action %d is empty", ErrInvalidActions, lineOf(item), i+1)
		}
		if field, err := a.check(byAgent); err != nil {
			return nil, fmt.Errorf("%w: line %d: action %q: %w", ErrInvalidActions, lineOf(item, field...), a.Name, err)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("%w: line %d: two actions are named %q", ErrInvalidActions, lineOf(item, "name"), a.Name)
		}
		seen[a.Name] = true
	}
	return &c, nil
}

// DefaultActions returns the default actions, parsed anew (the caller
// may change them).
func DefaultActions() *ActionConfig {
	c, err := ParseActions(defaultActionsYAML, nil)
	if err != nil {
		panic("web: the default actions file is invalid: " + err.Error())
	}
	return c
}

// actionNodes are the items of the document's "actions" list.
func actionNodes(doc *yaml.Node) []*yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	if list := mappingValue(doc.Content[0], "actions"); list != nil && list.Kind == yaml.SequenceNode {
		return list.Content
	}
	return nil
}

// mappingValue is the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lineOf is the line of the value at path under item, or of the deepest
// part of path found; 0 without item.
func lineOf(item *yaml.Node, path ...string) int {
	if item == nil {
		return 0
	}
	line := item.Line
	n := item
	for _, key := range path {
		if n = mappingValue(n, key); n == nil {
			break
		}
		line = n.Line
	}
	return line
}

// check checks a and prepares it to run; on an error, it returns the path
// of the field at fault.
func (a *ActionSpec) check(ddls map[string]*rpc.DDL) ([]string, error) {
	if err := rpc.CheckName(a.Name); err != nil {
		return []string{"name"}, fmt.Errorf("name: %w", err)
	}
	for _, f := range []struct{ key, value string }{{"label", a.Label}, {"words", a.Words}, {"done", a.Done}} {
		if strings.TrimSpace(f.value) == "" {
			return []string{f.key}, fmt.Errorf("%s is missing", f.key)
		}
		if err := checkPlaceholders(f.value); err != nil {
			return []string{f.key}, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	if err := rpc.CheckName(a.Run.Agent); err != nil {
		return []string{"run", "agent"}, fmt.Errorf("run: agent: %w", err)
	}
	if err := rpc.CheckName(a.Run.Action); err != nil {
		return []string{"run", "action"}, fmt.Errorf("run: action: %w", err)
	}
	uses := false
	var walkErr error
	walkStrings(a.Run.Data, func(s string) {
		if err := checkPlaceholders(s); err != nil && walkErr == nil {
			walkErr = err
		}
		uses = uses || strings.Contains(s, serviceSlot)
	})
	if walkErr != nil {
		return []string{"run", "data"}, fmt.Errorf("run: data: %w", walkErr)
	}
	a.needsService = uses || strings.Contains(a.Label+a.Words+a.Done, serviceSlot)
	if d := ddls[a.Run.Agent]; d != nil {
		act := d.Action(a.Run.Action)
		if act == nil {
			return []string{"run", "action"}, fmt.Errorf("run: the agent %s has no action %s (it has %s)",
				a.Run.Agent, a.Run.Action, strings.Join(d.ActionNames(), ", "))
		}
		// A sample service stands in for the one a post will name.
		if _, err := act.ValidateInputs(fillService(a.Run.Data, "sshd")); err != nil {
			return []string{"run", "data"}, fmt.Errorf("run: data: %w", err)
		}
	}
	f, err := a.Run.Filter.RPC()
	if err != nil {
		return []string{"run", "filter"}, fmt.Errorf("run: filter: %w", err)
	}
	if !f.Empty() {
		a.filter = f
	}
	for i := range a.Match {
		m := &a.Match[i]
		m.Source = strings.ToLower(strings.TrimSpace(m.Source))
		for j, t := range m.Tags {
			m.Tags[j] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "#"))
		}
		for j, r := range m.Roles {
			m.Roles[j] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r), "roles::"))
		}
	}
	return nil, nil
}

// checkPlaceholders: {{service}} is the only one.
func checkPlaceholders(s string) error {
	for _, p := range placeholder.FindAllString(s, -1) {
		if p != serviceSlot {
			return fmt.Errorf("unknown placeholder %s (the only one is %s)", p, serviceSlot)
		}
	}
	return nil
}

// walkStrings calls fn with every string in v, however deep.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case map[string]any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	case []any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	}
}

// fillService is a copy of data with {{service}} replaced by svc.
func fillService(data map[string]any, svc string) map[string]any {
	if data == nil {
		return nil
	}
	var fill func(any) any
	fill = func(v any) any {
		switch v := v.(type) {
		case string:
			return strings.ReplaceAll(v, serviceSlot, svc)
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, x := range v {
				out[k] = fill(x)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = fill(x)
			}
			return out
		}
		return v
	}
	return fill(data).(map[string]any)
}

// fitsPost reports whether the action fits the post of the server n.
func (a *ActionSpec) fitsPost(p *feed.Post, n *nodes.Node) bool {
	if len(a.Match) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Match, func(m ActionMatch) bool {
		if m.Source != "" && !strings.EqualFold(m.Source, p.Source) {
			return false
		}
		for _, t := range m.Tags {
			if !slices.Contains(p.Tags, t) {
				return false
			}
		}
		return m.hasRole(n)
	})
}

// fitsProfile reports whether the action is offered on n's profile.
func (a *ActionSpec) fitsProfile(n *nodes.Node) bool {
	return slices.ContainsFunc(a.Match, func(m ActionMatch) bool { return m.Profile && m.hasRole(n) })
}

// hasRole: n has one of the match's roles, or it names none.
func (m ActionMatch) hasRole(n *nodes.Node) bool {
	return len(m.Roles) == 0 || slices.ContainsFunc(m.Roles, func(r string) bool { return slices.Contains(n.Roles, r) })
}
