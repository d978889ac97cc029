package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Discoverer finds the nodes a request goes to.
type Discoverer interface {
	// Method names the discovery method, as statistics report it:
	// "broadcast", "inventory", "flatfile", "stdin".
	Method() string
	// Discover returns the identities of the nodes that match filter and
	// run agent, each once, in the method's order (broadcast: as they
	// answered; inventory: sorted; lists: as listed). It returns
	// ErrDiscoveryFilter if the method cannot apply part of the filter,
	// ctx's error, or the source's.
	Discover(ctx context.Context, agent string, filter *Filter) ([]string, error)
}

// withAgent returns filter with agent required, unless the filter
// already asks for it. Every node runs rpcutil, so it is never added.
func withAgent(filter *Filter, agent string) *Filter {
	f := &Filter{}
	if filter != nil {
		f = &Filter{
			Identity: slices.Clone(filter.Identity), Fact: slices.Clone(filter.Fact),
			Class: slices.Clone(filter.Class), Agent: slices.Clone(filter.Agent), Compound: slices.Clone(filter.Compound),
		}
	}
	if agent != "" && agent != "rpcutil" && !slices.Contains(f.Agent, agent) {
		f.Agent = append(f.Agent, agent)
	}
	return f
}

// BroadcastDiscovery finds nodes as MCollective's "mc" method does: it
// broadcasts an rpcutil ping carrying the filter, and every node that
// matches answers; it collects answers for Timeout.
type BroadcastDiscovery struct {
	Client *Client
	// Timeout is how long to collect answers; DefaultDiscoveryTimeout if
	// zero.
	Timeout time.Duration
	// OnReply, if set, sees each answer as it comes (ping uses it for
	// its response times).
	OnReply func(Received)
}

// Method returns "broadcast".
func (b *BroadcastDiscovery) Method() string { return "broadcast" }

// Discover broadcasts the ping and collects the answering nodes.
func (b *BroadcastDiscovery) Discover(ctx context.Context, agent string, filter *Filter) ([]string, error) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultDiscoveryTimeout
	}
	replies, err := b.Client.Broadcast(ctx, "rpcutil", "ping", nil, withAgent(filter, agent), timeout, b.OnReply)
	if err != nil {
		return nil, fmt.Errorf("broadcast discovery: %w", err)
	}
	nodes := make([]string, len(replies))
	for i, r := range replies {
		nodes[i] = r.SenderID
	}
	return nodes, nil
}

// Broadcast sends one request to every node with the agent that matches
// filter, and collects the answers for timeout or until ctx ends, one per
// node, in the order they came. on, if set, sees each as it comes. It is
// the primitive under broadcast discovery and ping; requests that act on
// nodes are sent direct, after discovery (Do).
func (c *Client) Broadcast(ctx context.Context, agent, action string, data map[string]any, filter *Filter,
	timeout time.Duration, on func(Received)) ([]Received, error) {
	if err := filter.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidRequest)
	}
	req := c.newRequest("", agent, action, data, filter, DefaultTTL)
	body, err := c.cfg.Signer.SignRequest(req)
	if err != nil {
		return nil, err
	}
	w, err := c.register(req.RequestID)
	if err != nil {
		return nil, err
	}
	defer c.unregister(req.RequestID)
	start := time.Now()
	if err := c.conn.Send(ctx, BroadcastDestination(c.cfg.Collective, agent), body, SendOptions{}); err != nil {
		return nil, err
	}
	var replies []Received
	seen := map[string]bool{}
	collect(w, start.Add(timeout), ctx.Done(), func() int { return 1 }, func(r Received) {
		if seen[r.SenderID] {
			return
		}
		seen[r.SenderID] = true
		r.Elapsed = r.At.Sub(start)
		replies = append(replies, r)
		if on != nil {
			on(r)
		}
	})
	if err := ctx.Err(); err != nil {
		return replies, err
	}
	return replies, nil
}

// InventorySource lists the nodes a server knows, with what filters
// match: the fleetfeed server's node table, filled from registrations.
type InventorySource interface {
	// Inventory returns every known node. Errors are the source's.
	Inventory(ctx context.Context) ([]Inventory, error)
}

// InventoryFunc adapts a function to InventorySource: the server passes
// one that reads its store directly.
type InventoryFunc func(ctx context.Context) ([]Inventory, error)

// Inventory calls f.
func (f InventoryFunc) Inventory(ctx context.Context) ([]Inventory, error) { return f(ctx) }

// InventoryDiscovery finds nodes in an InventorySource, applying the
// whole filter (compound included) on the client: no message is sent and
// nothing is waited for, so it is as fast as the source. A node the
// source lists but that is gone shows up as "no response".
type InventoryDiscovery struct {
	Source InventorySource
}

// Method returns "inventory".
func (d *InventoryDiscovery) Method() string { return "inventory" }

// Discover lists the source's nodes that match, sorted by identity.
func (d *InventoryDiscovery) Discover(ctx context.Context, agent string, filter *Filter) ([]string, error) {
	invs, err := d.Source.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory discovery: %w", err)
	}
	f := withAgent(filter, agent)
	var nodes []string
	for _, inv := range invs {
		if f.Match(inv) {
			nodes = append(nodes, inv.Identity)
		}
	}
	slices.Sort(nodes)
	return slices.Compact(nodes), nil
}

// HTTPInventory reads the node table of a fleetfeed server from its JSON
// API, GET <URL>/api/v1/nodes: an array of nodes with "name", "facts",
// "classes" and "agents".
//
// A node's RPC identity is its "identity" member when the server gives
// one, else its "networking.fqdn" or "fqdn" fact, else its "name" (the
// server names a node by its short host name when that is free, so the
// name alone is not the agent's identity).
type HTTPInventory struct {
	// URL is the server's base URL (http://127.0.0.1:8080).
	URL string
	// Token, if set, is sent as a bearer token.
	Token string
	// HTTPClient is used instead of http.DefaultClient if set.
	HTTPClient *http.Client
}

// Inventory fetches the node list.
func (h *HTTPInventory) Inventory(ctx context.Context) ([]Inventory, error) {
	u, err := url.JoinPath(h.URL, "/api/v1/nodes")
	if err != nil {
		return nil, fmt.Errorf("server url %q: %w", h.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("server url %q: %w", h.URL, err)
	}
	req.Header.Set("Accept", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	hc := h.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get nodes: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("get nodes from %s: %s: %s", h.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	var list []struct {
		Identity string         `json:"identity"`
		Name     string         `json:"name"`
		Facts    map[string]any `json:"facts"`
		Classes  []string       `json:"classes"`
		Agents   []string       `json:"agents"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("get nodes from %s: %w", h.URL, err)
	}
	invs := make([]Inventory, len(list))
	for i, n := range list {
		id := n.Identity
		for _, fact := range []string{"networking.fqdn", "fqdn"} {
			if id != "" {
				break
			}
			if v, ok := LookupFact(n.Facts, fact); ok {
				if s, ok := v.(string); ok && CheckName(s) == nil {
					id = s
				}
			}
		}
		if id == "" {
			id = n.Name
		}
		invs[i] = Inventory{Identity: id, Facts: n.Facts, Classes: n.Classes, Agents: n.Agents}
	}
	return invs, nil
}

// NodeList is discovery from a given list of identities: a flat file
// ("flatfile") or the output of another command ("stdin"). It knows
// nothing of the nodes but their names, so it applies only the identity
// part of a filter; any other part is ErrDiscoveryFilter.
type NodeList struct {
	// Name is the method's name for the statistics.
	Name  string
	Nodes []string
}

// Method returns l.Name.
func (l *NodeList) Method() string { return l.Name }

// Discover returns the listed nodes the identity filter names, in order.
func (l *NodeList) Discover(_ context.Context, _ string, filter *Filter) ([]string, error) {
	if filter != nil && len(filter.Fact)+len(filter.Class)+len(filter.Agent)+len(filter.Compound) > 0 {
		return nil, fmt.Errorf("%s knows node names only; use -I or another discovery method: %w", l.Name, ErrDiscoveryFilter)
	}
	var nodes []string
	seen := map[string]bool{}
	for _, n := range l.Nodes {
		if seen[n] || (filter != nil && len(filter.Identity) > 0 && !filter.NamesIdentity(n)) {
			continue
		}
		seen[n] = true
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// LooksLikeJSON reports whether data starts (after white space) like a
// JSON object or array: the output of a command run with -j or --jsonl.
func LooksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// ParseNodeList reads node identities from a flat file or another
// command's output. JSON input (one value, or one per line) may be:
//   - an object with "replies": [{"sender": …}, …], as -j prints;
//   - an object with "nodes": [name, …], as find -j prints;
//   - an object with "sender", "identity", "name" or "certname" (one per
//     line, as --jsonl prints; lines without one, like the stats, are
//     skipped);
//   - an array of names or of such objects (the server's /api/v1/nodes).
//
// Anything else is text: one identity a line, "#" starts a comment. Every
// name must pass CheckName. Names are returned in order, each once.
func ParseNodeList(data []byte) ([]string, error) {
	var names []string
	if LooksLikeJSON(data) {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("node list: %w", err)
			}
			names = append(names, namesIn(v, true)...)
		}
		if len(names) == 0 {
			return nil, errors.New("node list: no node names in the JSON (want replies[].sender, nodes[] or [{\"name\": …}])")
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			if line = strings.TrimSpace(line); line != "" {
				names = append(names, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("node list: %w", err)
		}
	}
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return nil, fmt.Errorf("node list: %w", err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// namesIn extracts node names from a decoded JSON value; top says v is
// a whole document (where "replies" and "nodes" are looked for).
func namesIn(v any, top bool) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, namesIn(e, false)...)
		}
		return out
	case map[string]any:
		if top {
			for _, k := range []string{"replies", "nodes"} {
				if list, ok := x[k].([]any); ok {
					return namesIn(list, false)
				}
			}
		}
		for _, k := range []string{"sender", "identity", "name", "certname"} {
			if s, ok := x[k].(string); ok && s != "" {
				return []string{s}
			}
		}
	}
	return nil
}
