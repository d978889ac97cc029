package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newFactsCommand() *cobra.Command {
	var (
		client    clientFlags
		filter    filterFlags
		disc      discoveryFlags
		req       requestFlags
		out       outputFlags
		showNodes bool
	)
	cmd := &cobra.Command{
		Use:   "facts FACT",
		Short: "Show how a fact's values are spread across the servers",
		Long: `Ask every server the filter selects for one fact (rpcutil get_fact; a dotted
path reaches into nested facts) and report how many have each value.

Exit status as for fleetfeed rpc.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("usage: fleetfeed facts FACT")
			}
			call, err := newCall(cmd.InOrStdin(), &filter, &disc, &req)
			if err != nil {
				return err
			}
			call.Agent, call.Action, call.Data = "rpcutil", "get_fact", map[string]any{"fact": args[0]}
			ctx := cmd.Context()
			sess, err := client.connect(ctx, "", nil)
			if err != nil {
				return err
			}
			defer sess.close()
			res, err := doCall(ctx, cmd, sess, call, out)
			if err != nil {
				return callErr(err)
			}
			if err := printFacts(cmd.OutOrStdout(), args[0], res, out, showNodes); err != nil {
				return cannotRun(err)
			}
			return statsErr(&res.Stats)
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	filter.register(fs)
	disc.register(fs)
	req.register(fs)
	out.register(fs, false)
	fs.BoolVarP(&showNodes, "show-nodes", "n", false, "list the servers that have each value")
	return withUsageExit(cmd)
}

// factValue is one value of a fact and the servers that have it.
type factValue struct {
	Value string   `json:"value"`
	Count int      `json:"count"`
	Nodes []string `json:"nodes"`
}

func factDistribution(res *rpc.Result) []factValue {
	by := map[string][]string{}
	for _, r := range res.Replies {
		if r.StatusCode != rpc.StatusOK {
			continue
		}
		v := "(not set)"
		if x, ok := r.Data["value"]; ok && x != nil {
			v = render.Value(x)
		}
		by[v] = append(by[v], r.SenderID)
	}
	var out []factValue
	for v, nodes := range by {
		slices.Sort(nodes)
		out = append(out, factValue{Value: v, Count: len(nodes), Nodes: nodes})
	}
	slices.SortFunc(out, func(a, b factValue) int { return strings.Compare(a.Value, b.Value) })
	return out
}

func printFacts(w io.Writer, fact string, res *rpc.Result, out outputFlags, showNodes bool) error {
	dist := factDistribution(res)
	if out.JSON || out.JSONL {
		if dist == nil {
			dist = []factValue{}
		}
		return render.JSON(w, map[string]any{"fact": fact, "values": dist, "stats": render.NewJSONStats(&res.Stats)})
	}
	fmt.Fprintf(w, "Report for fact: %s\n\n", fact)
	width := 40
	for _, d := range dist {
		width = max(width, len(d.Value)+1)
	}
	for _, d := range dist {
		times := "times"
		if d.Count == 1 {
			times = "time"
		}
		fmt.Fprintf(w, "        %-*sfound %d %s\n", width, d.Value, d.Count, times)
		if showNodes {
			fmt.Fprint(w, "\n"+nameColumns(d.Nodes, 12, 78)+"\n")
		}
	}
	if !showNodes || len(dist) == 0 {
		fmt.Fprintln(w)
	}
	if err := render.Replies(w, nil, res.Replies, render.DisplayFailed); err != nil {
		return err
	}
	return render.Stats(w, &res.Stats, out.Verbose)
}
