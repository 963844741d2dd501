// Package runner executes a resolved profile plan (profile.RunPlan) the way
// a user would by hand: each server is `loadrig serve KIND` (a child
// process of the same binary, or in process), each workload is `loadrig
// load PROTOCOL TARGET` with the profile's options as flags, all workloads
// at once. `loadrig run` and `loadrig compare` are built on it.
//
// Servers listen on 127.0.0.1:0: every listen-address flag of the serve
// command (addr, *-addr) is set to it, and the server prints one
// "loadrig NAME listening on ADDR" line per listener; those lines are what
// ${servers.NAME} and ${servers.NAME.LISTENER} resolve to (the first line,
// and the line whose NAME is LISTENER with spaces as dashes: grpc,
// grpc-admin). Nothing here knows a server kind or protocol by name.
//
// Results are labelled through loadcmd.Hook before they are written:
// variant, repetition, plan hash and, for sharded runs, the shard.
package runner
