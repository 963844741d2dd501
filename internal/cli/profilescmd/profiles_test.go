package profilescmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/profiles"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	cmd := NewCmdProfiles(cmdutil.NewFactory(ios, func(string) string { return "" }), nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestProfiles(t *testing.T) {
	out, err := run(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range profiles.Names() {
		if !strings.Contains(out, "\n"+n+" ") {
			t.Errorf("list lacks %s:\n%s", n, out)
		}
	}
	out, err = run(t, "show", "ci")
	want, _, _ := profiles.Get("ci")
	if err != nil || out != string(want) {
		t.Fatalf("show ci: %v\n%s", err, out)
	}
	if _, err := run(t, "show", "demo"); err == nil || !strings.Contains(err.Error(), "built-ins: cache-compare") {
		t.Fatalf("show demo: %v", err)
	}
	out, err = run(t, "validate", "cache-compare")
	if err != nil || !strings.Contains(out, "4 variant(s): cache=none cache=lru cache=tinylfu cache=redis") {
		t.Fatalf("validate: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'http://x/', rate: -1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "validate", bad)
	var fe *cmdutil.FlagError
	if err == nil || !strings.Contains(err.Error(), bad+":3:") || !errors.As(err, &fe) {
		t.Fatalf("validate bad: %v", err)
	}
}
