package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newFindCommand() *cobra.Command {
	var (
		client clientFlags
		filter filterFlags
		disc   discoveryFlags
		json   bool
	)
	cmd := &cobra.Command{
		Use:   "find",
		Short: "List the servers a filter selects (discovery only)",
		Long: `Discover the servers a filter selects and print their identities, one a
line, sorted. Unlike other commands, find always asks the discovery method,
even for literal -I names: "fleetfeed find -I web1" says whether web1 is up.

-j prints {"nodes": [...], "discovery_method": ..., "discovery_ms": ...},
which other commands read from stdin as their list of servers.

Exit status: 0 some found, 3 usage, 4 none found, 6 could not run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flt, err := filter.filter()
			if err != nil {
				return err
			}
			d, err := disc.discoverer(cmd.InOrStdin(), &filter)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var nodes []string
			start := time.Now()
			if dd, ok := d.(*rpc.NodeList); ok {
				nodes, err = dd.Discover(ctx, "", flt)
			} else {
				sess, cerr := client.connect(ctx, "", nil)
				if cerr != nil {
					return cerr
				}
				defer sess.close()
				if d == nil {
					d = &rpc.BroadcastDiscovery{Client: sess.client, Timeout: disc.timeout()}
				}
				nodes, err = d.Discover(ctx, "", flt)
			}
			if err != nil {
				return callErr(err)
			}
			elapsed := time.Since(start)
			slices.Sort(nodes)
			w := cmd.OutOrStdout()
			if json {
				out := struct {
					Nodes       []string `json:"nodes"`
					Method      string   `json:"discovery_method"`
					DiscoveryMS float64  `json:"discovery_ms"`
				}{Nodes: nodes, Method: discoveryName(d), DiscoveryMS: float64(elapsed.Microseconds()) / 1000}
				if out.Nodes == nil {
					out.Nodes = []string{}
				}
				if err := render.JSON(w, out); err != nil {
					return cannotRun(err)
				}
			} else {
				for _, n := range nodes {
					fmt.Fprintln(w, n)
				}
			}
			if len(nodes) == 0 {
				return exitError{exitNoNodes, fmt.Errorf("%s discovery: %w", discoveryName(d), rpc.ErrNoNodes)}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	filter.register(fs)
	disc.register(fs)
	fs.BoolVarP(&json, "json", "j", false, "print the list as JSON")
	return withUsageExit(cmd)
}

func discoveryName(d rpc.Discoverer) string {
	if d == nil {
		return "broadcast"
	}
	return d.Method()
}
