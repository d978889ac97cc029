package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"fleetfeed/feed"
	"fleetfeed/timeline/people"
)

// newUserCommand is `fleetfeed user`: accounts, from the command line, on
// the database file itself (the server need not run).
func newUserCommand() *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage user accounts",
		Long: `Manage the accounts that sign in to fleetfeed's web page.

Passwords are read from standard input: typed twice at a hidden prompt
when it is a terminal, else its first line (printf '%s\n' "$PW" | fleetfeed user add …).`,
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", DefaultServeConfig().DB, "SQLite database file")
	withStore := func(run func(ctx context.Context, cmd *cobra.Command, s *people.Store, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			db := feed.NewDB(dbPath)
			if err := db.Open(); err != nil {
				return err
			}
			defer db.Close()
			return run(cmd.Context(), cmd, &people.Store{DB: db}, args)
		}
	}

	var role, email string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, s *people.Store, args []string) error {
			r, err := people.ParseRole(role)
			if err != nil {
				return errors.New(feed.ErrorMessage(err))
			}
			pw, err := readPassword(cmd, "Password for "+args[0])
			if err != nil {
				return err
			}
			u, err := s.Create(ctx, people.NewUser{Name: args[0], Password: pw, Role: r, Email: email})
			if err != nil {
				return userError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s)\n", u.Name, u.Role)
			return nil
		}),
	}
	add.Flags().StringVar(&role, "role", string(people.RoleViewer), "role: viewer, operator or admin")
	add.Flags().StringVar(&email, "email", "", "e-mail address for notifications")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, s *people.Store, _ []string) error {
			users, err := s.List(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tE-MAIL\tCREATED")
			for _, u := range users {
				email := u.Email
				if email == "" {
					email = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Role, email, u.CreatedAt.Format("2006-01-02"))
			}
			return w.Flush()
		}),
	}

	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (and sign them out everywhere)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, s *people.Store, args []string) error {
			u, err := s.ByName(ctx, args[0])
			if err != nil {
				return userError(err)
			}
			pw, err := readPassword(cmd, "New password for "+u.Name)
			if err != nil {
				return err
			}
			if err := s.SetPassword(ctx, u.ID, pw); err != nil {
				return userError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", u.Name)
			return nil
		}),
	}

	roleCmd := &cobra.Command{
		Use:   "role NAME ROLE",
		Short: "Set a user's role: viewer, operator or admin",
		Args:  cobra.ExactArgs(2),
		RunE: withStore(func(ctx context.Context, cmd *cobra.Command, s *people.Store, args []string) error {
			u, err := s.ByName(ctx, args[0])
			if err != nil {
				return userError(err)
			}
			r, err := people.ParseRole(args[1])
			if err != nil {
				return userError(err)
			}
			if err := s.SetRole(ctx, u.ID, r); err != nil {
				return userError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", u.Name, r)
			return nil
		}),
	}
	cmd.AddCommand(add, list, passwd, roleCmd)
	return cmd
}

// userError shows an application error's message alone.
func userError(err error) error {
	var fe *feed.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Message)
	}
	return err
}

// readPassword reads a password: at a hidden prompt, twice, when standard
// input is a terminal; else the first line of standard input.
func readPassword(cmd *cobra.Command, prompt string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		out := cmd.ErrOrStderr()
		fmt.Fprint(out, prompt+": ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(out, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
