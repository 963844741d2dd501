package loadcmd

import (
	"context"

	"github.com/loadrig/loadrig/internal/metrics"
)

// Hook lets a command that runs load commands for the user (loadrig run,
// compare) see and label each result, whatever the protocol: every
// protocol's run ends in Execute, which calls it.
type Hook struct {
	// Annotate is called with the finished result before it is written
	// (-o) and printed, so what it sets (variant, repetition, plan hash) is
	// in the file. May be nil.
	Annotate func(*metrics.Result)
}

type hookKey struct{}

// WithHook returns ctx carrying h for the load command run under it.
func WithHook(ctx context.Context, h *Hook) context.Context {
	return context.WithValue(ctx, hookKey{}, h)
}

func hookFrom(ctx context.Context) *Hook {
	h, _ := ctx.Value(hookKey{}).(*Hook)
	return h
}
