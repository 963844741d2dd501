package cmdutil

import (
	"errors"
	"fmt"
)

// FlagError is bad user input: an unknown flag, a malformed value, a missing
// argument, an unreadable config file. cli.Main prints it as one line with a
// pointer to --help and exits 2. Its message should say what was wrong and
// how to fix it.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap marks err as a usage error (nil stays nil).
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return err
	}
	return &FlagError{Err: err}
}

// ErrInterrupted is returned by a command that was stopped by a signal after
// it finished what it could (e.g. printed and wrote a partial result).
// cli.Main exits 130 for it, as it does for context.Canceled.
var ErrInterrupted = errors.New("interrupted")

// ThresholdError means the command worked but a threshold or regression
// check it was asked to make failed. cli.Main exits 3.
type ThresholdError struct{ Err error }

func (e *ThresholdError) Error() string { return e.Err.Error() }
func (e *ThresholdError) Unwrap() error { return e.Err }

// SilentError wraps an error that the command has already reported in full;
// cli.Main exits 1 without printing it again.
type SilentError struct{ Err error }

func (e *SilentError) Error() string { return e.Err.Error() }
func (e *SilentError) Unwrap() error { return e.Err }
