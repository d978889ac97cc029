package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newPlotCommand() *cobra.Command {
	var (
		client  clientFlags
		filter  filterFlags
		disc    discoveryFlags
		req     requestFlags
		out     outputFlags
		opts    render.PlotOptions
		line    bool
		buckets int
	)
	cmd := &cobra.Command{
		Use:   "plot AGENT ACTION OUTPUT [INPUT=VALUE ...]",
		Short: "Plot how a numeric output of an action is spread across the fleet",
		Long: `Run an action on the servers the filter selects and draw a text plot of how
many servers (y) had each range of values (x) of one numeric output: a
histogram, or a line with --line. The title and axis labels come from the
DDL: the output's description and display name.

  fleetfeed plot puppet last_run_summary total_time
  fleetfeed plot rpcutil daemon_stats threads -C roles::database --line

Exit status as for fleetfeed rpc.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usageErr("usage: fleetfeed plot AGENT ACTION OUTPUT [INPUT=VALUE ...]")
			}
			ddls, err := client.ddls()
			if err != nil {
				return cannotRun(err)
			}
			act, err := lookupAction(ddls, args[0], args[1])
			if err != nil {
				return err
			}
			output := args[2]
			if act != nil {
				o := act.Output[output]
				if o == nil {
					return usageErr("%s#%s has no output %q", args[0], args[1], output)
				}
				if opts.Title == "" {
					opts.Title = o.Description
				}
				if opts.XLabel == "" {
					opts.XLabel = o.DisplayAs
				}
			}
			if opts.XLabel == "" {
				opts.XLabel = output
			}
			data, err := parseInputs(act, args[3:])
			if err != nil {
				return err
			}
			call, err := newCall(cmd.InOrStdin(), &filter, &disc, &req)
			if err != nil {
				return err
			}
			call.Agent, call.Action, call.Data = args[0], args[1], data
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
			values := numericValues(res, output)
			opts.Buckets, opts.Kind = buckets, render.PlotHistogram
			if line {
				opts.Kind = render.PlotLine
			}
			w := cmd.OutOrStdout()
			if out.JSON || out.JSONL {
				if err := render.JSON(w, map[string]any{"output": output, "values": values, "counts": render.Buckets(values, buckets),
					"stats": render.NewJSONStats(&res.Stats)}); err != nil {
					return cannotRun(err)
				}
			} else {
				opts.Values = values
				if err := render.Plot(w, opts); err != nil {
					return cannotRun(err)
				}
				fmt.Fprintln(w)
				if err := render.Replies(w, act, res.Replies, render.DisplayFailed); err != nil {
					return cannotRun(err)
				}
				if err := render.Stats(w, &res.Stats, out.Verbose); err != nil {
					return cannotRun(err)
				}
			}
			if err := statsErr(&res.Stats); err != nil {
				return err
			}
			if len(values) == 0 {
				return exitError{exitFailed, fmt.Errorf("no numeric values of %s in %d replies", output, len(res.Replies))}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	filter.register(fs)
	disc.register(fs)
	req.register(fs)
	out.register(fs, false)
	fs.BoolVar(&line, "line", false, "draw a line instead of bars")
	fs.IntVar(&buckets, "buckets", 20, "number of value ranges")
	fs.IntVar(&opts.Width, "width", 60, "width of the plot in characters")
	fs.IntVar(&opts.Height, "height", 15, "height of the plot in lines")
	fs.StringVar(&opts.Title, "title", "", "title (default: the output's description)")
	fs.StringVar(&opts.XLabel, "xlabel", "", "x axis label (default: the output's display name)")
	fs.StringVar(&opts.YLabel, "ylabel", "Nodes", "y axis label")
	return withUsageExit(cmd)
}

// numericValues are the numbers the successful replies give for output.
func numericValues(res *rpc.Result, output string) []float64 {
	values := []float64{}
	for _, r := range res.Replies {
		if r.StatusCode != rpc.StatusOK {
			continue
		}
		if f, ok := numberValue(r.Data[output]); ok {
			values = append(values, f)
		}
	}
	return values
}

func numberValue(v any) (float64, bool) {
	switch x := v.(type) {
	case interface{ Float64() (float64, error) }:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
