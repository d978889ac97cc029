package web

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/translators"
)

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
	// asked is the "asked" post, which the Puppet runs the action causes
	// are linked to.
	asked int64
	id    string
	now   func() time.Time
}

// actionExpecter links the posts an action causes to it; *feed.Pipeline
// is one.
type actionExpecter interface {
	Expect(ctx context.Context, exps ...feed.Expectation) error
}

// expectReport asks the pipeline to link the Puppet report a node's
// accepted runonce will send to the action's "asked" post.
func (run *actionRun) expectReport(ctx context.Context, rcv rpc.Received) error {
	ex, ok := run.poster.(actionExpecter)
	if !ok || run.asked == 0 || rcv.StatusCode != rpc.StatusOK ||
		run.plan.spec.Run.Agent != "puppet" || run.plan.spec.Run.Action != "runonce" {
		return nil
	}
	return ex.Expect(ctx, feed.Expectation{Node: rcv.SenderID, Source: translators.SourcePuppet, Cause: run.asked})
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
		if err := run.expectReport(ctx, rcv); err != nil {
			log.Warn("link an action's Puppet report", "node", rcv.SenderID, "err", err)
		}
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
	details["action"] = run.plan.spec.Name
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
	text := p.done() + " on " + rcv.SenderID
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
