package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newPuppetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "puppet",
		Short: "Orchestrate Puppet runs across the fleet",
	}
	cmd.AddCommand(newPuppetRunAllCommand())
	return cmd
}

func newPuppetRunAllCommand() *cobra.Command {
	var (
		client      clientFlags
		filter      filterFlags
		disc        discoveryFlags
		interval    float64
		maxChecks   int
		timeout     float64
		noop        bool
		tags        string
		environment string
	)
	cmd := &cobra.Command{
		Use:   "runall N",
		Short: "Run Puppet on every selected server, N at a time",
		Long: `Run Puppet once on every enabled server the filter selects, keeping at most N
of them applying a catalog at a time (servers already applying one of their
own count), as mcollective-puppet-agent's runall: start forced runs while
fewer than N apply, poll "puppet status" every --interval seconds, and start
the next server when one finishes.

Exit status: 0 every enabled server ran, 1 some runs failed or were given
up, 2 some servers did not answer, 3 usage, 4 none found, 5 interrupted,
6 could not run. Disabled servers are skipped and reported.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("usage: fleetfeed puppet runall N")
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return usageErr("runall %q: N must be a number of servers, at least 1", args[0])
			}
			flt, err := filter.filter()
			if err != nil {
				return err
			}
			d, err := disc.discoverer(cmd.InOrStdin(), &filter)
			if err != nil {
				return err
			}
			data := map[string]any{}
			if cmd.Flags().Changed("noop") {
				data["noop"] = noop
			}
			if tags != "" {
				data["tags"] = tags
			}
			if environment != "" {
				data["environment"] = environment
			}
			ctx := cmd.Context()
			sess, err := client.connect(ctx, "", nil)
			if err != nil {
				return err
			}
			defer sess.close()
			w := cmd.OutOrStdout()
			res, err := rpc.RunAll(ctx, sess.client, rpc.RunAllOptions{
				Concurrency: n, Filter: flt, Discoverer: d, DiscoveryTimeout: disc.timeout(), Data: data,
				Interval: time.Duration(interval * float64(time.Second)), MaxChecks: maxChecks,
				Timeout: time.Duration(timeout * float64(time.Second)),
				OnEvent: func(e rpc.RunAllEvent) {
					msg := ""
					if e.Message != "" {
						msg = ": " + e.Message
					}
					fmt.Fprintf(w, "%s %-40s %-8s %d applying, %d / %d done%s\n",
						time.Now().Format("15:04:05"), e.Node, e.Kind, e.Running, e.Done, e.Total, msg)
				},
			})
			if err != nil {
				return callErr(err)
			}
			fmt.Fprintf(w, "\nPuppet ran on %d / %d servers in %s (at most %d applying at once)\n",
				len(res.Finished), len(res.Nodes)-len(res.Skipped), res.Elapsed.Round(time.Millisecond), res.MaxRunning)
			noAnswer := 0
			for _, why := range res.Skipped {
				if why == rpc.SkipNoAnswer {
					noAnswer++
				}
			}
			if len(res.Skipped) > 0 {
				fmt.Fprint(w, "\n"+render.NameList("Skipped: ", slices.Sorted(maps.Keys(res.Skipped)), 78))
			}
			if len(res.Failed) > 0 {
				fmt.Fprint(w, "\n"+render.NameList("Failed: ", slices.Sorted(maps.Keys(res.Failed)), 78))
			}
			if len(res.NotRun)+len(res.StillRunning) > 0 {
				fmt.Fprint(w, "\n"+render.NameList("Interrupted; not run: ", res.NotRun, 78))
				return exitError{exitInterrupted, fmt.Errorf("interrupted: %d servers not run", len(res.NotRun))}
			}
			switch {
			case noAnswer > 0:
				return exitError{exitNoResponse, fmt.Errorf("%d servers did not answer", noAnswer)}
			case len(res.Failed) > 0:
				return exitError{exitFailed, fmt.Errorf("%d runs failed", len(res.Failed))}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	filter.register(fs)
	disc.register(fs)
	fs.Float64Var(&interval, "interval", 1, "seconds between status polls")
	fs.IntVar(&maxChecks, "max-checks", 5, "polls a server may go without showing its run before it is given up")
	fs.Float64VarP(&timeout, "timeout", "t", 10, "seconds to wait for each status or runonce answer")
	fs.BoolVar(&noop, "noop", false, "do no-op runs")
	fs.StringVar(&tags, "tags", "", "restrict the runs to these tags (comma separated)")
	fs.StringVar(&environment, "environment", "", "Puppet environment to use")
	return withUsageExit(cmd)
}
