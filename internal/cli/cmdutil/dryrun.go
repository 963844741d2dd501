package cmdutil

import (
	"context"
	"errors"
)

// ErrDryRun is what a command returns in a dry-run context (WithDryRun)
// once its flags and arguments are checked, at the point where it would
// start something: a load run, a server stack. `loadrig run` and `profiles
// validate` check a profile's options through the real commands this way.
var ErrDryRun = errors.New("dry run: checked, not started")

type dryRunKey struct{}

// WithDryRun returns ctx marked as a dry run.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

// IsDryRun reports whether ctx is a dry run: the command must return
// ErrDryRun before starting anything.
func IsDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}
