package diff

import (
	"errors"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

func factory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

func TestFlags(t *testing.T) {
	var got *Options
	cmd := NewCmdDiff(factory(), func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--metric", "p99,rps", "--alpha", "0.01", "--min-change", "10%", "--format", "json", "a", "b"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Base != "a" || got.Current != "b" || strings.Join(got.Metrics, ",") != "p99,rps" || got.Alpha != 0.01 || got.minChange != 0.1 || got.Format != "json" {
		t.Fatalf("got %+v", got)
	}
	cmd = NewCmdDiff(factory(), func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"a", "b"})
	if err := cmd.Execute(); err != nil || got.minChange != 0.05 || got.Alpha != 0.05 || strings.Join(got.Metrics, ",") != "p50,p99,rps,error_rate" {
		t.Fatalf("defaults: %v %+v", err, got)
	}
	for _, args := range [][]string{
		{"a"}, {"a", "b", "c"}, {"--format", "html", "a", "b"}, {"--alpha", "1.5", "a", "b"},
		{"--min-change", "-3%", "a", "b"}, {"--metric", "p98", "a", "b"},
	} {
		cmd := NewCmdDiff(factory(), func(*Options) error { t.Fatal("must not run"); return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Errorf("%v: want FlagError, got %v", args, err)
		}
	}
}
