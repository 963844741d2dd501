package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker (-ldflags -X); empty in ordinary builds. They are
// package variables only because -X can set nothing else; Get is the API.
var (
	version string
	commit  string
	date    string
)

// Info describes one build of loadrig.
type Info struct {
	Version   string // release version, module version, or "dev"
	Commit    string // VCS revision, "" when unknown
	Date      string // build or commit time (RFC 3339), "" when unknown
	Modified  bool   // the working tree had uncommitted changes (from build info)
	GoVersion string // toolchain, e.g. "go1.26.8"
	Platform  string // GOOS/GOARCH
}

// Get returns this binary's build information: linker values first, then
// the toolchain's build info, then "dev".
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, date, bi)
}

// resolve is Get with its inputs explicit, for tests.
func resolve(ver, com, dt string, bi *debug.BuildInfo) Info {
	in := Info{
		Version:   ver,
		Commit:    com,
		Date:      dt,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.Date == "" {
					in.Date = s.Value
				}
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	return in
}

// String is the one-line form used in result files' tool_version and by
// --version: "loadrig v1.2.3 (abc1234, 2026-11-28T18:00:00Z)".
func (in Info) String() string {
	s := "loadrig " + in.Version
	c := in.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if in.Modified && c != "" {
		c += "-dirty"
	}
	switch {
	case c != "" && in.Date != "":
		s += fmt.Sprintf(" (%s, %s)", c, in.Date)
	case c != "":
		s += fmt.Sprintf(" (%s)", c)
	case in.Date != "":
		s += fmt.Sprintf(" (%s)", in.Date)
	}
	return s
}
