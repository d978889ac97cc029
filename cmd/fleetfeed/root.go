package main

import (
	"io"

	"github.com/spf13/cobra"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "fleetfeed",
		Short:         "A social network for servers",
		Long:          "fleetfeed turns what happens to your servers into a plain-language timeline, and lets operators act on them.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCommand(),
		newAgentCommand(),
		newNotifyCommand(),
		newIngestCommand(),
		newUserCommand(),
		newNodesCommand(),
		newRPCCommand(),
		newPingCommand(),
		newFindCommand(),
		newInventoryCommand(),
		newFactsCommand(),
		newPuppetCommand(),
		newPlotCommand(),
		newKeygenCommand(),
		newRepliesCommand(),
	)
	return root
}
