// Package gen holds protobuf code generated from proto/ (loadrig.v1), committed
// so that builds need no code generator. Regenerate with `go generate ./...`
// (or `go generate ./internal/gen`): buf v1.75.0 runs through `go run` and
// calls protoc-gen-go and protoc-gen-go-grpc, which are pinned as go tools in
// go.mod, so the output is reproducible byte for byte.
package gen

//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate ../../proto --template ../../proto/buf.gen.yaml
