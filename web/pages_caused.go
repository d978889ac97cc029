package web

import (
	"context"
	"strings"

	"fleetfeed/translators"
)

// causedView is what a post asked for, on its page: the posts it caused
// (the reports of the Puppet runs an action or rule started) and whose
// reports have not come in yet.
type causedView struct {
	// Posts are the posts caused, oldest first, each with Role saying
	// whose report it is.
	Posts []postView
	// Waiting says whose reports are still expected, "" when none are.
	Waiting string
}

func (s *Server) causedView(ctx context.Context, id int64) (causedView, error) {
	var v causedView
	caused, err := s.Pipeline.DB.CausedBy(ctx, id)
	if err != nil {
		return v, err
	}
	now := s.now()
	for _, p := range caused {
		pv := newPostView(p, now)
		pv.Role = sourceName(p.Source) + "'s report from @" + p.Node
		v.Posts = append(v.Posts, pv)
	}
	waiting, err := s.Pipeline.DB.Expecting(ctx, id)
	if err != nil {
		return v, err
	}
	// By source, in the order met: "Puppet's report from lb01 and lb02".
	var sources []string
	bySource := map[string][]string{}
	for _, x := range waiting {
		if _, ok := bySource[x.Source]; !ok {
			sources = append(sources, x.Source)
		}
		bySource[x.Source] = append(bySource[x.Source], "@"+x.Node)
	}
	var parts []string
	for _, src := range sources {
		what := "'s report from "
		if len(bySource[src]) > 1 {
			what = "'s reports from "
		}
		parts = append(parts, sourceName(src)+what+andList(bySource[src]))
	}
	if len(parts) > 0 {
		v.Waiting = "Still waiting for " + strings.Join(parts, ", and for ") + ". Reload the page to see what came in."
	}
	return v, nil
}

// sourceName is a source as readers know it.
func sourceName(source string) string {
	switch source {
	case translators.SourcePuppet:
		return "Puppet"
	case translators.SourceNagios:
		return "Nagios"
	}
	return source
}

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
