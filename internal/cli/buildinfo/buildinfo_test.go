package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolveLinkerValuesWin(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.1"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "ffffffffffffffff"}, {Key: "vcs.time", Value: "2000-01-01T00:00:00Z"},
	}}
	in := resolve("v1.2.3", "abc1234", "2026-11-28T18:00:00Z", bi)
	if in.Version != "v1.2.3" || in.Commit != "abc1234" || in.Date != "2026-11-28T18:00:00Z" {
		t.Fatalf("linker values not used: %+v", in)
	}
	if got, want := in.String(), "loadrig v1.2.3 (abc1234, 2026-11-28T18:00:00Z)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestResolveFallsBackToBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	in := resolve("", "", "", bi)
	if in.Version != "v0.3.0" || in.Commit != "0123456789abcdef0123" || in.Date != "2026-01-02T03:04:05Z" || !in.Modified {
		t.Fatalf("build info not used: %+v", in)
	}
	if got, want := in.String(), "loadrig v0.3.0 (0123456789ab-dirty, 2026-01-02T03:04:05Z)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestResolveDevel(t *testing.T) {
	in := resolve("", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	if in.Version != "dev" || in.String() != "loadrig dev" {
		t.Fatalf("got %+v / %q", in, in.String())
	}
	if in := resolve("", "", "", nil); in.Version != "dev" {
		t.Fatalf("nil build info: %+v", in)
	}
}
