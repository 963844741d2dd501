package loadcmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
	"github.com/loadrig/loadrig/internal/store"
)

// parseGRPC runs `load grpc` flag parsing and returns the options runF saw.
func parseGRPC(t *testing.T, args ...string) (*GRPCOptions, error) {
	t.Helper()
	var got *GRPCOptions
	cmd := NewCmdGRPC(testFactory(), func(o *GRPCOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestGRPCFlags(t *testing.T) {
	o, err := parseGRPC(t, "--call", "a.B/C", "--proto", "x.proto", "-I", "p1", "-I", "p2", "--data", `{"id":1}`,
		"-m", "k=v", "-m", "a: b", "--plaintext", "--connections", "4", "--stream-messages", "3",
		"--stream-interval", "5ms", "--max-recv-size", "1024", "--rows-mode", "random", "--seed", "9",
		"--rate", "100", "-d", "2s", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if o.Target != "127.0.0.1:9" || o.Call != "a.B/C" || strings.Join(o.Proto, ",") != "x.proto" || strings.Join(o.ImportPaths, ",") != "p1,p2" ||
		o.Data != `{"id":1}` || strings.Join(o.Metadata, "|") != "k=v|a: b" || !o.Plaintext || o.Connections != 4 ||
		o.StreamMessages != 3 || o.StreamInterval != 5*time.Millisecond || o.MaxRecvSize != 1024 || o.RowsMode != "random" || o.Seed != 9 {
		t.Fatalf("grpc flags: %+v", o)
	}
	if o.Load.Rate != 100 || o.Load.Duration != 2*time.Second {
		t.Fatalf("load flags: %+v", o.Load)
	}
	dopts, err := o.driverOptions()
	if err != nil {
		t.Fatal(err)
	}
	if dopts.TLS != nil || dopts.Connections != 4 || dopts.StreamMessages != 3 {
		t.Fatalf("driver options: %+v", dopts)
	}
	o, err = parseGRPC(t, "--call", "a.B/C", "--insecure", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if dopts, err = o.driverOptions(); err != nil || dopts.TLS == nil || !dopts.TLS.InsecureSkipVerify {
		t.Fatalf("--insecure: %+v, %v", dopts.TLS, err)
	}
}

func TestGRPCBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"127.0.0.1:9"}, "--call is required"},
		{[]string{"--call", "Nope", "127.0.0.1:9"}, "is not pkg.Service/Method"},
		{[]string{"--call", "a.B/C", "http://127.0.0.1:9"}, "without a scheme"},
		{[]string{"--call", "a.B/C", "--data", "{}", "--data-file", "x", "127.0.0.1:9"}, "use one"},
		{[]string{"--call", "a.B/C", "--plaintext", "--insecure", "127.0.0.1:9"}, "excludes --insecure"},
		{[]string{"--call", "a.B/C", "--connections", "0", "127.0.0.1:9"}, "--connections must be at least 1"},
		{[]string{"--call", "a.B/C", "--rows-mode", "zig", "127.0.0.1:9"}, "--rows-mode"},
		{[]string{"--call", "a.B/C"}, "the target host:port"},
	} {
		_, err := parseGRPC(t, c.args...)
		var fe *cmdutil.FlagError
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.want != "the target host:port" && !errors.As(err, &fe)) {
			t.Errorf("%v: %v; want a usage error containing %q", c.args, err, c.want)
		}
	}
}

// newGRPCTarget serves the reference gRPC server over a fast store.
func newGRPCTarget(t *testing.T) string {
	t.Helper()
	ds := domain.Generate(1, domain.Counts{Users: 10, Products: 50, ReviewsPerProduct: 1})
	s, err := grpcsrv.New(grpcsrv.Options{Catalog: store.New(ds, store.Options{Latency: store.Off, PerRow: store.Off})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr().String()
}

func TestGRPCRunEndToEnd(t *testing.T) {
	addr := newGRPCTarget(t)
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parseGRPC(t, "--plaintext", "-c", "2", "-n", "40", "-d", "30s", "-o", out,
		"--call", "loadrig.v1.ShopService/ListProducts", "--data", `{"page_size": 3}`, addr)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO, o.ToolVersion = ios, "loadrig e2e"
	if err := grpcRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Protocol != "grpc" || r.Target != addr || r.Requests.OK != 40 || r.StopReason != metrics.StopCount {
		t.Fatalf("result: %s %s %+v %s", r.Protocol, r.Target, r.Requests, r.StopReason)
	}
	if r.Messages == nil || r.Messages.Received != 120 || r.MessageLatency == nil {
		t.Fatalf("messages %+v latency %+v", r.Messages, r.MessageLatency)
	}
	if r.Cache == nil || r.Cache.Source != "x-cache" {
		t.Fatalf("cache: %+v", r.Cache)
	}
	if r.Workload != "loadrig.v1.ShopService/ListProducts "+addr {
		t.Fatalf("workload %q, want the method and target", r.Workload)
	}
	if !strings.Contains(stdout.String(), "40 total, 40 ok, 0 errors") {
		t.Fatalf("summary:\n%s", stdout)
	}
}

func TestGRPCRunUsageErrors(t *testing.T) {
	addr := newGRPCTarget(t)
	dataFile := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(dataFile, []byte(`{"idd": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--call", "loadrig.v1.ShopService/Get"}, "unknown method loadrig.v1.ShopService/Get; available:"},
		{[]string{"--call", "loadrig.v1.ShopService/GetProduct", "--data-file", dataFile}, "not valid JSON for loadrig.v1.GetProductRequest"},
		{[]string{"--call", "loadrig.v1.ShopService/GetProduct", "--data", "@" + dataFile + ".missing"}, "request data file"},
	} {
		o, err := parseGRPC(t, append([]string{"--plaintext", "-n", "1"}, append(c.args, addr)...)...)
		if err != nil {
			t.Fatal(err)
		}
		ios, _, _, _ := iostreams.Test()
		o.IO = ios
		err = grpcRun(t.Context(), o)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want a usage error (exit 2) containing %q", c.args, err, c.want)
		}
	}
	// TLS against a plaintext server: a hint, not a stack of transport errors.
	o, err := parseGRPC(t, "-n", "1", "--insecure", "--call", "loadrig.v1.ShopService/GetProduct", addr)
	if err != nil {
		t.Fatal(err)
	}
	o.IO, _, _, _ = iostreams.Test()
	if err := grpcRun(t.Context(), o); err == nil || !strings.Contains(err.Error(), "add --plaintext") {
		t.Errorf("TLS to plaintext: %v", err)
	}
}
