// Package profile reads loadrig profiles: small YAML files that describe a
// comparison and turns them into plans the CLI executes. There are two
// formats, both `version: 1`:
//
// The general format (spec.go, specplan.go; `loadrig run`, `compare`,
// `profiles`): named servers, variants or a matrix, and workloads that run
// at once. A server's and a workload's options are the long flags of
// `loadrig serve KIND` and `loadrig load PROTOCOL`; ParseSpec checks them
// through a Flags implementation that the CLI builds over its real cobra
// commands (internal/cli/cmdflags), so profile and command line cannot
// drift and a server kind or protocol added to the CLI needs no change
// here. The package parses YAML node by node (positions for every error:
// file:line:col, unknown keys with a did-you-mean); Spec.Plan resolves a
// variant to command arguments with ${vars.X} and ${env.X} substituted,
// ${servers.NAME} left for RunPlan.Resolve once the servers listen, and
// {{...}} templates untouched for the load commands. RunPlan.Hash names
// the plan in result files (plan_hash).
//
// The demo format (profile.go, plan.go): `loadrig demo` runs the embedded
// profiles/demo.yaml, one workload mix against cache variants of the REST
// server, decoded with KnownFields into Profile.
//
// A profile may also carry a protocols section (protocols.go): instead of
// varying the server under one workload, it keeps one server stack and
// compares REST/JSON with gRPC/protobuf on a grid of operations (get, list)
// and payload sizes, each cell a closed-model run of its own. It resolves
// to Plan.Protocols; the CLI maps its operations to the HTTP and gRPC
// drivers. The graphql and realtime sections (sections.go) likewise set
// the store, rates, durations and client counts of the demo's GraphQL and
// realtime comparisons, whose queries and transports the demo fixes; they
// resolve to Plan.GraphQL and Plan.Realtime. A section a profile leaves
// out is skipped by the demo.
//
// Parsing is strict: an unknown key, a value of the wrong type, a bad
// duration or an unknown enum value is an error naming the file and line
// ("demo.yaml:14: workload.rate must be > 0"), never a silent default.
// Cross-field checks (rate vs concurrency, weights, duplicate variant names)
// also point at the line of the offending key.
//
// The package is on the instrument's side: it builds load.Config values and
// plain-data descriptions of operations and server settings, and imports
// neither the servers nor the protocol drivers; internal/cli maps a plan's
// server settings to a server stack and its operations to drivers.
//
// Mix is the protocol-neutral piece that lets one load.Run drive several
// kinds of operation (90 % GET, 10 % PATCH): a load.Driver whose workers
// pick a sub-driver per operation by a deterministic weighted hash of the
// operation's sequence number, so a run is reproducible and every engine
// guarantee (schedule, latency from intended start, one histogram per
// worker) holds for the mix as a whole.
package profile
