package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"fleetfeed/feed"
	"fleetfeed/nodes"
)

// newNodesCommand is `fleetfeed nodes`: server profiles.
func newNodesCommand() *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "Manage server profiles",
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", DefaultServeConfig().DB, "SQLite database file")
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update server profiles from a YAML or JSON file",
		Long: `Create or update server profiles from a nodes file: a YAML (or JSON)
list of servers, or a map from handle to server, with the fields handle,
display_name, bio, contact, location {datacenter, latitude, longitude},
aliases and classes. Fields left out are left as they are.

Every entry is checked first, and every bad one reported by line; then all
of them are applied in one transaction, or none.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			entries, err := nodes.ParseNodesFile(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], userError(err))
			}
			db := feed.NewDB(dbPath)
			if err := db.Open(); err != nil {
				return err
			}
			defer db.Close()
			created, updated, err := (&nodes.Store{DB: db}).UpsertAll(cmd.Context(), entries)
			if err != nil {
				return userError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d servers: %d created, %d updated\n", len(entries), created, updated)
			return nil
		},
	}
	cmd.AddCommand(imp)
	return cmd
}
