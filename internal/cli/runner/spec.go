package runner

import (
	"os"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/loadrig/loadrig/profiles"
)

// LoadSpec reads PROFILE, a file path or a built-in name (a file of that
// name wins), and checks it against the commands' flags and its thresholds
// against the report grammar (those without ${...}; the rest are checked
// once the plan resolves them). Every problem is a usage error (exit 2):
// nothing has started.
func LoadSpec(arg string, flags *cmdflags.Commands) (*profile.Spec, error) {
	s, err := loadSpec(arg, flags)
	if err != nil {
		return nil, err
	}
	for _, t := range s.Thresholds {
		if strings.Contains(t.Expr, "${") {
			continue
		}
		if _, err := report.ParseThreshold(t.Expr); err != nil {
			return nil, cmdutil.FlagErrorWrap(&profile.Error{Pos: t.Pos, Msg: err.Error()})
		}
	}
	return s, nil
}

func loadSpec(arg string, flags *cmdflags.Commands) (*profile.Spec, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, cmdutil.FlagErrorf("profile %s: %v", arg, err)
		}
		s, err := profile.ParseSpec(arg, data, flags)
		return s, cmdutil.FlagErrorWrap(err)
	}
	if data, file, ok := profiles.Get(arg); ok {
		s, err := profile.ParseSpec(file, data, flags)
		return s, cmdutil.FlagErrorWrap(err)
	}
	return nil, cmdutil.FlagErrorf("profile %q is neither a file nor a built-in; built-ins: %s", arg, strings.Join(profiles.Names(), ", "))
}
