// Command loadrig is a load generator with reference servers to aim it at.
// Everything lives in internal/cli; this file only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/loadrig/loadrig/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a graceful stop (in-flight work gets its
	// grace period, partial results are written); restoring the default
	// handlers then lets a second Ctrl-C end the process at once.
	context.AfterFunc(ctx, stop)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(int(code))
}
