// Package cmdflags is a profile's view of loadrig's own commands. It builds
// the real `loadrig serve` and `loadrig load` command trees (the same
// constructors the root command uses) and implements profile.Flags over
// them: a profile's server and workload options are long flags of those
// commands, parsed and validated by the commands themselves, so profile
// and CLI cannot drift. A server kind or load protocol added to serve or
// load (one AddCommand line there) is accepted by profiles with no change
// here.
//
// Checking runs a command in a dry-run context (cmdutil.WithDryRun) that
// is also canceled: the command validates its flags and arguments and
// returns cmdutil.ErrDryRun where it would start a stack or a run. A
// failure that needs the target (a gRPC driver that asks the server for
// its schema) is not a profile error: it is left for the run.
//
// Tree is also how `loadrig run` executes a workload or a server in
// process: the command as a user would type it.
package cmdflags
