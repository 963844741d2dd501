package cmdutil

import (
	"github.com/loadrig/loadrig/internal/cli/buildinfo"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/viper"
)

// Factory holds what commands get injected: one per invocation of loadrig,
// built by cli.Main (or by a test).
type Factory struct {
	// IOStreams are the invocation's streams. Required.
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment (os.Getenv in main, a map in tests).
	// Required.
	Getenv func(string) string
	// BuildInfo identifies this binary; it goes into result files.
	BuildInfo buildinfo.Info

	// config state, loaded once by BindFlags
	v          *viper.Viper // nil until a --config file is loaded
	configFile string       // path of the loaded config file
	loaded     bool
	sources    map[string]string // flag name -> where its value came from
}

// NewFactory returns a Factory over the given streams and environment.
func NewFactory(ios *iostreams.IOStreams, getenv func(string) string) *Factory {
	return &Factory{IOStreams: ios, Getenv: getenv, BuildInfo: buildinfo.Get()}
}
