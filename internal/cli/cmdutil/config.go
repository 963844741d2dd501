package cmdutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable loadrig reads for flags.
const EnvPrefix = "LOADRIG_"

// ConfigFlag is the root's persistent flag naming a config file; the
// LOADRIG_CONFIG environment variable is its fallback.
const ConfigFlag = "config"

// unbound flags are never read from the environment or the config file.
var unbound = map[string]bool{"help": true, "version": true, ConfigFlag: true}

// EnvName is the environment variable for a flag: LOADRIG_ + upper case with
// dashes as underscores ("max-inflight" -> "LOADRIG_MAX_INFLIGHT").
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// BindFlags resolves every flag of cmd that was not given on the command
// line from LOADRIG_* environment variables, then the --config file, and
// writes the value into the flag (pflag.Value.Set), so whatever the flag is
// bound to sees the resolved value. Flags set this way count as Changed.
// A bad value or an unreadable config file is a FlagError naming its source.
// The root command calls it from PersistentPreRunE: commands do not call it
// themselves and must not define their own PersistentPreRunE.
func (f *Factory) BindFlags(cmd *cobra.Command) error {
	if err := f.loadConfig(cmd); err != nil {
		return err
	}
	if f.sources == nil {
		f.sources = map[string]string{}
	}
	var firstErr error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if firstErr != nil || unbound[fl.Name] {
			return
		}
		if fl.Changed {
			f.sources[fl.Name] = "--" + fl.Name
			return
		}
		env := EnvName(fl.Name)
		if val := f.Getenv(env); val != "" {
			if err := cmd.Flags().Set(fl.Name, val); err != nil {
				firstErr = FlagErrorf("%s=%q is not a valid --%s: %v; fix or unset it", env, val, fl.Name, unwrapSetErr(err))
				return
			}
			f.sources[fl.Name] = env
			return
		}
		if f.v == nil {
			return
		}
		key, ok := f.configKey(fl.Name)
		if !ok {
			return
		}
		if err := setFromConfig(cmd.Flags(), fl.Name, f.v.Get(key)); err != nil {
			firstErr = FlagErrorf("config file %s: key %q: %v", f.configFile, key, err)
			return
		}
		f.sources[fl.Name] = fmt.Sprintf("%q in %s", key, f.configFile)
	})
	return firstErr
}

// Source says where a flag's value came from, for error messages: "--rate",
// "LOADRIG_RATE", `"rate" in loadrig.yaml`, or "--rate" when it was not set
// at all (the default).
func (f *Factory) Source(flag string) string {
	if s, ok := f.sources[flag]; ok {
		return s
	}
	return "--" + flag
}

// configKey finds a flag's key in the config file: the flag name, or the
// name with underscores ("max_inflight").
func (f *Factory) configKey(name string) (string, bool) {
	for _, k := range []string{name, strings.ReplaceAll(name, "-", "_")} {
		if f.v.IsSet(k) {
			return k, true
		}
	}
	return "", false
}

// loadConfig reads the --config file (or $LOADRIG_CONFIG) once.
func (f *Factory) loadConfig(cmd *cobra.Command) error {
	if f.loaded {
		return nil
	}
	f.loaded = true
	path := ""
	if fl := cmd.Flags().Lookup(ConfigFlag); fl != nil {
		path = fl.Value.String()
	}
	if path == "" {
		path = f.Getenv(EnvName(ConfigFlag))
	}
	if path == "" {
		return nil
	}
	typ := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch typ {
	case "yaml", "yml", "json", "toml":
	default:
		return FlagErrorf("config file %s: unknown format %q; use a .yaml, .yml, .json or .toml file", path, typ)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return FlagErrorf("config file %s: %v", path, unwrapPathErr(err))
	}
	v := viper.New()
	v.SetConfigType(typ)
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return FlagErrorf("config file %s: not valid %s: %v", path, strings.ToUpper(typ), oneLine(err))
	}
	known := allFlagNames(cmd.Root())
	var unknown []string
	for _, k := range topKeys(v) {
		if !known[k] && !known[strings.ReplaceAll(k, "_", "-")] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return FlagErrorf("config file %s: unknown key(s) %s; keys are flag names such as rate or max-inflight",
			path, strings.Join(unknown, ", "))
	}
	f.v, f.configFile = v, path
	return nil
}

// topKeys lists the config file's top-level keys (nested tables count as
// their top-level key, which is then unknown: flags are flat).
func topKeys(v *viper.Viper) []string {
	seen := map[string]bool{}
	var ks []string
	for _, k := range v.AllKeys() {
		top, _, _ := strings.Cut(k, ".")
		if !seen[top] {
			seen[top] = true
			ks = append(ks, top)
		}
	}
	return ks
}

// allFlagNames collects every flag name of every command in the tree.
func allFlagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(fl *pflag.Flag) { names[fl.Name] = true })
		c.PersistentFlags().VisitAll(func(fl *pflag.Flag) { names[fl.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// setFromConfig sets flag name from a decoded config value: a scalar, or a
// list for repeatable flags.
func setFromConfig(fs *pflag.FlagSet, name string, val any) error {
	switch x := val.(type) {
	case nil:
		return nil
	case map[string]any:
		return fmt.Errorf("expected a value for --%s, got a table", name)
	case []any:
		for _, e := range x {
			if _, isMap := e.(map[string]any); isMap {
				return fmt.Errorf("expected a list of values for --%s, got a list of tables", name)
			}
			if err := fs.Set(name, fmt.Sprint(e)); err != nil {
				return fmt.Errorf("not a valid --%s: %v", name, unwrapSetErr(err))
			}
		}
		return nil
	default:
		if err := fs.Set(name, fmt.Sprint(x)); err != nil {
			return fmt.Errorf("not a valid --%s: %v", name, unwrapSetErr(err))
		}
		return nil
	}
}

// unwrapSetErr trims pflag's wrapping of a Set error to its cause.
func unwrapSetErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "invalid argument") {
		return s[i+2:]
	}
	return s
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
