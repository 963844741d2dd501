// Package buildinfo says which loadrig this is: version, commit and build date.
//
// Release builds set them with -ldflags -X (see .goreleaser.yaml):
//
//	-X github.com/loadrig/loadrig/internal/cli/buildinfo.version=v1.2.3
//	-X github.com/loadrig/loadrig/internal/cli/buildinfo.commit=abc1234
//	-X github.com/loadrig/loadrig/internal/cli/buildinfo.date=2026-11-28T18:00:00Z
//
// Other builds (go install, go run, go build) fall back to what the Go
// toolchain recorded in the binary (runtime/debug.ReadBuildInfo): the module
// version and, when VCS stamping was on, vcs.revision and vcs.time. The
// version ends up in every result file (tool_version), so a number can always
// be traced back to the instrument that produced it.
package buildinfo
