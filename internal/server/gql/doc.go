// Package gql is loadrig's GraphQL reference server: gqlgen over the same
// domain, store, cache and event broker as the REST and gRPC servers.
//
//go:generate go tool gqlgen generate --config gqlgen.yml
package gql
