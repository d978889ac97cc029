package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newPingCommand() *cobra.Command {
	var (
		client  clientFlags
		filter  filterFlags
		json    bool
		graph   bool
		timeout float64
	)
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Ping the servers a filter selects and show their response times",
		Long: `Ping every server the filter selects and print each one's response time as it
answers, then the count, maximum, minimum and average. A filter of literal
identities (-I web1 -I web2) pings those servers directly and names those
that did not answer; any other filter broadcasts and waits --timeout.

--graph adds a sparkline of the response times in 50 ms buckets.

Exit status: 0 some answered (and, with -I names, all of them), 2 some
named servers did not answer, 3 usage, 4 nobody answered, 6 could not run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flt, err := filter.filter()
			if err != nil {
				return err
			}
			if timeout <= 0 {
				return usageErr("--timeout must be positive")
			}
			wait := time.Duration(timeout * float64(time.Second))
			ctx := cmd.Context()
			sess, err := client.connect(ctx, "", nil)
			if err != nil {
				return err
			}
			defer sess.close()
			w := cmd.OutOrStdout()
			show := func(r rpc.Received) {
				if !json {
					fmt.Fprintf(w, "%-40s time=%.2f ms\n", r.SenderID, float64(r.Elapsed.Microseconds())/1000)
				}
			}
			var (
				replies []rpc.Received
				missing []string
			)
			if ids, direct := flt.Identities(); direct {
				res, err := sess.client.Do(ctx, rpc.Call{Agent: "rpcutil", Action: "ping", Targets: ids, Timeout: wait, OnReply: show})
				if err != nil && res == nil {
					return callErr(err)
				}
				replies, missing = res.Replies, res.Stats.NoResponse
			} else {
				replies, err = sess.client.Broadcast(ctx, "rpcutil", "ping", nil, flt, wait, show)
				if err != nil && ctx.Err() == nil {
					return callErr(err)
				}
			}
			if err := printPing(w, replies, missing, json, graph); err != nil {
				return cannotRun(err)
			}
			switch {
			case len(missing) > 0:
				return exitError{exitNoResponse, fmt.Errorf("no response from %d of %d nodes", len(missing), len(missing)+len(replies))}
			case len(replies) == 0:
				return exitError{exitNoNodes, fmt.Errorf("no node answered")}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	filter.register(fs)
	fs.BoolVarP(&json, "json", "j", false, "print the replies and statistics as JSON")
	fs.BoolVarP(&graph, "graph", "g", false, "add a sparkline of the response times")
	fs.Float64VarP(&timeout, "timeout", "t", rpc.DefaultDiscoveryTimeout.Seconds(), "seconds to wait for answers")
	return withUsageExit(cmd)
}

// pingStats are ping's numbers, in milliseconds.
type pingStats struct {
	Replies int     `json:"replies"`
	MinMS   float64 `json:"min_ms"`
	MaxMS   float64 `json:"max_ms"`
	AvgMS   float64 `json:"avg_ms"`
}

func printPing(w io.Writer, replies []rpc.Received, missing []string, asJSON, graph bool) error {
	var times []float64
	var ds []time.Duration
	for _, r := range replies {
		times = append(times, float64(r.Elapsed.Microseconds())/1000)
		ds = append(ds, r.Elapsed)
	}
	st := pingStats{Replies: len(replies)}
	if len(times) > 0 {
		st.MinMS, st.MaxMS = slices.Min(times), slices.Max(times)
		for _, t := range times {
			st.AvgMS += t
		}
		st.AvgMS /= float64(len(times))
	}
	if asJSON {
		type reply struct {
			Sender string  `json:"sender"`
			TimeMS float64 `json:"time_ms"`
		}
		out := struct {
			Replies     []reply   `json:"replies"`
			NoResponses []string  `json:"no_responses"`
			Stats       pingStats `json:"stats"`
		}{Replies: []reply{}, NoResponses: missing, Stats: st}
		if out.NoResponses == nil {
			out.NoResponses = []string{}
		}
		for i, r := range replies {
			out.Replies = append(out.Replies, reply{r.SenderID, times[i]})
		}
		return render.JSON(w, out)
	}
	fmt.Fprintf(w, "\n---- ping statistics ----\n")
	if len(replies) == 0 {
		fmt.Fprintln(w, "No responses received")
	} else {
		line := fmt.Sprintf("%d replies max: %.2f min: %.2f avg: %.2f", st.Replies, st.MaxMS, st.MinMS, st.AvgMS)
		if graph {
			line += "  " + render.Sparkline(render.TimeBuckets(ds, 50*time.Millisecond))
		}
		fmt.Fprintln(w, line)
	}
	if len(missing) > 0 {
		fmt.Fprint(w, "\n"+render.NameList("No response from: ", missing, 78))
	}
	return nil
}
