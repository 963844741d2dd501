package completion

import (
	"errors"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/cobra"
)

func TestFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
	var got *Options
	cmd := NewCmdCompletion(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"zsh"})
	if err := cmd.Execute(); err != nil || got.Shell != "zsh" {
		t.Fatalf("err %v, opts %+v", err, got)
	}
	for _, args := range [][]string{{"tcsh"}, {}, {"bash", "zsh"}} {
		cmd := NewCmdCompletion(f, func(*Options) error { t.Fatal("must not run"); return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Fatalf("%v: want a FlagError, got %v", args, err)
		}
	}
}

func TestCompletionRun(t *testing.T) {
	root := &cobra.Command{Use: "loadrig"}
	root.AddCommand(&cobra.Command{Use: "load", Run: func(*cobra.Command, []string) {}})
	for shell, marker := range map[string]string{
		"bash":       "__start_loadrig",
		"zsh":        "#compdef loadrig",
		"fish":       "complete -c loadrig",
		"powershell": "Register-ArgumentCompleter",
	} {
		ios, _, out, _ := iostreams.Test()
		if err := completionRun(t.Context(), &Options{IO: ios, Root: root, Shell: shell}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), marker) {
			t.Errorf("%s: script lacks %q", shell, marker)
		}
	}
}
