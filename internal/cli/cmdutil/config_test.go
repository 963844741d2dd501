package cmdutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/cobra"
)

type testOpts struct {
	Rate        float64
	MaxInflight int
	Duration    time.Duration
	Headers     []string
	Quiet       bool
}

// newTree builds root --config + sub with a few flags bound to opts.
func newTree(env map[string]string) (*Factory, *cobra.Command, *testOpts) {
	ios, _, _, _ := iostreams.Test()
	f := &Factory{IOStreams: ios, Getenv: func(k string) string { return env[k] }}
	o := &testOpts{}
	root := &cobra.Command{Use: "loadrig", SilenceErrors: true, SilenceUsage: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return f.BindFlags(cmd) }}
	root.PersistentFlags().String(ConfigFlag, "", "")
	sub := &cobra.Command{Use: "sub", RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().Float64Var(&o.Rate, "rate", 0, "")
	sub.Flags().IntVar(&o.MaxInflight, "max-inflight", 100, "")
	sub.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "")
	sub.Flags().StringArrayVarP(&o.Headers, "header", "H", nil, "")
	sub.Flags().BoolVar(&o.Quiet, "quiet", false, "")
	root.AddCommand(sub)
	return f, root, o
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	yaml := writeFile(t, "c.yaml", "rate: 10\nmax_inflight: 7\nduration: 3s\nheader: [\"A: 1\", \"B: 2\"]\nquiet: true\n")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want testOpts
	}{
		{"defaults", nil, []string{"sub"}, testOpts{MaxInflight: 100, Duration: 10 * time.Second}},
		{"config", nil, []string{"sub", "--config", yaml},
			testOpts{Rate: 10, MaxInflight: 7, Duration: 3 * time.Second, Headers: []string{"A: 1", "B: 2"}, Quiet: true}},
		{"config via env", map[string]string{"LOADRIG_CONFIG": yaml}, []string{"sub"},
			testOpts{Rate: 10, MaxInflight: 7, Duration: 3 * time.Second, Headers: []string{"A: 1", "B: 2"}, Quiet: true}},
		{"env beats config", map[string]string{"LOADRIG_RATE": "20", "LOADRIG_MAX_INFLIGHT": "8"}, []string{"sub", "--config", yaml},
			testOpts{Rate: 20, MaxInflight: 8, Duration: 3 * time.Second, Headers: []string{"A: 1", "B: 2"}, Quiet: true}},
		{"flag beats env", map[string]string{"LOADRIG_RATE": "20"}, []string{"sub", "--config", yaml, "--rate", "30", "-H", "C: 3"},
			testOpts{Rate: 30, MaxInflight: 7, Duration: 3 * time.Second, Headers: []string{"C: 3"}, Quiet: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, root, o := newTree(c.env)
			root.SetArgs(c.args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if o.Rate != c.want.Rate || o.MaxInflight != c.want.MaxInflight || o.Duration != c.want.Duration ||
				o.Quiet != c.want.Quiet || strings.Join(o.Headers, "|") != strings.Join(c.want.Headers, "|") {
				t.Fatalf("got %+v, want %+v", *o, c.want)
			}
			_ = f
		})
	}
}

func TestSource(t *testing.T) {
	yaml := writeFile(t, "c.yaml", "max-inflight: 7\n")
	f, root, _ := newTree(map[string]string{"LOADRIG_RATE": "5"})
	root.SetArgs([]string{"sub", "--config", yaml, "--quiet"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"rate": "LOADRIG_RATE", "quiet": "--quiet", "duration": "--duration",
		"max-inflight": `"max-inflight" in ` + yaml,
	} {
		if got := f.Source(flag); got != want {
			t.Errorf("Source(%s) = %q, want %q", flag, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for name, content := range map[string]string{
		"c.json": `{"rate": 12.5, "max-inflight": 9}`,
		"c.toml": "rate = 12.5\nmax-inflight = 9\n",
		"c.yml":  "rate: 12.5\nmax-inflight: 9\n",
	} {
		_, root, o := newTree(nil)
		root.SetArgs([]string{"sub", "--config", writeFile(t, name, content)})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Rate != 12.5 || o.MaxInflight != 9 {
			t.Fatalf("%s: got %+v", name, *o)
		}
	}
}

func TestBadInputIsFlagError(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"missing file", nil, []string{"sub", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"bad yaml", nil, []string{"sub", "--config", writeFile(t, "bad.yaml", "rate: [1\n")}, "bad.yaml: not valid YAML"},
		{"bad ext", nil, []string{"sub", "--config", writeFile(t, "c.ini", "rate=1")}, `unknown format "ini"`},
		{"unknown key", nil, []string{"sub", "--config", writeFile(t, "k.yaml", "rat: 1\n")}, `unknown key(s) rat`},
		{"bad value in config", nil, []string{"sub", "--config", writeFile(t, "v.yaml", "rate: fast\n")}, `key "rate"`},
		{"table value", nil, []string{"sub", "--config", writeFile(t, "t.yaml", "rate: {a: 1}\n")}, `got a table`},
		{"bad env", map[string]string{"LOADRIG_DURATION": "soon"}, []string{"sub"}, `LOADRIG_DURATION="soon" is not a valid --duration`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, root, _ := newTree(c.env)
			root.SetArgs(c.args)
			err := root.Execute()
			var fe *FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("want FlagError, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q lacks %q", err, c.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("max-inflight"); got != "LOADRIG_MAX_INFLIGHT" {
		t.Fatal(got)
	}
}

func TestGroupCommand(t *testing.T) {
	root := GroupCommand(&cobra.Command{Use: "loadrig", SilenceErrors: true, SilenceUsage: true})
	root.AddCommand(&cobra.Command{Use: "load", Run: func(*cobra.Command, []string) {}})
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs([]string{"laod"})
	err := root.Execute()
	var fe *FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `unknown command "laod"`) || !strings.Contains(err.Error(), "did you mean load") {
		t.Fatalf("got %v", err)
	}
	root.SetArgs(nil)
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands") {
		t.Fatalf("bare group: err %v, out %q", err, out.String())
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFile(p, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, func(w io.Writer) error { w.Write([]byte("tw")); return errors.New("disk full") }); err == nil {
		t.Fatal("want error")
	}
	b, _ := os.ReadFile(p)
	if string(b) != "one" {
		t.Fatalf("failed write must leave the old file: %q", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "dir.json"), func(io.Writer) error { return nil }); err == nil {
		t.Fatal("missing directory must fail")
	}
}
