package rediscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Redis modes reported by Instance.Mode (and by the servers' /stats as
// redis_mode).
const (
	ModeExternal = "external"           // the user's --redis-url
	ModeSpawned  = "spawned"            // redis-server child process on a free loopback port
	ModeEmbedded = "embedded-miniredis" // in-process miniredis: no redis-server on PATH
)

// StartOptions configure Start.
type StartOptions struct {
	// URL is the user's Redis (--redis-url). When set, nothing is started
	// and the mode is ModeExternal.
	URL string
	// Binary is the redis-server to spawn; empty means "redis-server" looked
	// up on PATH.
	Binary string
	// NoSpawn skips redis-server and goes straight to embedded miniredis.
	NoSpawn bool
	// ReadyTimeout bounds the wait for a spawned server to answer PING.
	// Zero means 5s.
	ReadyTimeout time.Duration
	// Logger receives one line saying which Redis is used. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Instance is a Redis that the process uses: the user's, a spawned child
// redis-server, or embedded miniredis.
type Instance struct {
	mode   string
	url    string
	addr   string
	binary string
	ready  time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	out  *lockedBuffer
	mini *miniredis.Miniredis
}

// Start returns the Redis to use: opts.URL when given; otherwise a
// redis-server from PATH spawned on a free 127.0.0.1 port with persistence
// off (stopped by Close, and killed with this process on Linux); otherwise
// embedded miniredis. It logs which.
func Start(ctx context.Context, opts StartOptions) (*Instance, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ready := opts.ReadyTimeout
	if ready <= 0 {
		ready = 5 * time.Second
	}
	if opts.URL != "" {
		in := &Instance{mode: ModeExternal, url: opts.URL}
		if o, err := redis.ParseURL(opts.URL); err == nil {
			in.addr = o.Addr
		}
		log.Info("redis: using the given server", "redis_mode", ModeExternal, "url", redactURL(opts.URL))
		return in, nil
	}
	if !opts.NoSpawn {
		bin := opts.Binary
		if bin == "" {
			bin = "redis-server"
		}
		if path, err := exec.LookPath(bin); err == nil {
			in := &Instance{mode: ModeSpawned, binary: path, ready: ready}
			var err error
			for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
				var port int
				if port, err = freePort(); err != nil {
					break
				}
				in.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
				if err = in.spawn(ctx); err == nil {
					in.url = "redis://" + in.addr
					log.Info("redis: spawned redis-server", "redis_mode", ModeSpawned, "addr", in.addr, "binary", path)
					return in, nil
				}
			}
			log.Warn("redis: could not spawn redis-server; falling back to embedded miniredis", "binary", path, "err", err)
		}
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded miniredis: %w", err)
	}
	in := &Instance{mode: ModeEmbedded, mini: m, addr: m.Addr(), url: "redis://" + m.Addr()}
	log.Info("redis: no redis-server on PATH; using embedded miniredis", "redis_mode", ModeEmbedded, "addr", in.addr)
	return in, nil
}

// Mode is ModeExternal, ModeSpawned or ModeEmbedded.
func (in *Instance) Mode() string { return in.mode }

// URL is the redis:// URL to connect to.
func (in *Instance) URL() string { return in.url }

// Addr is host:port of the server.
func (in *Instance) Addr() string { return in.addr }

func (in *Instance) spawn(ctx context.Context) error {
	host, port, _ := net.SplitHostPort(in.addr)
	cmd := exec.Command(in.binary,
		"--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	in.mu.Lock()
	in.cmd, in.done, in.out = cmd, done, out
	in.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: in.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(in.ready)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start: %s", bytes.TrimSpace(out.Bytes()))
		case <-ctx.Done():
			in.Kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.Kill()
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %s", in.addr, in.ready, bytes.TrimSpace(out.Bytes()))
		}
	}
}

// Kill stops the server abruptly (SIGKILL; miniredis: Close) but keeps its
// address, so Restart can bring it back on the same port. Tests use it to
// take Redis away mid-run; it is a no-op for an external Redis.
func (in *Instance) Kill() {
	in.mu.Lock()
	cmd, done, mini := in.cmd, in.done, in.mini
	in.cmd = nil
	in.mu.Unlock()
	switch {
	case cmd != nil:
		_ = cmd.Process.Kill()
		<-done
	case mini != nil:
		mini.Close()
	}
}

// Restart starts the server again on the same address after Kill. The data
// is gone (no persistence).
func (in *Instance) Restart(ctx context.Context) error {
	switch in.mode {
	case ModeSpawned:
		in.mu.Lock()
		running := in.cmd != nil
		in.mu.Unlock()
		if running {
			return errors.New("redis-server is still running")
		}
		return in.spawn(ctx)
	case ModeEmbedded:
		if err := in.mini.Restart(); err != nil {
			return err
		}
		in.mini.FlushAll() // like a redis-server without persistence
		return nil
	}
	return errors.New("cannot restart an external redis")
}

// FastForward moves embedded miniredis's TTL clock by d (miniredis does not
// expire keys in real time); it is a no-op for a real server, whose TTLs
// run on their own. Tests that wait for an expiry call it after waiting.
func (in *Instance) FastForward(d time.Duration) {
	if in.mini != nil {
		in.mini.FastForward(d)
	}
}

// Close stops a spawned server (SIGTERM, then SIGKILL after 3s) or embedded
// miniredis; an external Redis is left alone.
func (in *Instance) Close() error {
	in.mu.Lock()
	cmd, done, mini := in.cmd, in.done, in.mini
	in.cmd = nil
	in.mu.Unlock()
	switch {
	case cmd != nil:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	case mini != nil:
		mini.Close()
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CheckURL reports whether s is a Redis URL go-redis accepts
// (redis://, rediss:// or unix://), so a bad --redis-url is a usage error
// before anything starts rather than a failure after.
func CheckURL(s string) error {
	if _, err := redis.ParseURL(s); err != nil {
		return fmt.Errorf("redis URL %q: %s", s, strings.TrimPrefix(err.Error(), "redis: "))
	}
	return nil
}

func redactURL(s string) string {
	o, err := redis.ParseURL(s)
	if err != nil {
		return "(unparsable)"
	}
	return o.Addr
}

// lockedBuffer collects a child's output (bounded to 64 KiB).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 64<<10 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
