package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newInventoryCommand() *cobra.Command {
	var (
		client  clientFlags
		json    bool
		timeout float64
	)
	cmd := &cobra.Command{
		Use:   "inventory NODE",
		Short: "Show what one server runs: agents, classes, facts and daemon statistics",
		Long: `Ask one server, directly, for its inventory (rpcutil inventory) and its
agent's statistics (rpcutil daemon_stats) and print them. Nested facts are
shown by their dotted paths, as -F and -S name them.

Exit status: 0, 2 the server did not answer, 3 usage, 6 could not run.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("usage: fleetfeed inventory NODE")
			}
			node := args[0]
			if err := rpc.CheckName(node); err != nil {
				return usageErr("node: %w", err)
			}
			ctx := cmd.Context()
			sess, err := client.connect(ctx, "", nil)
			if err != nil {
				return err
			}
			defer sess.close()
			wait := time.Duration(timeout * float64(time.Second))
			ask := func(action string) (map[string]any, error) {
				res, err := sess.client.Do(ctx, rpc.Call{Agent: "rpcutil", Action: action, Targets: []string{node}, Timeout: wait})
				if err != nil {
					return nil, callErr(err)
				}
				if len(res.Replies) == 0 {
					return nil, exitError{exitNoResponse, fmt.Errorf("no response from %s", node)}
				}
				if r := res.Replies[0]; r.StatusCode != rpc.StatusOK {
					return nil, exitError{exitFailed, fmt.Errorf("%s: %s", node, r.StatusMsg)}
				}
				return res.Replies[0].Data, nil
			}
			inv, err := ask("inventory")
			if err != nil {
				return err
			}
			stats, err := ask("daemon_stats")
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if json {
				return render.JSON(w, map[string]any{"identity": node, "inventory": inv, "daemon_stats": stats})
			}
			printInventory(w, node, inv, stats)
			return nil
		},
	}
	fs := cmd.Flags()
	client.register(fs)
	fs.BoolVarP(&json, "json", "j", false, "print the inventory as JSON")
	fs.Float64VarP(&timeout, "timeout", "t", 10, "seconds to wait for the answer")
	return withUsageExit(cmd)
}

func printInventory(w io.Writer, node string, inv, stats map[string]any) {
	fmt.Fprintf(w, "Inventory for %s:\n\n", node)
	fmt.Fprintf(w, "   Server Statistics:\n")
	start := render.Value(stats["starttime"])
	if n, ok := stats["starttime"].(interface{ Int64() (int64, error) }); ok {
		if s, err := n.Int64(); err == nil {
			start = time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05 UTC")
		}
	}
	for _, row := range [][2]string{
		{"Version", render.Value(inv["version"])},
		{"Start Time", start},
		{"Config File", render.Value(stats["configfile"])},
		{"Collectives", render.Value(inv["collectives"])},
		{"Main Collective", render.Value(inv["main_collective"])},
		{"Process ID", render.Value(stats["pid"])},
		{"Total Messages", render.Value(stats["total"])},
		{"Messages Passed Filters", render.Value(stats["passed"])},
		{"Messages Filtered", render.Value(stats["filtered"])},
		{"Expired Messages", render.Value(stats["ttlexpired"])},
		{"Replies Sent", render.Value(stats["replies"])},
	} {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%29s: %s", row[0], row[1]), " "))
	}
	list := func(title string, v any) {
		fmt.Fprintf(w, "\n   %s:\n", title)
		items, _ := v.([]any)
		var names []string
		for _, i := range items {
			names = append(names, render.Value(i))
		}
		slices.Sort(names)
		if len(names) == 0 {
			fmt.Fprintln(w, "      (none)")
			return
		}
		fmt.Fprint(w, nameColumns(names, 6, 78))
	}
	list("Agents", inv["agents"])
	list("Configuration Management Classes", inv["classes"])
	fmt.Fprintf(w, "\n   Facts:\n")
	facts, _ := inv["facts"].(map[string]any)
	flat := map[string]string{}
	flattenFacts("", facts, flat)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "      %s => %s\n", k, flat[k])
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "      (none)")
	}
}

// flatten writes nested facts under their dotted paths.
func flattenFacts(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenFacts(p, e, out)
		}
	default:
		if prefix != "" {
			out[prefix] = render.Value(v)
		}
	}
}

// columns lays names out in columns indented by indent, within width.
func nameColumns(names []string, indent, width int) string {
	colw := 0
	for _, n := range names {
		colw = max(colw, len(n)+2)
	}
	per := max(1, (width-indent)/colw)
	var b strings.Builder
	for i, n := range names {
		if i%per == 0 {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(strings.Repeat(" ", indent))
		}
		if i%per == per-1 || i == len(names)-1 {
			b.WriteString(n)
		} else {
			fmt.Fprintf(&b, "%-*s", colw, n)
		}
	}
	b.WriteString("\n")
	return b.String()
}
