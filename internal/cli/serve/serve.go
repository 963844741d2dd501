package serve

import (
	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
)

// NewCmdServe returns `loadrig serve`, the parent of the reference servers.
// Add a protocol with one AddCommand line here.
func NewCmdServe(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve <protocol> [flags]",
		Short: "Run a reference server (the experiment) over the slow store and a cache",
		Long: `Run one of loadrig's reference servers: a shop API over a seeded store —
in memory with a simulated latency (default), a SQLite file
(--store sqlite:PATH) or Postgres (--store postgres://...) — with a
selectable cache (in-process LRU or TinyLFU, or Redis) and write strategy
(cache-aside, write-through, write-behind). Aim 'loadrig load' at it to see
what each choice does to latency and store load.

A Redis-backed option without --redis-url spawns redis-server from PATH on a
unix socket in a private folder (persistent beside the database for
write-behind over SQLite or Postgres), or uses embedded miniredis when there
is none; the log and /stats (redis_mode, write_behind.loss_window) say which.`,
		Example: `  # the REST server with an in-process LRU cache, on 127.0.0.1:8080
  loadrig serve rest --cache lru

  # Redis cache-aside on a free port (the bound address is printed)
  loadrig serve rest --addr 127.0.0.1:0 --cache redis`,
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdServeREST(f, nil))
	cmd.AddCommand(NewCmdServeGRPC(f, nil))
	cmd.AddCommand(NewCmdServeWS(f, nil))
	cmd.AddCommand(NewCmdServeAll(f, nil))
	return cmd
}
