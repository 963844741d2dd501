package cli

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/profiles"
)

// pending are the commands and flags the examples use that land from the
// report branch (issue 9's diff, --report, --junit, --threshold). A line
// that needs one is checked without it; once it exists here the test
// fails until it is removed from this list, so nothing stays unchecked.
var pending = []string{}

// scalars collects every string in a YAML document.
func scalars(n *yaml.Node, out *[]string) {
	if n.Kind == yaml.ScalarNode {
		*out = append(*out, n.Value)
	}
	for _, c := range n.Content {
		scalars(c, out)
	}
}

// shellWords splits a command line: whitespace-separated, '…' and "…"
// quoting, stopping at && || ; | and newlines.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\n' || c == ';' || c == '|' || c == '&':
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// commandLines finds every loadrig invocation in the example's strings.
func commandLines(t *testing.T, text []byte) [][]string {
	var out [][]string
	dec := yaml.NewDecoder(strings.NewReader(string(text)))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		var ss []string
		scalars(&doc, &ss)
		for _, s := range ss {
			for i := 0; ; {
				j := strings.Index(s[i:], "loadrig ")
				if j < 0 {
					break
				}
				at := i + j
				i = at + 8
				if at > 0 && !strings.ContainsRune(" \n\t", rune(s[at-1])) {
					continue // part of a word (a path, a name)
				}
				words := shellWords(s[at:])
				if len(words) < 2 || strings.HasPrefix(words[1], "/") || strings.Contains(words[0], "/") {
					continue
				}
				out = append(out, words[1:])
			}
		}
	}
	return out
}

// TestExampleCommandLines parses every loadrig command line of every
// example through the real command tree: the command exists, its flags
// parse, its arguments are accepted.
func TestExampleCommandLines(t *testing.T) {
	env := strings.NewReplacer("$(JOB_COMPLETION_INDEX)", "2", "$START_AT", "2030-01-01T00:00:00Z",
		"$TARGET", "http://127.0.0.1:8080/", "\"$run_id\"", "1")
	seen := 0
	for _, name := range profiles.ExampleNames() {
		text, _ := profiles.Example(name)
		lines := commandLines(t, text)
		if len(lines) == 0 {
			t.Fatalf("%s: no loadrig command lines found", name)
		}
		for _, args := range lines {
			for i := range args {
				args[i] = env.Replace(args[i])
			}
			seen++
			line := "loadrig " + strings.Join(args, " ")
			f := cmdutil.NewFactory(nil, func(string) string { return "" })
			root := NewCmdRoot(f)
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				if slices.Contains(pending, args[0]) {
					t.Logf("%s: %q pending (report branch): %s", name, args[0], line)
					continue
				}
				t.Errorf("%s: %s: no such command", name, line)
				continue
			}
			if slices.Contains(pending, cmd.Name()) {
				t.Errorf("%s exists now: remove it from pending", cmd.Name())
			}
			var kept []string
			for i := 0; i < len(rest); i++ {
				a := rest[i]
				flag, _, hasVal := strings.Cut(a, "=")
				if slices.Contains(pending, flag) {
					if cmd.Flags().Lookup(strings.TrimPrefix(flag, "--")) != nil {
						t.Errorf("%s %s exists now: remove it from pending", cmd.Name(), flag)
					} else {
						t.Logf("%s: %s %s pending (report branch)", name, cmd.Name(), flag)
						if !hasVal {
							i++ // its value
						}
						continue
					}
				}
				kept = append(kept, a)
			}
			if err := cmd.ParseFlags(kept); err != nil {
				t.Errorf("%s: %s: %v", name, line, err)
				continue
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s: %s: %v", name, line, err)
			}
		}
	}
	if seen < 4 {
		t.Fatalf("only %d command lines checked", seen)
	}
}
