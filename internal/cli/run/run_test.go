package run

import (
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

func TestRunFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(ios, func(string) string { return "" })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ci", "--repeat", "-2"}, "--repeat must be"},
		{[]string{"ci", "--rate", "0"}, "--rate"},
		{[]string{"ci", "--duration", "-1s"}, "--duration"},
		{[]string{"ci", "--start-at", "+5s"}, "--start-at aligns shards"},
		{[]string{"ci", "--shard-by", "tick"}, "--shard-by tick deals the shards of --shard i/N"},
		{[]string{"ci", "--shard", "0/2", "--shard-by", "ticks"}, `--shard-by "ticks": use seq`},
		{[]string{"ci", "--threshold", "p98<1ms"}, "--threshold"},
		{[]string{"ci", "--report", "pdf"}, `--report "pdf"`},
		{[]string{}, "a profile file or built-in name"},
	} {
		cmd := NewCmdRun(f, func(*Options) error { return nil })
		cmd.SetArgs(tc.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	var got *Options
	cmd := NewCmdRun(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"ci", "--variant", "x", "--repeat", "6", "-o", "d", "--report", "html,csv", "--shard", "1/2", "--start-at", "+1s", "--inproc"})
	if err := cmd.Execute(); err != nil || got.Variant != "x" || got.Repeat != 6 || got.Output != "d" || len(got.Reports) != 2 || got.Shard != "1/2" || !got.InProc {
		t.Fatalf("%v %+v", err, got)
	}
}
