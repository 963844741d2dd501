package loadcmd

import (
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdLoad returns `loadrig load`, the parent of the protocol commands.
func NewCmdLoad(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load <protocol> TARGET [flags]",
		Short: "Drive load at a target and measure it",
		Long: `Drive load at a target with one protocol and measure latency, throughput,
errors and connections.

Load models:
  open    --rate R (operations/s in total) or --stages; every operation has an
          intended start and latency is measured from it, so a stalled server
          cannot hide. At most --max-inflight operations run at once; when the
          cap is reached sends are late, never skipped.
  closed  --concurrency N workers, each starting its next operation when the
          last one ends (optionally after --think-time). Latency is service
          time. The default: 50 workers.`,
		Example: `  loadrig load http --rate 1000 -d 30s http://127.0.0.1:8080/hello
  loadrig load http -c 50 -n 10000 http://127.0.0.1:8080/hello`,
	}
	cmdutil.GroupCommand(cmd)
	// Protocol subcommands, one line each.
	cmd.AddCommand(NewCmdHTTP(f, nil))
	cmd.AddCommand(NewCmdGRPC(f, nil))
	cmd.AddCommand(NewCmdGraphQL(f, nil))
	cmd.AddCommand(NewCmdWS(f, nil), NewCmdSSE(f, nil), NewCmdPoll(f, nil))
	return cmd
}
