package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"fleetfeed/rpc"
)

// maxReply bounds a reply's sentence, as every post's.
const maxReply = 200

// The sentences of a rule's replies are for a business reader: they open
// with the rule's description, or say that an automatic rule acted, and
// never name the rule (its name is in the details). what is the action in
// words, from actionWords.

// ranText says what a run did.
func ranText(r *Rule, what string, st *rpc.Stats) string {
	n := len(st.Targets)
	if n == 0 {
		return reply(r, fmt.Sprintf("An automatic rule wanted servers to %s, but none matched", what),
			"no server matched, so nothing was asked")
	}
	clause, uniform := outcome(st)
	join := "; "
	if uniform {
		join = " and "
	}
	return reply(r, fmt.Sprintf("An automatic rule asked %s to %s: %s", servers(n), what, clause),
		fmt.Sprintf("%s %s asked to %s%s%s", servers(n), wasWere(n), what, join, clause))
}

// notAskedText says that a run could not send its request.
func notAskedText(r *Rule, what string) string {
	return reply(r, fmt.Sprintf("An automatic rule could not ask the servers to %s", what),
		fmt.Sprintf("the servers could not be asked to %s", what))
}

// dryRunText says what a dry run would have done.
func dryRunText(r *Rule, what string, n int) string {
	if n == 0 {
		return reply(r, fmt.Sprintf("An automatic rule wanted servers to %s, but none matched (a dry run: nothing was sent)", what),
			"no server matched (a dry run: nothing was sent)")
	}
	return reply(r, fmt.Sprintf("An automatic rule would have asked %s to %s (a dry run: nothing was sent)", servers(n), what),
		fmt.Sprintf("%s would have been asked to %s (a dry run: nothing was sent)", servers(n), what))
}

// dryRunFailedText says that a dry run could not find its servers.
func dryRunFailedText(r *Rule, what string) string {
	return reply(r, fmt.Sprintf("An automatic rule would have asked servers to %s, but finding them failed (a dry run)", what),
		fmt.Sprintf("finding the servers to %s failed (a dry run)", what))
}

// reply is the described sentence, "description: rest", for a rule with
// a description, and plain otherwise, or when the described one would be
// too long.
func reply(r *Rule, plain, rest string) string {
	d := strings.TrimRight(strings.TrimSpace(r.Description), ".:;, ")
	if d == "" {
		return plain
	}
	if s := d + ": " + rest; utf8.RuneCountInString(s) <= maxReply {
		return s
	}
	return plain
}

func servers(n int) string {
	if n == 1 {
		return "1 server"
	}
	return fmt.Sprintf("%d servers", n)
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// outcome says how the asked servers answered, and whether they all
// answered alike.
func outcome(st *rpc.Stats) (clause string, uniform bool) {
	n, silent := len(st.Targets), len(st.NoResponse)
	all := func(one, two, many string) string {
		switch n {
		case 1:
			return one
		case 2:
			return two
		}
		return fmt.Sprintf(many, n)
	}
	switch {
	case st.OK == n:
		return all("it did", "both did it", "all %d did it"), true
	case st.Failed == n:
		return all("it failed", "both failed", "all %d failed"), true
	case silent == n:
		return all("it did not answer", "neither answered", "none of the %d answered"), true
	}
	var parts []string
	if st.OK > 0 {
		parts = append(parts, fmt.Sprintf("%d did it", st.OK))
	}
	if st.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", st.Failed))
	}
	if silent > 0 {
		parts = append(parts, fmt.Sprintf("%d did not answer", silent))
	}
	switch len(parts) {
	case 0:
		return "none reported back", true
	case 1:
		return parts[0], false
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1], false
}
