package server

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Runner is the one lifecycle shape of every loadrig server: serve until
// ctx is done (or serving fails), then stop gracefully within grace and
// return why serving ended (nil after a clean stop).
type Runner interface {
	Run(ctx context.Context, grace time.Duration) error
}

// RunFunc adapts a function to Runner.
type RunFunc func(ctx context.Context, grace time.Duration) error

// Run calls f.
func (f RunFunc) Run(ctx context.Context, grace time.Duration) error { return f(ctx, grace) }

// Named is a Runner with the name its errors carry ("rest server: ...").
type Named struct {
	Name string
	Runner
}

// RunAll runs every server until ctx is done or one of them stops; then
// all stop, each within grace. The result joins each server's error,
// prefixed "<name> server: ".
func RunAll(ctx context.Context, grace time.Duration, servers ...Named) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(servers))
	done := make(chan int, len(servers))
	for i, s := range servers {
		go func() {
			errs[i] = s.Run(ctx, grace)
			cancel() // one stopping stops the others
			done <- i
		}()
	}
	for range servers {
		<-done
	}
	var out []error
	for i, err := range errs {
		if err != nil {
			out = append(out, fmt.Errorf("%s server: %w", servers[i].Name, err))
		}
	}
	return errors.Join(out...)
}
