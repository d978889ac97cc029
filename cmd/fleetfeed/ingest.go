package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"fleetfeed/translators"
)

func newIngestCommand() *cobra.Command {
	var (
		f           serverFlags
		contentType string
		node        string
	)
	cmd := &cobra.Command{
		Use:   "ingest SOURCE FILE|-",
		Short: "Send a file of events to the server",
		Long: `Send a file (or standard input) of one source's events to the server's
ingest endpoint, e.g. a Suricata eve.json or a Puppet report.

Sources: puppet, nagios, icinga2, suricata, snort, wazuh, ossec, fail2ban, events.`,
		Example: `  fleetfeed ingest suricata /var/log/suricata/eve.json
  fleetfeed ingest fail2ban --node web01 /var/log/fail2ban.log`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			source, path := args[0], args[1]
			var (
				body []byte
				err  error
			)
			if path == "-" {
				body, err = io.ReadAll(cmd.InOrStdin())
			} else {
				body, err = os.ReadFile(path)
			}
			if err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			if contentType == "" {
				contentType = defaultContentType(source, body)
			}
			q := url.Values{}
			if node != "" {
				q.Set("node", node)
			}
			ans, err := postIngest(cmd.Context(), f, source, q.Encode(), contentType, body)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%v events: %d new posts, %d folded, %v duplicates\n",
				ans["events"], count(ans["posts"]), count(ans["folded"]), ans["duplicates"])
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&contentType, "content-type", "", "media type of the file (guessed from the source when empty)")
	cmd.Flags().StringVar(&node, "node", "", "server to credit when the events name none")
	return cmd
}

// defaultContentType guesses the media type a source's file is sent as.
func defaultContentType(source string, body []byte) string {
	switch source {
	case translators.SourcePuppet:
		if len(body) > 0 && body[0] == '{' {
			return "application/json"
		}
		return "application/x-yaml"
	case translators.SourceNagios, translators.SourceFail2ban:
		if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
			return "application/json"
		}
		if source == translators.SourceFail2ban && !looksLikeForm(body) {
			return "text/plain"
		}
		return "application/x-www-form-urlencoded"
	case translators.SourceSnort, translators.SourceOSSEC, translators.SourceSuricata:
		if len(body) > 0 && body[0] != '{' {
			return "text/plain"
		}
		return "application/x-ndjson"
	}
	return "application/x-ndjson"
}

// looksLikeForm reports whether body is a form-encoded payload (one line of
// key=value pairs, no spaces) rather than log lines.
func looksLikeForm(body []byte) bool {
	s := strings.TrimSpace(string(body))
	return s != "" && !strings.ContainsAny(s, " \n\t") && strings.Contains(s, "=")
}
