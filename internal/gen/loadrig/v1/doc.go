// Package loadrigv1 is the generated Go code (messages and gRPC stubs) of
// proto/loadrig/v1/shop.proto, the loadrig.v1 ShopService that the reference
// gRPC server implements. Everything else in this folder is generated: edit the
// .proto and run `go generate ./internal/gen`.
package loadrigv1
