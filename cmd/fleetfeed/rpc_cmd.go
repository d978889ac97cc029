package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

// outputFlags choose how results are shown.
type outputFlags struct {
	JSON       bool
	JSONL      bool
	Verbose    bool
	NoProgress bool
	Display    string
}

func (f *outputFlags) register(fs *pflag.FlagSet, display bool) {
	fs.BoolVarP(&f.JSON, "json", "j", false, "print the results as one JSON object (see docs/cli.md)")
	fs.BoolVar(&f.JSONL, "jsonl", false, "print one JSON object per line as replies come")
	fs.BoolVarP(&f.Verbose, "verbose", "v", false, "print more statistics")
	fs.BoolVar(&f.NoProgress, "no-progress", false, "never show a progress bar")
	if display {
		fs.StringVar(&f.Display, "display", "", "which replies to show: ok, failed, all or none (default: as the DDL says)")
	}
}

func (f *outputFlags) text() bool { return !f.JSON && !f.JSONL }

// rpcCmd holds the flags of `fleetfeed rpc`.
type rpcCmd struct {
	client        clientFlags
	filter        filterFlags
	disc          discoveryFlags
	req           requestFlags
	out           outputFlags
	async         bool
	asyncListener string
	db            string
}

func newRPCCommand() *cobra.Command {
	var c rpcCmd
	cmd := &cobra.Command{
		Use:   "rpc AGENT ACTION [INPUT=VALUE ...]",
		Short: "Run an action of an agent on the servers a filter selects",
		Long: `Run an action of an agent on every server the filter selects, one signed
request per server, and show the replies as the agent's DDL says.

  fleetfeed rpc puppet status -C roles::frontend_web
  fleetfeed rpc service restart service=nginx -F datacenter=ams1 --batch 5
  fleetfeed rpc package status package=openssl -j | jq … | fleetfeed rpc puppet runonce

Exit status: 0 every server answered OK, 1 some failed, 2 some did not
answer, 3 usage error, 4 no server found, 5 interrupted, 6 could not run.`,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd, args) },
	}
	fs := cmd.Flags()
	c.client.register(fs)
	c.filter.register(fs)
	c.disc.register(fs)
	c.req.register(fs)
	c.out.register(fs, true)
	fs.BoolVar(&c.async, "async", false, "send without waiting: print the request id; the server's listener stores the replies")
	fs.StringVar(&c.asyncListener, "async-listener", rpc.DefaultAsyncListener, "sender id of the listener that stores --async replies")
	fs.StringVar(&c.db, "db", "", "record the call in the audit log of this fleetfeed database (and, with --async, the request)")
	return withUsageExit(cmd)
}

// parseInputs reads INPUT=VALUE arguments, typed as the action's DDL
// says; without a DDL, true/false are booleans and integers numbers.
func parseInputs(act *rpc.ActionDDL, args []string) (map[string]any, error) {
	data := map[string]any{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usageErr("input %q: want NAME=VALUE", a)
		}
		if act != nil {
			in := act.Input[k]
			if in == nil {
				return nil, usageErr("action %s has no input %q (it has %s)", act.Name, k, inputNames(act))
			}
			typed, err := in.Parse(v)
			if err != nil {
				return nil, usageErr("input %s: %w", k, err)
			}
			data[k] = typed
			continue
		}
		switch {
		case v == "true" || v == "false":
			data[k] = v == "true"
		default:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				data[k] = n
			} else {
				data[k] = v
			}
		}
	}
	return data, nil
}

func inputNames(act *rpc.ActionDDL) string {
	var names []string
	for n := range act.Input {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// lookupAction finds agent#action in the known DDLs: nil with no error
// for an agent without a DDL.
func lookupAction(ddls []*rpc.DDL, agentName, action string) (*rpc.ActionDDL, error) {
	for _, d := range ddls {
		if d.Metadata.Name != agentName {
			continue
		}
		if action == "" {
			return nil, usageErr("%s: which action? %s has: %s", agentName, agentName, strings.Join(d.ActionNames(), ", "))
		}
		act := d.Action(action)
		if act == nil {
			return nil, usageErr("agent %s has no action %q (it has: %s)", agentName, action, strings.Join(d.ActionNames(), ", "))
		}
		return act, nil
	}
	if action == "" {
		return nil, usageErr("usage: fleetfeed rpc AGENT ACTION [INPUT=VALUE ...]")
	}
	return nil, nil
}

// newCall builds a call from the common flags.
func newCall(in io.Reader, flt *filterFlags, disc *discoveryFlags, req *requestFlags) (rpc.Call, error) {
	var call rpc.Call
	filter, err := flt.filter()
	if err != nil {
		return call, err
	}
	d, err := disc.discoverer(in, flt)
	if err != nil {
		return call, err
	}
	call.Filter, call.Discoverer, call.DiscoveryTimeout = filter, d, disc.timeout()
	if req != nil {
		if err := req.apply(&call); err != nil {
			return call, err
		}
	}
	return call, nil
}

func (c *rpcCmd) run(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: fleetfeed rpc AGENT ACTION [INPUT=VALUE ...]")
	}
	ddls, err := c.client.ddls()
	if err != nil {
		return cannotRun(err)
	}
	action := ""
	if len(args) > 1 {
		action = args[1]
	}
	act, err := lookupAction(ddls, args[0], action)
	if err != nil {
		return err
	}
	data, err := parseInputs(act, args[2:])
	if err != nil {
		return err
	}
	call, err := newCall(cmd.InOrStdin(), &c.filter, &c.disc, &c.req)
	if err != nil {
		return err
	}
	call.Agent, call.Action, call.Data = args[0], action, data
	display, err := render.ParseDisplay(c.out.Display)
	if err != nil {
		return usageErr("%w", err)
	}
	ctx := cmd.Context()
	var store rpc.ReplyStore
	if c.db != "" {
		db := feed.NewDB(c.db)
		if err := db.Open(); err != nil {
			return cannotRun(err)
		}
		defer db.Close()
		if c.async {
			store = &rpc.SQLiteReplyStore{DB: db}
		}
		c.client.audit = &rpc.SQLiteAuditLog{DB: db}
	}
	sess, err := c.client.connect(ctx, c.asyncListener, store)
	if err != nil {
		return err
	}
	defer sess.close()
	if c.async {
		return c.sendAsync(ctx, cmd.OutOrStdout(), sess, call)
	}
	res, err := doCall(ctx, cmd, sess, call, c.out)
	if err != nil {
		return callErr(err)
	}
	if err := printResult(cmd.OutOrStdout(), res, act, c.out, display); err != nil {
		return cannotRun(err)
	}
	return statsErr(&res.Stats)
}

func (c *rpcCmd) sendAsync(ctx context.Context, w io.Writer, sess *rpcSession, call rpc.Call) error {
	disc, err := sess.client.Discover(ctx, call)
	if err != nil {
		return callErr(err)
	}
	targets, err := call.Limit.Pick(disc.Nodes, call.LimitMethod, call.LimitSeed)
	if err != nil {
		return callErr(err)
	}
	id, err := sess.client.SendAsync(ctx, call, targets)
	if err != nil {
		return callErr(err)
	}
	if c.out.JSON || c.out.JSONL {
		return render.JSONLine(w, map[string]any{"requestid": id, "agent": call.Agent, "action": call.Action,
			"nodes": targets, "reply_to": rpc.AsyncReplyDestination(c.client.Collective, c.asyncListener)})
	}
	fmt.Fprintf(w, "Request %s sent to %d nodes; replies go to %s\n", id, len(targets),
		rpc.AsyncReplyDestination(c.client.Collective, c.asyncListener))
	return nil
}

// replyProgress is a bar on stderr while replies come in, when stderr is a
// terminal; otherwise it does nothing.
type replyProgress struct{ bar *progressbar.ProgressBar }

func newProgress(w io.Writer, out outputFlags) *replyProgress {
	if out.NoProgress || !out.text() || !isTerminalWriter(w) {
		return &replyProgress{}
	}
	return &replyProgress{bar: progressbar.NewOptions(0, progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(40),
		progressbar.OptionShowCount(), progressbar.OptionSetDescription(" * "), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetTheme(progressbar.ThemeASCII))}
}

func (p *replyProgress) start(n int) {
	if p.bar != nil {
		p.bar.ChangeMax(n)
		p.bar.RenderBlank() //nolint:errcheck // cosmetic
	}
}

func (p *replyProgress) add() {
	if p.bar != nil {
		p.bar.Add(1) //nolint:errcheck // cosmetic
	}
}

func (p *replyProgress) done() {
	if p.bar != nil {
		p.bar.Finish() //nolint:errcheck // cosmetic
		p.bar.Clear()  //nolint:errcheck // cosmetic
	}
}

// doCall runs call with a progress bar on a terminal and, for --jsonl,
// streams the discovery and each reply.
func doCall(ctx context.Context, cmd *cobra.Command, sess *rpcSession, call rpc.Call, out outputFlags) (*rpc.Result, error) {
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	bar := newProgress(stderr, out)
	if call.Discoverer == nil && out.text() && isTerminalWriter(stderr) {
		if _, direct := call.Filter.Identities(); !direct {
			fmt.Fprintf(stderr, "Discovering nodes by broadcast for %s ...\n", call.DiscoveryTimeout)
		}
	}
	call.OnDiscovered = func(method string, nodes []string) {
		if out.JSONL {
			render.JSONLine(stdout, map[string]any{"kind": "discovery", "method": method, "discovered": nodes}) //nolint:errcheck // stdout
		}
	}
	call.OnBatch = func(_, _ int, nodes []string) {
		if bar.bar != nil && bar.bar.GetMax() == 0 {
			bar.start(len(nodes))
		} else if bar.bar != nil {
			bar.bar.AddMax(len(nodes))
		}
	}
	call.OnReply = func(r rpc.Received) {
		bar.add()
		if out.JSONL {
			jr := render.NewJSONReply(r)
			jr.Kind = "reply"
			render.JSONLine(stdout, jr) //nolint:errcheck // stdout
		}
	}
	res, err := sess.client.Do(ctx, call)
	bar.done()
	return res, err
}

// printResult writes a call's result as the output flags say.
func printResult(w io.Writer, res *rpc.Result, act *rpc.ActionDDL, out outputFlags, display render.Display) error {
	sums := rpc.Aggregate(act, res.Replies)
	switch {
	case out.JSON:
		return render.JSON(w, render.NewJSONResult(res, sums))
	case out.JSONL:
		if err := render.JSONLine(w, map[string]any{"kind": "summaries", "summaries": nonNilSummaries(sums)}); err != nil {
			return err
		}
		st := render.NewJSONStats(&res.Stats)
		st.Kind = "stats"
		return render.JSONLine(w, st)
	}
	if err := render.Replies(w, act, res.Replies, display); err != nil {
		return err
	}
	if err := render.Summaries(w, sums); err != nil {
		return err
	}
	return render.Stats(w, &res.Stats, out.Verbose)
}

func nonNilSummaries(s []rpc.Summary) []rpc.Summary {
	if s == nil {
		return []rpc.Summary{}
	}
	return s
}
