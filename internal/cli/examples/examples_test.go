package examples

import (
	"io"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/profiles"
)

// TestActionlint lints the GitHub Actions example with actionlint v1.7.12
// (shellcheck too when it is installed).
func TestActionlint(t *testing.T) {
	b, ok := profiles.Example("github-actions")
	if !ok {
		t.Fatal("no github-actions example")
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint("loadrig.yml", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e.Error())
	}
}

func TestExamplesPrint(t *testing.T) {
	for _, name := range []string{"github-actions", "k8s-indexed-job"} {
		ios, _, out, _ := iostreams.Test()
		cmd := NewCmdExamples(cmdutil.NewFactory(ios, func(string) string { return "" }), nil)
		cmd.SetArgs([]string{name})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		want, _ := profiles.Example(name)
		if out.String() != string(want) {
			t.Fatalf("%s: printed %d bytes, want %d", name, out.Len(), len(want))
		}
	}
	b, _ := profiles.Example("k8s-indexed-job")
	for _, s := range []string{"completionMode: Indexed", "completions: 4", "parallelism: 4", "--shard $(JOB_COMPLETION_INDEX)/4", "loadrig merge", "persistentVolumeClaim"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("k8s example lacks %q", s)
		}
	}
}
