package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/spf13/cobra"
)

func run(t *testing.T, env map[string]string, args ...string) (ExitCode, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(t.Context(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestMainExitCodes(t *testing.T) {
	cases := []struct {
		args       []string
		code       ExitCode
		out, err   string // substrings expected
		oneErrLine bool
	}{
		{[]string{"version"}, ExitOK, "loadrig ", "", false},
		{[]string{"--version"}, ExitOK, "loadrig ", "", false},
		{[]string{"completion", "bash"}, ExitOK, "__start_loadrig", "", false},
		{[]string{}, ExitOK, "Available Commands", "", false},
		{[]string{"--help"}, ExitOK, "Example", "", false},
		{[]string{"--bogus"}, ExitUsage, "", "loadrig: unknown flag: --bogus (see 'loadrig --help')", true},
		{[]string{"verison"}, ExitUsage, "", `unknown command "verison" for "loadrig"; did you mean version?`, true},
		{[]string{"version", "extra"}, ExitUsage, "", "takes no arguments", true},
		{[]string{"completion", "tcsh"}, ExitUsage, "", "(see 'loadrig completion --help')", true},
		{[]string{"version", "--config", "/nonexistent/x.yaml"}, ExitUsage, "", "config file /nonexistent/x.yaml", true},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, nil, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errOut)
			}
			if !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", out, c.out, errOut, c.err)
			}
			if c.oneErrLine && strings.Count(errOut, "\n") != 1 {
				t.Fatalf("want exactly one line on stderr, got %q", errOut)
			}
		})
	}
}

func TestEveryCommandHasExample(t *testing.T) {
	f := cmdutil.NewFactory(nil, func(string) string { return "" })
	var missing []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			missing = append(missing, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdRoot(f))
	if len(missing) > 0 {
		t.Fatalf("commands without an Example block: %v", missing)
	}
}

func TestExitCodeMapping(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		ctx  context.Context
		err  error
		code ExitCode
		msg  string
	}{
		{context.Background(), nil, ExitOK, ""},
		{context.Background(), errors.New("boom\nsecond line"), ExitError, "loadrig: boom second line\n"},
		{context.Background(), cmdutil.FlagErrorf("bad --rate"), ExitUsage, "loadrig: bad --rate (see 'loadrig --help')\n"},
		{context.Background(), fmt.Errorf("run: %w", cmdutil.ErrInterrupted), ExitInterrupted, "loadrig: interrupted\n"},
		{canceled, fmt.Errorf("dial: %w", context.Canceled), ExitInterrupted, "loadrig: interrupted\n"},
		{context.Background(), context.Canceled, ExitError, "loadrig: context canceled\n"},
		{context.Background(), &cmdutil.ThresholdError{Err: errors.New("p99 1.2ms > 1ms")}, ExitThreshold, "loadrig: p99 1.2ms > 1ms\n"},
		{context.Background(), &cmdutil.SilentError{Err: errors.New("already said")}, ExitError, ""},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if got := exitCode(c.ctx, nil, c.err, &buf); got != c.code || buf.String() != c.msg {
			t.Errorf("%v: got %d %q, want %d %q", c.err, got, buf.String(), c.code, c.msg)
		}
	}
}

func TestEnvAppliesToCommands(t *testing.T) {
	code, out, _ := run(t, map[string]string{"LOADRIG_SHORT": "true"}, "version")
	if code != ExitOK || strings.Contains(out, "platform") {
		t.Fatalf("LOADRIG_SHORT not applied: %d %q", code, out)
	}
	code, _, errOut := run(t, map[string]string{"LOADRIG_SHORT": "maybe"}, "version")
	if code != ExitUsage || !strings.Contains(errOut, `LOADRIG_SHORT="maybe" is not a valid --short`) {
		t.Fatalf("bad env: %d %q", code, errOut)
	}
}

func TestLoadUsageErrors(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"load", "http", "--rate", "0", "http://127.0.0.1:1/"}, "loadrig: --rate must be > 0 operations/s, got 0; e.g. --rate 1000 (see 'loadrig load http --help')\n"},
		{nil, []string{"load", "http", "--rate", "x", "http://127.0.0.1:1/"}, `invalid argument "x" for "--rate"`},
		{map[string]string{"LOADRIG_RATE": "-1"}, []string{"load", "http", "http://127.0.0.1:1/"}, "LOADRIG_RATE must be > 0"},
		{map[string]string{"LOADRIG_RATE": "5"}, []string{"load", "http", "-c", "2", "http://127.0.0.1:1/"}, "--concurrency (closed model) and LOADRIG_RATE (open model) exclude each other"},
		{map[string]string{"LOADRIG_MAX_INFLIGHT": "many"}, []string{"load", "http", "http://127.0.0.1:1/"}, `LOADRIG_MAX_INFLIGHT="many" is not a valid --max-inflight`},
		{nil, []string{"load", "grcp", "x"}, `unknown command "grcp" for "loadrig load"`},
		{nil, []string{"load", "http"}, "needs the target URL"},
	}
	for _, c := range cases {
		code, _, errOut := run(t, c.env, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and %q", c.env, c.args, code, errOut, c.want)
		}
	}
	if code, out, _ := run(t, nil, "load"); code != ExitOK || !strings.Contains(out, "http") {
		t.Fatalf("bare load: %d %q", code, out)
	}
}
