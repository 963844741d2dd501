// Package gql is loadrig's GraphQL reference server: gqlgen over the same
// domain, store, cache and event broker as the REST and gRPC servers.
//
// Where it departs from gqlgen's stock pieces, and why:
//   - postJSON replaces transport.POST (same negotiation, statuses and
//     bytes): the usual body is decoded by hand (decodeParams, fuzzed
//     against encoding/json) and the response written once, data copied
//     rather than re-compacted. BenchmarkProductByIDHandler: ~50 → ~33 µs
//     of server CPU per product(id) on a shared 2-core host.
//   - limits remembers the operations that passed (by name and text), so
//     the depth and complexity walks run once per operation, not per
//     request, unless a variable reaches a weighted list field.
//   - fastSchema wraps the generated executable schema: a query that is one
//     product(id) selecting plain Product scalars is answered by the same
//     resolver with the JSON written directly, not through gqlgen's
//     per-field execution (a field context, context value, closures and a
//     marshaler per field); anything else, and every unusual result
//     (errors, panics, null-producing values), goes to the generated code.
//     Byte-identical to it (TestFastPathMatchesGenerated); with the POST
//     transport keeping extensions.loadrig and the limits' figures in the
//     operation state instead of two maps, ~33 → ~13 µs and 203 → 57
//     allocations per product(id) (BenchmarkProductByIDHandler).
//   - apqExt replaces extension.AutomaticPersistedQuery: same protocol, but
//     a query is registered only after it parsed, validated and passed the
//     limits, so a refused query never occupies the APQ store.
//
//go:generate go tool gqlgen generate --config gqlgen.yml
package gql
