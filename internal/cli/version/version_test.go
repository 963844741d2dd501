package version

import (
	"testing"

	"github.com/loadrig/loadrig/internal/cli/buildinfo"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

func TestFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
	var got *Options
	cmd := NewCmdVersion(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--short"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || !got.Short {
		t.Fatalf("--short not parsed: %+v", got)
	}
}

func TestVersionRun(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	bi := buildinfo.Info{Version: "v1.2.3", Commit: "abc", Date: "2026-11-28T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	if err := versionRun(t.Context(), &Options{IO: ios, BuildInfo: bi}); err != nil {
		t.Fatal(err)
	}
	want := "loadrig v1.2.3 (abc, 2026-11-28T00:00:00Z)\n  go:       go1.26.8\n  platform: linux/amd64\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := versionRun(t.Context(), &Options{IO: ios, BuildInfo: bi, Short: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "v1.2.3\n" {
		t.Fatalf("short: got %q", out.String())
	}
}
