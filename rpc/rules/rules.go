// Package rules runs network-wide callbacks: rules that watch the posts
// the hub publishes and, when one matches, run an RPC on a set of nodes
// ("when httpd restarts on a frontend web server, run Puppet on the load
// balancers"), then post what they did as a reply to the post that
// triggered them.
//
// Rules are read from a YAML file:
//
//	rules:
//	  - name: lb-after-httpd
//	    description: Refresh the load balancers after a web server restarts
//	    match:
//	      source: puppet              # the post's source
//	      tags: [changed]             # hashtags the post must all have
//	      roles: [frontend_web]       # the node must have one of these roles
//	      facts: ["datacenter==ams1"] # the node's facts must all match
//	      text: "(?i)restarted"       # a regular expression on the sentence
//	      resource: Service[httpd]    # a Puppet resource in the post's details
//	      restart: true               # ... that Puppet restarted (refreshed)
//	    run:
//	      agent: puppet
//	      action: runonce
//	      data: {}
//	      filter:
//	        class: [roles::frontend_lb]
//	      timeout: 1m
//	    cooldown: 10m                 # no second run within this time
//	    max_runs: 6                   # at most this many runs ...
//	    per: 1h                       # ... in this window
//	    dry_run: false                # true: only say what it would do
//
// The description opens the reply a rule posts, so it is written for a
// business reader; the rule's name goes in the reply's details.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"fleetfeed/feed"
	"fleetfeed/rpc"
)

// Defaults of a rule.
const (
	// DefaultCooldown is a rule's cooldown when it gives none: a rule
	// always has one, so that the posts its own run causes cannot make it
	// run again at once.
	DefaultCooldown = 5 * time.Minute
	// DefaultPer is the rate limit's window when max_runs is given alone.
	DefaultPer = time.Hour
)

// ErrInvalid is returned, wrapped, for a rules file that cannot be used.
var ErrInvalid = errors.New("invalid rules")

// MaxDescription bounds a rule's description, in characters, so that the
// reply it opens stays a short sentence.
const MaxDescription = 100

// File is a rules file.
type File struct {
	Rules []*Rule `yaml:"rules"`
}

// Rule is one callback: what posts it matches and what it runs.
type Rule struct {
	Name string `yaml:"name"`
	// Description says what the rule is for in plain words ("Refresh the
	// load balancers after a web server restarts"); it opens the rule's
	// replies. Optional.
	Description string `yaml:"description"`
	Match       Match  `yaml:"match"`
	Run         Action `yaml:"run"`
	// Cooldown is the least time between two runs (DefaultCooldown if 0).
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxRuns, when not 0, bounds the runs within any window Per long.
	MaxRuns int           `yaml:"max_runs"`
	Per     time.Duration `yaml:"per"`
	// DryRun finds the nodes the rule would ask and posts that, without
	// sending anything.
	DryRun bool `yaml:"dry_run"`
}

// Match says which posts a rule reacts to; every part given must match.
type Match struct {
	Source string `yaml:"source"`
	// Tags must all be among the post's hashtags.
	Tags []string `yaml:"tags"`
	// Roles: the node must have one of them ("frontend_web" or
	// "roles::frontend_web"); the pipeline puts a node's roles in its
	// posts' hashtags, which is where they are read.
	Roles []string `yaml:"roles"`
	// Text is a regular expression the sentence must match.
	Text string `yaml:"text"`
	// Resource names a Puppet resource, Type[title], that the post's
	// details must list (a resource the run changed, failed or found out
	// of sync).
	Resource string `yaml:"resource"`
	// Restart: the resource must have been restarted (refreshed) by the
	// run, or started.
	Restart bool `yaml:"restart"`
	// Facts are comparisons, fact<op>value as in a filter
	// ("datacenter==ams1", "os.family=~/debian/i"), that the facts of the
	// post's node must all satisfy. Facts compare case-insensitively, so
	// a regular expression's trailing "i" flag is allowed and changes
	// nothing.
	Facts []string `yaml:"facts"`

	facts        []rpc.FactFilter
	text         *regexp.Regexp
	resType      string
	resTitle     string
	roleTags     []string
	lowerTagList []string
}

// Action is the RPC a rule runs.
type Action struct {
	Agent  string         `yaml:"agent"`
	Action string         `yaml:"action"`
	Data   map[string]any `yaml:"data"`
	Filter Filter         `yaml:"filter"`
	// Timeout bounds waiting for the replies (0: the agent's DDL's).
	Timeout time.Duration `yaml:"timeout"`
}

// Filter picks the nodes an action runs on, as the CLI's filter flags do.
type Filter struct {
	Identity []string `yaml:"identity"`
	Class    []string `yaml:"class"`
	Fact     []string `yaml:"fact"` // fact<op>value, e.g. "os.family==Debian"
	Agent    []string `yaml:"agent"`
	Compound []string `yaml:"compound"`
}

// rpcFilter is f as the RPC client takes it.
func (f Filter) rpcFilter() (*rpc.Filter, error) {
	out := &rpc.Filter{Identity: f.Identity, Class: f.Class, Agent: f.Agent, Compound: f.Compound}
	for _, s := range f.Fact {
		ff, err := rpc.ParseFactFilter(s)
		if err != nil {
			return nil, err
		}
		out.Fact = append(out.Fact, ff)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// RPC is f as the RPC client takes it, checked; other files that name
// nodes in this shape (the web page's actions) read it with this.
func (f Filter) RPC() (*rpc.Filter, error) { return f.rpcFilter() }

func (f Filter) empty() bool {
	return len(f.Identity)+len(f.Class)+len(f.Fact)+len(f.Agent)+len(f.Compound) == 0
}

// Load reads and checks a rules file.
func Load(path string) ([]*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	rs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load rules %s: %w", path, err)
	}
	return rs, nil
}

// Parse reads and checks rules in YAML; unknown keys are errors, so that
// a misspelt "cooldown" does not silently give a rule none. Its errors
// wrap ErrInvalid.
func Parse(data []byte) ([]*Rule, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	lines := ruleLines(data)
	at := func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("line %d: ", lines[i])
		}
		return ""
	}
	seen := map[string]bool{}
	for i, r := range f.Rules {
		if r == nil {
			return nil, fmt.Errorf("%w: %srule %d is empty", ErrInvalid, at(i), i+1)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%w: %srule %d (%s): %w", ErrInvalid, at(i), i+1, r.Name, err)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("%w: %stwo rules are named %s", ErrInvalid, at(i), r.Name)
		}
		seen[r.Name] = true
	}
	return f.Rules, nil
}

// ruleLines returns the line each rule of a rules file starts on, so
// that an error names the line to fix; nil when the file has no list of
// rules where expected (the strict decoding has already said so).
func ruleLines(data []byte) []int {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "rules" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, item := range top.Content[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines
	}
	return nil
}

// resourceRef splits "Type[title]".
var resourceRef = regexp.MustCompile(`^([A-Za-z][\w:]*)\[(.+)\]$`)

func (r *Rule) check() error {
	if err := rpc.CheckName(r.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if err := checkDescription(r.Description); err != nil {
		return err
	}
	if r.Run.Agent == "" || r.Run.Action == "" {
		return errors.New("run needs an agent and an action")
	}
	// A rule without a filter would run on every node of the fleet.
	if r.Run.Filter.empty() {
		return errors.New("run needs a filter")
	}
	if _, err := r.Run.Filter.rpcFilter(); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if r.Cooldown < 0 || r.Per < 0 || r.MaxRuns < 0 || r.Run.Timeout < 0 {
		return errors.New("negative cooldown, max_runs, per or timeout")
	}
	if r.Cooldown == 0 {
		r.Cooldown = DefaultCooldown
	}
	if r.MaxRuns > 0 && r.Per == 0 {
		r.Per = DefaultPer
	}
	m := &r.Match
	if m.Text != "" {
		re, err := regexp.Compile(m.Text)
		if err != nil {
			return fmt.Errorf("text: %w", err)
		}
		m.text = re
	}
	if m.Resource != "" {
		sm := resourceRef.FindStringSubmatch(m.Resource)
		if sm == nil {
			return fmt.Errorf("resource %q is not Type[title]", m.Resource)
		}
		m.resType, m.resTitle = strings.ToLower(sm[1]), sm[2]
	} else if m.Restart {
		return errors.New("restart needs a resource")
	}
	for _, role := range m.Roles {
		m.roleTags = append(m.roleTags, strings.ToLower(strings.TrimPrefix(role, "roles::")))
	}
	for _, t := range m.Tags {
		m.lowerTagList = append(m.lowerTagList, strings.ToLower(strings.TrimPrefix(t, "#")))
	}
	for _, s := range m.Facts {
		ff, err := parseFact(s)
		if err != nil {
			return fmt.Errorf("facts: %w", err)
		}
		m.facts = append(m.facts, ff)
	}
	if m.Source == "" && len(m.Tags) == 0 && len(m.Roles) == 0 && m.Text == "" && m.Resource == "" && len(m.Facts) == 0 {
		return errors.New("match needs at least one condition")
	}
	return nil
}

// checkDescription keeps a description to one short line.
func checkDescription(d string) error {
	if strings.ContainsAny(d, "\r\n") {
		return errors.New("description: one line, please")
	}
	if n := utf8.RuneCountInString(d); n > MaxDescription {
		return fmt.Errorf("description: %d characters, at most %d", n, MaxDescription)
	}
	return nil
}

// parseFact parses a facts entry as a filter's fact comparison, after
// dropping the "i" flag of "fact=~/re/i": fact comparisons ignore case
// anyway, and without this the flag would become part of the expression.
func parseFact(s string) (rpc.FactFilter, error) {
	if !strings.ContainsAny(s, "=<>") {
		return rpc.FactFilter{}, fmt.Errorf("%q is not fact<op>value, like datacenter==ams1", s)
	}
	ff, err := rpc.ParseFactFilter(s)
	if err != nil {
		return ff, err
	}
	if v := ff.Value; ff.Operator == "=~" && len(v) >= 3 && v[0] == '/' && strings.HasSuffix(v, "/i") {
		ff.Value = v[1 : len(v)-2]
		if err := ff.Validate(); err != nil {
			return ff, err
		}
	}
	return ff, nil
}

// Matches reports whether the post is one the rule reacts to. facts
// returns the facts of the post's node; it is called only for a rule
// with facts to match, once the post itself matches. A rule with facts
// never matches when facts is nil or returns nil (an unknown node).
func (r *Rule) Matches(p *feed.Post, facts func() map[string]any) bool {
	m := &r.Match
	if m.Source != "" && !strings.EqualFold(m.Source, p.Source) {
		return false
	}
	for _, t := range m.lowerTagList {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	if len(m.roleTags) > 0 && !slices.ContainsFunc(m.roleTags, func(t string) bool { return slices.Contains(p.Tags, t) }) {
		return false
	}
	if m.text != nil && !m.text.MatchString(p.Text) {
		return false
	}
	if m.resType != "" && !m.matchResource(p.Details) {
		return false
	}
	if len(m.facts) > 0 {
		if facts == nil {
			return false
		}
		f := facts()
		if f == nil {
			return false
		}
		for _, ff := range m.facts {
			if !ff.Match(f) {
				return false
			}
		}
	}
	return true
}

// puppetDetails is the part of a Puppet post's details rules read (see
// translators/puppet.go).
type puppetDetails struct {
	Resources []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Outcome string `json:"outcome"`
		Changes []struct {
			Status       string `json:"status"`
			Property     string `json:"property"`
			Message      string `json:"message"`
			DesiredValue any    `json:"desired_value"`
		} `json:"changes"`
	} `json:"resources"`
}

func (m *Match) matchResource(details json.RawMessage) bool {
	if len(details) == 0 {
		return false
	}
	var d puppetDetails
	if err := json.Unmarshal(details, &d); err != nil {
		return false
	}
	for _, res := range d.Resources {
		if strings.ToLower(res.Type) != m.resType || res.Title != m.resTitle {
			continue
		}
		if !m.Restart {
			return true
		}
		for _, c := range res.Changes {
			if c.Status != "success" {
				continue
			}
			refreshed := c.Property == "" && strings.HasPrefix(c.Message, "Triggered 'refresh'")
			started := c.Property == "ensure" && c.DesiredValue == "running"
			if refreshed || started {
				return true
			}
		}
	}
	return false
}
