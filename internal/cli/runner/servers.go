package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/cpupin"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/profile"
)

// StartTimeout bounds how long a server may take to print its listeners.
const StartTimeout = 30 * time.Second

// ServerSet is a variant's running servers.
type ServerSet struct {
	// Addrs maps server name -> listener -> address ("" is the first).
	Addrs map[string]map[string]string
	stops []func() error
}

// ServerOptions say how servers run.
type ServerOptions struct {
	// InProc runs every server inside this process instead of as a child
	// `loadrig serve` of the same binary. Default false.
	InProc bool
	// Executable is the loadrig binary for children. Default os.Executable.
	Executable string
	// Log receives the servers' logs (stderr). Default: discarded.
	Log io.Writer
	// Extra are flags added to every server (e.g. --redis-url).
	Extra func(kind string) []string
	// Flags are the commands' flags (for the listen-address flags).
	Flags *cmdflags.Commands
	// Getenv is the environment of in-process servers.
	Getenv func(string) string
	// CPUs, when set, pins every child server (all its threads) to these
	// CPUs once it listens (Linux). Not with InProc.
	CPUs []int
}

// listenerLine parses "loadrig NAME listening on ADDR".
func listenerLine(line string) (name, addr string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "loadrig ")
	if !ok {
		return "", "", false
	}
	name, addr, ok = strings.Cut(rest, " listening on ")
	if !ok || addr == "" {
		return "", "", false
	}
	return strings.ReplaceAll(name, " ", "-"), strings.TrimSpace(addr), true
}

// serverArgs returns `serve KIND` arguments: every listen address on a
// free loopback port, then the plan's options.
func serverArgs(s profile.ServerPlan, o ServerOptions) (args []string, listeners int) {
	args = []string{"serve", s.Kind}
	for _, n := range o.Flags.Names(cmdflags.Serve, s.Kind) {
		if n == "addr" || strings.HasSuffix(n, "-addr") {
			args = append(args, "--"+n+"=127.0.0.1:0")
			listeners++
		}
	}
	args = append(args, s.Args...)
	if o.Extra != nil {
		args = append(args, o.Extra(s.Kind)...)
	}
	return args, listeners
}

// StartServers starts the plan's servers in order and waits until each
// has printed all its listeners.
func StartServers(ctx context.Context, plan *profile.RunPlan, o ServerOptions) (*ServerSet, error) {
	set := &ServerSet{Addrs: map[string]map[string]string{}}
	for _, s := range plan.Servers {
		args, n := serverArgs(s, o)
		var (
			addrs map[string]string
			stop  func() error
			err   error
		)
		if o.InProc {
			addrs, stop, err = startInProc(ctx, args, n, o)
		} else {
			addrs, stop, err = startChild(ctx, args, n, o)
		}
		if err != nil {
			_ = set.Stop()
			return nil, fmt.Errorf("server %s (loadrig %s): %w", s.Name, strings.Join(args, " "), err)
		}
		set.Addrs[s.Name] = addrs
		set.stops = append(set.stops, stop)
	}
	return set, nil
}

// Stop stops the servers, last first, gracefully.
func (s *ServerSet) Stop() error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i]())
	}
	s.stops = nil
	return errors.Join(errs...)
}

// readListeners reads lines until n listeners are known.
func readListeners(r io.Reader, n int, first chan<- map[string]string) {
	addrs := map[string]string{}
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		if name, addr, ok := listenerLine(sc.Text()); ok && !sent {
			if addrs[""] == "" {
				addrs[""] = addr
			}
			addrs[name] = addr
			if len(addrs)-1 >= n {
				first <- addrs
				sent = true
			}
		}
	}
	if !sent {
		close(first)
	}
	_, _ = io.Copy(io.Discard, r)
}

func waitListeners(ctx context.Context, ch <-chan map[string]string, done <-chan struct{}, exitErr func() error) (map[string]string, error) {
	t := time.NewTimer(StartTimeout)
	defer t.Stop()
	select {
	case a, ok := <-ch:
		if ok {
			return a, nil
		}
		<-done
		return nil, fmt.Errorf("exited before listening: %v", exitErr())
	case <-done:
		return nil, fmt.Errorf("exited before listening: %v", exitErr())
	case <-t.C:
		return nil, fmt.Errorf("did not listen within %s", StartTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func startChild(ctx context.Context, args []string, n int, o ServerOptions) (map[string]string, func() error, error) {
	exe := o.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, nil, err
		}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	cmd.Stderr = o.Log
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	setPdeathsig(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	ch := make(chan map[string]string, 1)
	go readListeners(out, n, ch)
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	exitErr := func() error { return waitErr }
	stop := func() error {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
			return nil
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("server %s did not stop within 15s; killed", args[1])
		}
	}
	addrs, err := waitListeners(ctx, ch, done, exitErr)
	if err == nil && len(o.CPUs) > 0 {
		err = cpupin.Pin(cmd.Process.Pid, o.CPUs)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		return nil, nil, err
	}
	return addrs, stop, nil
}

func startInProc(ctx context.Context, args []string, n int, o ServerOptions) (map[string]string, func() error, error) {
	pr, pw := io.Pipe()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	ios := iostreams.System(strings.NewReader(""), pw, logw, getenv)
	tree := cmdflags.Tree(cmdutil.NewFactory(ios, getenv), cmdflags.Serve)
	tree.SetArgs(args[1:])
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = tree.ExecuteContext(sctx)
		pw.Close()
		close(done)
	}()
	ch := make(chan map[string]string, 1)
	go readListeners(pr, n, ch)
	exitErr := func() error { return runErr }
	stop := func() error {
		cancel()
		<-done
		return runErr
	}
	addrs, err := waitListeners(ctx, ch, done, exitErr)
	if err != nil {
		cancel()
		<-done
		return nil, nil, err
	}
	return addrs, stop, nil
}
