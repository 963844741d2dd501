package loadcmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load/grpcdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/spf13/cobra"
)

// GRPCOptions are the inputs of `loadrig load grpc`.
type GRPCOptions struct {
	IO          *iostreams.IOStreams // injected streams
	ToolVersion string               // injected: the build, for the result file
	Runner      Runner               // injected engine; nil: load.Run

	Load LoadFlags // the shared engine and output flags

	Target         string        // the argument: host:port (or a gRPC target URI)
	Call           string        // --call pkg.Service/Method; required
	Proto          []string      // --proto FILE, repeatable; default none: server reflection
	ImportPaths    []string      // --import-path/-I DIR, repeatable; default none
	Data           string        // --data: request JSON (a template), or @FILE; default "{}"
	DataFile       string        // --data-file FILE: request JSON read from FILE; default none
	Rows           string        // --rows: CSV or JSONL file of rows for {{.Row.field}}; default none
	RowsMode       string        // --rows-mode: round-robin (default) or random
	Seed           uint64        // --seed: base seed of the template RNGs; default 0
	Metadata       []string      // -m/--metadata "key: value" or key=value, repeatable
	Plaintext      bool          // --plaintext: no TLS (h2c); default false: TLS
	Insecure       bool          // --insecure: TLS without certificate verification; default false
	CACert         string        // --cacert FILE: PEM roots to verify the server with; default system roots
	ServerName     string        // --servername: TLS server name; default the target host
	Connections    int           // --connections: channels (HTTP/2 connections); default 1
	StreamMessages int           // --stream-messages: messages per client/bidi stream (default 10); server streams: stop after N
	StreamInterval time.Duration // --stream-interval: pause between sent stream messages; default 0
	MaxRecvSize    int           // --max-recv-size: largest response message in bytes; default 64 MiB
}

// NewCmdGRPC returns `loadrig load grpc TARGET`. runF replaces the run
// function in tests; nil runs grpcRun.
func NewCmdGRPC(f *cmdutil.Factory, runF func(*GRPCOptions) error) *cobra.Command {
	opts := &GRPCOptions{IO: f.IOStreams, ToolVersion: f.BuildInfo.String()}
	cmd := &cobra.Command{
		Use:   "grpc TARGET --call pkg.Service/Method",
		Short: "Load a gRPC method",
		Long: `Load one gRPC method of any server and print the same summary as load http:
throughput, latency percentiles, errors by status code (grpc_unavailable, ...),
connections, and the cache hit ratio from the x-cache response header metadata.

The method is described by the server's reflection service by default, or by
--proto files (with --import-path). The request is protobuf JSON (--data or
--data-file), a template evaluated per message: {{.Seq}}, {{randInt a b}},
{{zipf s v n}}, {{uuid}}, and {{.Row.field}} from a --rows file.

Every RPC kind works. A stream is one operation; each of its messages is a
timed event with its own latency histogram in the result (message_latency_us):
the round trip when the response echoes a request_sent_at timestamp, else the
one-way time from a sent_at timestamp the sender stamped (loadrig stamps a
sent_at field of the requests it streams), else for bidi the round trip to the
oldest unanswered request. Client and bidi streams send --stream-messages
messages, --stream-interval apart, then close their side; when the data is a
JSON array, message i is element i (cycling), and --stream-messages defaults
to the array's length.

TLS is the default; --plaintext speaks h2c (loadrig serve grpc is plaintext),
--insecure skips certificate verification.`,
		Example: `  # unary, closed model, 50 workers for 10 s
  loadrig load grpc --plaintext --call loadrig.v1.ShopService/GetProduct \
    --data '{"id": {{zipf 1.1 1 1000}}}' 127.0.0.1:9090

  # open model at 5000 calls/s over 4 connections
  loadrig load grpc --plaintext --rate 5000 -d 30s --connections 4 \
    --call loadrig.v1.ShopService/GetProduct --data '{"id": 7}' 127.0.0.1:9090

  # bidi stream: 20 subscriptions per stream, 10 ms apart, from a .proto file
  loadrig load grpc --plaintext --proto loadrig/v1/shop.proto -I proto \
    --call loadrig.v1.ShopService/WatchPrices --stream-messages 20 --stream-interval 10ms \
    --data '{"product_ids": [{{randInt 1 1000}}]}' 127.0.0.1:9090`,
		Args: cmdutil.ExactArgs(1, "the target host:port, e.g. loadrig load grpc --call pkg.Service/Method 127.0.0.1:9090"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return grpcRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.Load.AddFlags(fl, f.Source)
	fl.StringVar(&opts.Call, "call", "", "method to call, pkg.Service/Method (required)")
	fl.StringArrayVar(&opts.Proto, "proto", nil, "describe the method with this .proto file instead of server reflection (repeatable)")
	fl.StringArrayVarP(&opts.ImportPaths, "import-path", "I", nil, "directory .proto files and their imports are relative to (repeatable)")
	fl.StringVar(&opts.Data, "data", "", `request message as protobuf JSON (a template), or @FILE; default {}`)
	fl.StringVar(&opts.DataFile, "data-file", "", "read the request JSON (a template) from this file")
	fl.StringVar(&opts.Rows, "rows", "", "CSV (with header) or JSONL file of rows for {{.Row.field}}")
	fl.StringVar(&opts.RowsMode, "rows-mode", "round-robin", "how each operation picks its row: round-robin or random")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the template random generators (same seed, same values)")
	fl.StringArrayVarP(&opts.Metadata, "metadata", "m", nil, "request metadata key=value or 'key: value' (repeatable)")
	fl.BoolVar(&opts.Plaintext, "plaintext", false, "no TLS: plaintext HTTP/2 (h2c)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "TLS without verifying the server certificate")
	fl.StringVar(&opts.CACert, "cacert", "", "PEM file of CA certificates to verify the server with")
	fl.StringVar(&opts.ServerName, "servername", "", "TLS server name to verify (default: the target host)")
	fl.IntVar(&opts.Connections, "connections", 1, "number of connections (channels); workers are spread across them")
	fl.IntVar(&opts.StreamMessages, "stream-messages", 0, "messages sent per client or bidi stream (default 10); on server streams, stop after this many")
	fl.DurationVar(&opts.StreamInterval, "stream-interval", 0, "pause between the messages a stream sends")
	fl.IntVar(&opts.MaxRecvSize, "max-recv-size", grpcdrv.DefaultMaxRecvMsgSize, "largest response message accepted, in bytes")
	completeLoadFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("rows-mode", cobra.FixedCompletions([]string{"round-robin", "random"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("proto", "proto")
	return cmd
}

// validate checks the flags without touching the network or files.
func (o *GRPCOptions) validate() error {
	if err := o.Load.Validate(); err != nil {
		return err
	}
	if o.Call == "" {
		return cmdutil.FlagErrorf("--call is required: the method to load, e.g. --call loadrig.v1.ShopService/GetProduct")
	}
	if _, _, err := grpcdrv.ParseCall(o.Call); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if strings.HasPrefix(o.Target, "http://") || strings.HasPrefix(o.Target, "https://") {
		return cmdutil.FlagErrorf("target %q: give host:port without a scheme (use --plaintext for h2c), e.g. 127.0.0.1:9090", o.Target)
	}
	switch {
	case o.Data != "" && o.DataFile != "":
		return cmdutil.FlagErrorf("--data and --data-file both give the request; use one")
	case o.Plaintext && (o.Insecure || o.CACert != "" || o.ServerName != ""):
		return cmdutil.FlagErrorf("--plaintext turns TLS off; it excludes --insecure, --cacert and --servername")
	case o.Connections < 1:
		return cmdutil.FlagErrorf("--connections must be at least 1, got %d", o.Connections)
	case o.StreamMessages < 0:
		return cmdutil.FlagErrorf("--stream-messages must not be negative, got %d", o.StreamMessages)
	case o.StreamInterval < 0:
		return cmdutil.FlagErrorf("--stream-interval must not be negative, got %s", o.StreamInterval)
	case o.MaxRecvSize < 1:
		return cmdutil.FlagErrorf("--max-recv-size must be at least 1 byte, got %d", o.MaxRecvSize)
	}
	if _, err := tmpl.ParseRowMode(o.RowsMode); err != nil {
		return cmdutil.FlagErrorf("--rows-mode %q: use round-robin or random", o.RowsMode)
	}
	return nil
}

// driverOptions reads the files the flags name and builds the driver's
// options. Every failure is bad input.
func (o *GRPCOptions) driverOptions() (grpcdrv.Options, error) {
	dopts := grpcdrv.Options{
		Target:         o.Target,
		Call:           o.Call,
		ProtoFiles:     o.Proto,
		ImportPaths:    o.ImportPaths,
		Data:           o.Data,
		Seed:           o.Load.ShardSeed(o.Seed),
		Metadata:       o.Metadata,
		Connections:    o.Connections,
		StreamMessages: o.StreamMessages,
		StreamInterval: o.StreamInterval,
		MaxRecvMsgSize: o.MaxRecvSize,
		UserAgent:      "loadrig/" + o.ToolVersion,
	}
	file := o.DataFile
	if path, ok := strings.CutPrefix(o.Data, "@"); ok {
		file = path
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("request data file %s: %v", file, pathErr(err))
		}
		dopts.Data = string(b)
	}
	mode, err := tmpl.ParseRowMode(o.RowsMode)
	if err != nil {
		return dopts, cmdutil.FlagErrorf("--rows-mode %q: use round-robin or random", o.RowsMode)
	}
	dopts.RowMode = mode
	if o.Rows != "" {
		d, err := tmpl.LoadData(o.Rows)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("--rows %s: %v", o.Rows, pathErr(err))
		}
		dopts.Rows = d
	}
	if !o.Plaintext {
		cfg := &tls.Config{InsecureSkipVerify: o.Insecure, ServerName: o.ServerName} //nolint:gosec // --insecure is the user's explicit choice
		if o.CACert != "" {
			pem, err := os.ReadFile(o.CACert)
			if err != nil {
				return dopts, cmdutil.FlagErrorf("--cacert %s: %v", o.CACert, pathErr(err))
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return dopts, cmdutil.FlagErrorf("--cacert %s holds no PEM certificate", o.CACert)
			}
			cfg.RootCAs = pool
		}
		dopts.TLS = cfg
	}
	return dopts, nil
}

func grpcRun(ctx context.Context, o *GRPCOptions) error {
	dopts, err := o.driverOptions()
	if err != nil {
		return err
	}
	drv, err := grpcdrv.New(ctx, dopts)
	if err != nil {
		if errors.Is(err, grpcdrv.ErrUsage) {
			return cmdutil.FlagErrorWrap(err)
		}
		return fmt.Errorf("load grpc %s: %w", o.Target, err)
	}
	runErr := Execute(ctx, Run{IO: o.IO, Flags: &o.Load, Driver: drv, ToolVersion: o.ToolVersion, Runner: o.Runner,
		Workload: o.Call + " " + o.Target})
	if cerr := drv.Close(); cerr != nil && runErr == nil {
		return fmt.Errorf("close driver: %w", cerr)
	}
	return runErr
}
