package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Cluster is a running throwaway Postgres.
type Cluster struct {
	bin     string // directory of initdb, pg_ctl, createdb
	dir     string // temp root: data/, sock/, log
	port    int
	asUser  *user.User // non-nil: commands run as this user (we are root)
	mu      sync.Mutex
	running bool
	dbs     atomic.Int64
}

// BinDir finds the Postgres server binaries, or "" when none exist.
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// Start initialises and starts a cluster, or returns an error saying why
// it could not. A missing installation is ErrNoBinaries.
func Start() (*Cluster, error) {
	bin := BinDir()
	if bin == "" {
		return nil, ErrNoBinaries
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run initdb as: %v", err)
		}
		c.asUser = u
	}
	dir, err := os.MkdirTemp("", "loadrig-pg-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o700); err != nil {
		return nil, err
	}
	if c.asUser != nil {
		uid, _ := strconv.Atoi(c.asUser.Uid)
		gid, _ := strconv.Atoi(c.asUser.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(p, uid, gid); err != nil {
				c.remove()
				return nil, err
			}
		}
	}
	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		c.remove()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; ; attempt++ { // the free port can be taken between probe and bind
		if c.port, err = freePort(); err != nil {
			c.remove()
			return nil, err
		}
		if err = c.Start(); err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

// ErrNoBinaries says no Postgres server binaries were found.
var ErrNoBinaries = fmt.Errorf("no Postgres server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH; install them: apt-get install postgresql")

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asUser != nil {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Start starts the server (again, after Stop) on the same port and data.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		c.port, filepath.Join(c.dir, "sock"))
	out, err := c.run("pg_ctl", "-D", c.data(), "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "30", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v: %s %s", err, out, tail(log))
	}
	c.running = true
	return nil
}

// Stop stops the server (fast shutdown: connections are cut), keeping the
// data for Start.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	out, err := c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "30", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	c.running = false
	return nil
}

// Close stops the server and deletes the cluster.
func (c *Cluster) Close() {
	_ = c.Stop()
	c.remove()
}

func (c *Cluster) remove() { _ = os.RemoveAll(c.dir) }

// Port is the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL returns the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(name string) (string, error) {
	if out, err := c.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", name); err != nil {
		return "", fmt.Errorf("createdb %s: %v: %s", name, err, out)
	}
	return c.URL(name), nil
}

// NewDatabase creates a fresh database for t (skipping t when c is nil: no
// binaries, outside CI) and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	if c == nil {
		t.Skip("SKIPPED: no Postgres server binaries on this machine (apt-get install postgresql); the Postgres tests did not run")
	}
	url, err := c.CreateDatabase(fmt.Sprintf("t%d_%d", os.Getpid(), c.dbs.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Main is a test package's TestMain body: it starts one cluster, stores it
// in *cl, runs m, removes the cluster and exits with m's code. Without
// binaries it prints a loud warning and runs the tests with *cl nil (they
// skip through NewDatabase) — or, with CI=true, fails without running them.
// m is a *testing.M, or a wrapper whose Run also cleans up after it.
func Main(m interface{ Run() int }, cl **Cluster) {
	c, err := Start()
	switch {
	case err == ErrNoBinaries && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "\n!!!! WARNING: "+err.Error()+"\n!!!! every Postgres test in this package is SKIPPED\n")
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgtest: cannot start a Postgres cluster:", err)
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "pgtest: throwaway Postgres cluster (%s) on 127.0.0.1:%d in %s\n", c.bin, c.port, c.dir)
	}
	*cl = c
	code := m.Run()
	if c != nil {
		c.Close()
	}
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return b
}
