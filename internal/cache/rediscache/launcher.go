package rediscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
	ModeSpawned  = "spawned"            // redis-server child process on a unix socket in a private folder
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
	// DataDir makes a spawned redis-server persist: append-only file
	// (appendfsync everysec) in DataDir, created 0700 when missing, so a
	// Redis started again on the same folder has every write it
	// acknowledged before (write-behind's queue survives a crash). Empty:
	// no persistence, the working folder is the private temporary one.
	DataDir string
}

// Loss windows a spawned Redis states (Instance.LossWindow).
const (
	LossWindowVolatile   = "no persistence: writes not yet flushed to the store are lost if redis-server stops"
	LossWindowPersistent = "AOF appendfsync everysec: nothing acknowledged is lost if loadrig or redis-server crashes (each write reaches the file before its reply); up to 1 s if the machine itself crashes"
)

// Instance is a Redis that the process uses: the user's, a spawned child
// redis-server, or embedded miniredis.
type Instance struct {
	mode    string
	url     string
	addr    string
	binary  string
	ready   time.Duration
	sockDir string // 0700 temp folder holding the socket (removed by Close)
	dataDir string // persistent working folder; "" when volatile

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	out  *lockedBuffer
	mini *miniredis.Miniredis
}

// Start returns the Redis to use: opts.URL when given; otherwise a
// redis-server from PATH listening only on a unix socket in a fresh 0700
// temporary folder (no TCP port: nothing else on the machine can reach it,
// and loadrig checks INFO's process_id to be sure it talks to its own
// child), persistent when opts.DataDir is set; it is stopped by Close and
// killed with this process on Linux. Otherwise embedded miniredis. It logs
// which.
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
			in := &Instance{mode: ModeSpawned, binary: path, ready: ready, dataDir: opts.DataDir}
			err = in.prepare()
			if err == nil {
				if err = in.spawn(ctx); err == nil {
					log.Info("redis: spawned redis-server", "redis_mode", ModeSpawned, "socket", in.addr, "binary", path,
						"dir", in.workDir(), "loss_window", in.LossWindow())
					return in, nil
				}
				_ = os.RemoveAll(in.sockDir)
			}
			if opts.DataDir != "" {
				// Persistence was asked for: miniredis cannot give it.
				return nil, fmt.Errorf("spawn a persistent redis-server in %s: %w", opts.DataDir, err)
			}
			log.Warn("redis: could not spawn redis-server; falling back to embedded miniredis", "binary", path, "err", err)
		} else if opts.DataDir != "" {
			return nil, fmt.Errorf("write-behind over a database needs a persistent Redis: no redis-server on PATH (install redis-server or give --redis-url)")
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

// Addr is host:port of the server, or the unix socket path of a spawned
// one.
func (in *Instance) Addr() string { return in.addr }

// LossWindow states what a crash can lose of the writes this Redis
// acknowledged ("" for the user's Redis, whose persistence is theirs).
func (in *Instance) LossWindow() string {
	switch {
	case in.mode == ModeEmbedded:
		return "embedded miniredis, in process: writes not yet flushed to the store are lost when loadrig stops"
	case in.mode != ModeSpawned:
		return ""
	case in.dataDir != "":
		return LossWindowPersistent
	}
	return LossWindowVolatile
}

// DataDir is a persistent spawned server's folder, else "".
func (in *Instance) DataDir() string { return in.dataDir }

func (in *Instance) workDir() string {
	if in.dataDir != "" {
		return in.dataDir
	}
	return in.sockDir
}

// prepare makes the private socket folder (and the data folder).
func (in *Instance) prepare() error {
	dir, err := os.MkdirTemp("", "loadrig-redis-")
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	in.sockDir = dir
	in.addr = filepath.Join(dir, "redis.sock")
	in.url = "unix://" + in.addr
	if in.dataDir != "" {
		if err := os.MkdirAll(in.dataDir, 0o700); err != nil {
			return err
		}
	}
	return nil
}

func (in *Instance) spawn(ctx context.Context) error {
	args := []string{"--port", "0", "--unixsocket", in.addr, "--unixsocketperm", "700",
		"--dir", in.workDir(), "--save", "", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"}
	if in.dataDir != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec", "--appendfilename", "loadrig.aof")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command(in.binary, args...)
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

	c := redis.NewClient(&redis.Options{Network: "unix", Addr: in.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(in.ready)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = checkOwnChild(ictx, c, cmd.Process.Pid)
			cancel()
			if err != nil {
				in.Kill()
				return err
			}
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

// checkOwnChild verifies that the server answering is the child pid
// (INFO server's process_id), not something else on that address.
func checkOwnChild(ctx context.Context, c *redis.Client, pid int) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis-server INFO: %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v == strconv.Itoa(pid) {
				return nil
			}
			return fmt.Errorf("the Redis answering on the socket is process %s, not the redis-server loadrig started (%d)", v, pid)
		}
	}
	return errors.New("redis-server INFO has no process_id")
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
// is gone unless it persists (StartOptions.DataDir).
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
	if in.sockDir != "" {
		_ = os.RemoveAll(in.sockDir)
	}
	return nil
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
