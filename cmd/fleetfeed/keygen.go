package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"fleetfeed/feed"
	"fleetfeed/rpc"
	"fleetfeed/rpc/render"
)

func newKeygenCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "keygen [NAME]",
		Short: "Make the ed25519 key the RPC commands sign requests with",
		Long: `Make a key pair for the RPC commands: DIR/client.key (private, mode 0600),
which they sign requests with, and DIR/NAME.pub, to copy into each agent's
trusted_keys_dir so that agents accept requests from "user=NAME". NAME
defaults to $USER; the commands' --key-name and --caller default to it too.
It never overwrites a key.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := rpcUser()
			if len(args) > 1 {
				return usageErr("usage: fleetfeed keygen [NAME]")
			}
			if len(args) == 1 {
				name = args[0]
			}
			if err := rpc.CheckName(name); err != nil {
				return usageErr("key name: %w", err)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return cannotRun(err)
			}
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return cannotRun(err)
			}
			privPEM, err := rpc.MarshalPrivateKey(priv)
			if err != nil {
				return cannotRun(err)
			}
			pubPEM, err := rpc.MarshalPublicKey(pub)
			if err != nil {
				return cannotRun(err)
			}
			keyPath, pubPath := filepath.Join(dir, "client.key"), filepath.Join(dir, name+".pub")
			for _, p := range []string{keyPath, pubPath} {
				if _, err := os.Stat(p); err == nil {
					return cannotRun(fmt.Errorf("%s exists; not overwriting it: %w", p, fs.ErrExist))
				}
			}
			if err := writeExclusive(keyPath, privPEM, 0o600); err != nil {
				return cannotRun(err)
			}
			if err := writeExclusive(pubPath, pubPEM, 0o644); err != nil {
				return cannotRun(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Private key: %s\nPublic key:  %s (copy it into the agents' trusted_keys_dir)\n", keyPath, pubPath)
			if name != rpcUser() {
				fmt.Fprintf(w, "Sign as %[1]s with: --key-name %[1]s --caller user=%[1]s (or FLEETFEED_KEY_NAME / FLEETFEED_CALLER)\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", rpcConfigDir(), "directory to write the keys to")
	return withUsageExit(cmd)
}

func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newRepliesCommand() *cobra.Command {
	var (
		dbPath string
		after  int64
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "replies REQUESTID",
		Short: "Show the stored replies of a request sent with rpc --async",
		Long: `Read the replies the server's listener stored for an asynchronous request
(fleetfeed rpc … --async), a page at a time, from the server's database.
--after takes the "next" cursor a previous page printed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("usage: fleetfeed replies REQUESTID --db FILE")
			}
			if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
				return cannotRun(fmt.Errorf("--db %s: %w", dbPath, err))
			}
			db := feed.NewDB(dbPath)
			if err := db.Open(); err != nil {
				return cannotRun(err)
			}
			defer db.Close()
			store := &rpc.SQLiteReplyStore{DB: db}
			page, err := store.List(cmd.Context(), args[0], rpc.Page{After: after, Limit: limit})
			if err != nil {
				return cannotRun(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return render.JSON(w, page)
			}
			if r := page.Request; r != nil {
				fmt.Fprintf(w, "Request %s: %s#%s by %s at %s to %d nodes\n\n", r.ID, r.Agent, r.Action, r.Caller,
					r.Created.Format(time.RFC3339), len(r.Targets))
			}
			for _, r := range page.Replies {
				fmt.Fprintf(w, "%-40s %-14s %s  %s\n", r.Sender, rpc.StatusCode(r.StatusCode), r.Received.Format(time.RFC3339),
					r.StatusMsg)
			}
			fmt.Fprintf(w, "\n%d of %d replies", len(page.Replies), page.Total)
			if page.Next != 0 {
				fmt.Fprintf(w, "; next page: --after %d", page.Next)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dbPath, "db", rpcEnv("FLEETFEED_DB", "fleetfeed.db"), "the server's database file ($FLEETFEED_DB)")
	fs.Int64Var(&after, "after", 0, "cursor: show replies after this one")
	fs.IntVar(&limit, "limit", rpc.DefaultPageSize, "replies per page")
	fs.BoolVarP(&asJSON, "json", "j", false, "print the page as JSON")
	return withUsageExit(cmd)
}
