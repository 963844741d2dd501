package serve

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

// parseRESTEnv parses `serve rest` flags with env as the environment.
func parseRESTEnv(t *testing.T, env map[string]string, args ...string) (*RESTOptions, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string { return env[k] }}
	var got *RESTOptions
	cmd := NewCmdServeREST(f, func(o *RESTOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return got, cmd.Execute()
}

// TestJWTSecretSources: the secret comes from LOADRIG_JWT_SECRET or
// --jwt-secret-file, never argv; short is a usage error (exit 2) naming
// its source.
func TestJWTSecretSources(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 32)
	o, err := parseRESTEnv(t, map[string]string{"LOADRIG_JWT_SECRET": long})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := o.StackConfig(nil); err != nil || string(cfg.JWTKey) != long {
		t.Errorf("env secret: key %q, %v", cfg.JWTKey, err)
	}

	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(long+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = parseRESTEnv(t, nil, "--jwt-secret-file", file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := o.StackConfig(nil); err != nil || string(cfg.JWTKey) != long {
		t.Errorf("file secret: key %q, %v", cfg.JWTKey, err)
	}

	o, err = parseRESTEnv(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := o.StackConfig(nil); cfg.JWTKey != nil {
		t.Errorf("no secret set: key %q, want random per process", cfg.JWTKey)
	}

	var fe *cmdutil.FlagError
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"LOADRIG_JWT_SECRET": "short"}, nil, "LOADRIG_JWT_SECRET is 5 bytes; use at least 32"},
		{nil, []string{"--jwt-secret-file", filepath.Join(t.TempDir(), "missing")}, "--jwt-secret-file"},
		{map[string]string{"LOADRIG_JWT_SECRET": long}, []string{"--jwt-secret-file", file}, "keep one"},
		{nil, []string{"--jwt-secret", long}, "unknown flag"},
	} {
		_, err := parseRESTEnv(t, c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v %v: error %v, want one line with %q", c.env, c.args, err, c.want)
		}
		if c.want != "unknown flag" && !errors.As(err, &fe) {
			t.Errorf("%v: %v is not a usage error (exit 2)", c.args, err)
		}
	}
}

// TestEveryServeCommandReadsTheEnvSecret: serve rest, grpc, graphql, ws and
// all take LOADRIG_JWT_SECRET from the environment, so two processes of
// any of them accept each other's tokens (serve ws and serve graphql once
// ignored it and signed with a random key per process).
func TestEveryServeCommandReadsTheEnvSecret(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 32)
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string {
		if k == "LOADRIG_JWT_SECRET" {
			return long
		}
		return ""
	}}
	var got *ServerFlags
	for name, cmd := range map[string]interface {
		SetArgs([]string)
		Execute() error
	}{
		"rest":    NewCmdServeREST(f, func(o *RESTOptions) error { got = &o.ServerFlags; return nil }),
		"grpc":    NewCmdServeGRPC(f, func(o *GRPCOptions) error { got = &o.ServerFlags; return nil }),
		"graphql": NewCmdServeGraphQL(f, func(o *GraphQLOptions) error { got = &o.ServerFlags; return nil }),
		"ws":      NewCmdServeWS(f, func(o *WSOptions) error { got = &o.ServerFlags; return nil }),
		"all":     NewCmdServeAll(f, func(o *AllOptions) error { got = &o.ServerFlags; return nil }),
	} {
		got = nil
		cmd.SetArgs([]string{}) // nil would read os.Args
		if err := cmd.Execute(); err != nil || got == nil {
			t.Fatalf("serve %s: %v", name, err)
		}
		if cfg, err := got.StackConfig(nil); err != nil || string(cfg.JWTKey) != long {
			t.Errorf("serve %s: JWT key %q (%v), want LOADRIG_JWT_SECRET's", name, cfg.JWTKey, err)
		}
	}
}
