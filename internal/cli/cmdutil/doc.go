// Package cmdutil is what every loadrig command shares: the Factory (streams,
// environment, build info, configuration), the error types that cli.Main maps
// to exit codes, argument validators that fail as usage errors, and the one
// place that reads configuration.
//
// Configuration: one local viper per invocation (Factory.BindFlags), never a
// global one and no init() registration. A flag's value is resolved as
//
//	flag given on the command line
//	> environment LOADRIG_<NAME> (dashes become underscores: LOADRIG_MAX_INFLIGHT)
//	> the --config file (YAML, JSON or TOML by extension; keys are flag names)
//	> the flag's default
//
// and written back into the flag itself with pflag.Value.Set, so a command's
// Options struct stays a plain struct filled by ordinary flag bindings.
// Environment lookups go through the injected Getenv, which keeps tests
// hermetic; viper is used only to parse the config file.
package cmdutil
