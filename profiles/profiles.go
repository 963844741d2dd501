// Package profiles embeds the profiles that ship inside the loadrig binary,
// so `loadrig demo`, `loadrig run NAME` and `loadrig compare NAME` need no
// files on disk, and the CI examples `loadrig examples` prints. Each
// profile is a YAML file in this directory, read by internal/profile.
package profiles

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

// Demo is profiles/demo.yaml: the cache variants and workload of `loadrig
// demo`, and its protocols section (REST/JSON vs gRPC/protobuf).
//
//go:embed demo.yaml
var Demo []byte

// DemoName is the file name errors and reports use for Demo.
const DemoName = "demo.yaml"

//go:embed *.yaml
var builtins embed.FS

//go:embed examples
var examples embed.FS

// Names lists the built-in profiles of the general format (`loadrig run
// NAME`), sorted; demo.yaml, the demo's own format, is not one of them.
func Names() []string {
	ents, _ := fs.ReadDir(builtins, ".")
	var out []string
	for _, e := range ents {
		if n := strings.TrimSuffix(e.Name(), ".yaml"); n != "demo" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Get returns built-in profile name's YAML and file name.
func Get(name string) (data []byte, file string, ok bool) {
	if name == "demo" || !slices.Contains(Names(), name) {
		return nil, "", false
	}
	b, err := builtins.ReadFile(name + ".yaml")
	return b, name + ".yaml", err == nil
}

// ExampleNames lists the embedded examples (`loadrig examples NAME`).
func ExampleNames() []string {
	ents, _ := fs.ReadDir(examples, "examples")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// Example returns example name's text.
func Example(name string) ([]byte, bool) {
	b, err := examples.ReadFile("examples/" + name + ".yaml")
	return b, err == nil
}
