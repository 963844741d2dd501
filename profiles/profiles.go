// Package profiles embeds the profiles that ship inside the loadrig binary,
// so `loadrig demo` needs no files on disk. Each profile is a YAML file in
// this directory, read by internal/profile.
package profiles

import _ "embed"

// Demo is profiles/demo.yaml: the cache variants and workload of `loadrig
// demo`, and its protocols section (REST/JSON vs gRPC/protobuf).
//
//go:embed demo.yaml
var Demo []byte

// DemoName is the file name errors and reports use for Demo.
const DemoName = "demo.yaml"
