package rules

import (
	"context"

	"fleetfeed/feed"
	"fleetfeed/nodes"
)

// NodeLookup finds the profile of the node a post is about, for the rules
// that match facts; *nodes.Store is one. Get returns an error with code
// feed.ENOTFOUND for a node without a profile.
type NodeLookup interface {
	Get(ctx context.Context, name string) (*nodes.Node, error)
}

var _ NodeLookup = (*nodes.Store)(nil)

// factsOf returns the lookup of node's facts that Rule.Matches takes: it
// reads the profile at most once, however many rules ask, and only when
// one does. It is nil without e.Nodes, so that rules with facts never
// match; a node without a profile, or one that cannot be read, has no
// facts either.
func (e *Engine) factsOf(ctx context.Context, node string) func() map[string]any {
	if e.Nodes == nil {
		return nil
	}
	var (
		facts  map[string]any
		looked bool
	)
	return func() map[string]any {
		if looked {
			return facts
		}
		looked = true
		n, err := e.Nodes.Get(ctx, node)
		switch {
		case err == nil:
			facts = n.Facts
		case feed.ErrorCode(err) != feed.ENOTFOUND:
			e.log().Warn("rules cannot read the node's facts", "node", node, "err", err)
		}
		return facts
	}
}
