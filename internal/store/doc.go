// Package store is loadrig's slow "database": the in-memory source of truth
// behind every reference server, wrapped in a latency model that behaves like
// a real database under load.
//
// Every Catalog call costs Options.Latency plus Options.PerRow for each row
// it reads or writes (plus optional jitter), paid while holding one of
// Options.Pool connections. When all connections are busy, calls queue, and
// the queue wait is measured — so overload shows up as queueing, not just as
// slower calls. GetProducts reads a batch for one Latency plus its rows,
// which is what makes N+1 query patterns (N GetProduct calls) measurably
// worse than one batch read: the GraphQL N+1 demo depends on it. A store that
// only slept, without a pool, would hide N+1 under concurrent resolvers.
//
// The clock, the sleep and the randomness are injected (Options.Now, Sleep,
// Rand) so the model is exact under testing/synctest. Stats counts calls,
// rows, errors, queue waits (total and max) and calls per method, with JSON
// tags for the servers' /stats.
//
// Error codes: unknown ids in the URL are domain.CodeNotFound; bad input in a
// body (quantity < 1, unknown product or user referenced by an order or
// review, negative price) is domain.CodeInvalid; too little stock is
// domain.CodeConflict; a wrong login is domain.CodeUnauthorized.
//
// UpsertProducts is the batch write the write-behind flusher uses. It never
// creates products (a late flush must not resurrect a deleted one) and never
// moves a Version backwards.
package store
