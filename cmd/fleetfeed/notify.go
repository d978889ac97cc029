package main

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newNotifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Send a notification from a monitoring system",
	}
	cmd.AddCommand(newNotifyNagiosCommand())
	return cmd
}

func newNotifyNagiosCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "nagios",
		Short: "Post the Nagios notification in this process's NAGIOS_* environment",
		Long: `Post the notification Nagios describes in its NAGIOS_* environment macros.

Use it as the notification command itself, with enable_environment_macros=1
in nagios.cfg:

    define command {
        command_name notify-fleetfeed
        command_line /usr/local/bin/fleetfeed notify nagios --server http://fleetfeed:8080
    }

The ingest token comes from --token or $FLEETFEED_INGEST_TOKEN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			form := nagiosEnvironment(os.Environ())
			if len(form) == 0 {
				return fmt.Errorf("no NAGIOS_* variables in the environment: is enable_environment_macros=1 set in nagios.cfg?")
			}
			ans, err := postIngest(cmd.Context(), f, "nagios", "", "application/x-www-form-urlencoded", []byte(form.Encode()))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "posted: %v new, %v folded\n", count(ans["posts"]), count(ans["folded"]))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// nagiosEnvironment keeps the non-empty NAGIOS_* variables of env.
func nagiosEnvironment(env []string) url.Values {
	form := url.Values{}
	sort.Strings(env)
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "NAGIOS_") && v != "" {
			form.Set(k, v)
		}
	}
	return form
}

func count(v any) int {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	return 0
}
