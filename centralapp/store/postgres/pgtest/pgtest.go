// Package pgtest runs a throwaway PostgreSQL 15 cluster for tests: initdb in
// a temporary folder, the server on a free port of 127.0.0.1 with trust
// authentication for that address only, and a fresh database per test.
//
// A test binary starts one cluster in TestMain and shares it; tests ask it
// for databases, in parallel if they like (New starts one for a single
// test instead):
//
//	var cluster *pgtest.Cluster
//
//	func TestMain(m *testing.M) { pgtest.Main(m, &cluster, pgtest.Options{}) }
//
//	func TestX(t *testing.T) {
//		dsn := cluster.NewDatabase(t) // skips when PostgreSQL is not installed
//		...
//	}
//
// The server runs as a child of the test process that dies with it (even
// when a test times out and TestMain's cleanup never runs), as the postgres
// user when the tests run as root, since initdb and postgres refuse root.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// BinDir is where Debian's postgresql-15 package puts the server programs.
const BinDir = "/usr/lib/postgresql/15/bin"

// ErrNotInstalled means the PostgreSQL programs are missing; tests skip.
var ErrNotInstalled = errors.New("PostgreSQL 15 is not installed (" + BinDir +
	"): install it with `apt-get install postgresql-15` (.ci/run does) to run the PostgreSQL tests")

// Options tune a cluster.
type Options struct {
	// Durable keeps PostgreSQL's crash safety (fsync, synchronous
	// commit), for benchmarks that must count it. Tests run without it.
	Durable bool
	// Settings are more server settings (name → value).
	Settings map[string]string
	// Template, if set, prepares the database every NewDatabase copies
	// (say, migrates a schema), once per cluster, so each test does not
	// pay for it.
	Template func(ctx context.Context, dsn string) error
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
	err  error         // how it exited, once done is closed

	mu       sync.Mutex // guards admin
	admin    *pgx.Conn
	seq      atomic.Int64
	template string // the database NewDatabase copies

	stopOnce sync.Once
}

// Main runs the tests of m with a cluster started with opts in *c, checks that they left no
// goroutine behind (goleak; the cluster's own is not counted), stops the
// cluster and exits. When PostgreSQL is not installed *c stays nil and
// NewDatabase skips; any other failure to start fails the run.
func Main(m *testing.M, c **Cluster, opts Options) {
	cl, err := Start(context.Background(), opts)
	switch {
	case errors.Is(err, ErrNotInstalled):
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	*c = cl
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("os/exec.(*Cmd).Wait"),
			goleak.IgnoreAnyFunction("github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest.(*Cluster).run.func1")); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = 1
		}
	}
	if cl != nil {
		if err := cl.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// New starts a cluster for t alone, stopped when t ends; for a package
// with one or two PostgreSQL tests. It skips t when PostgreSQL is not
// installed.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), opts)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// Start makes and starts a cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	initdb := filepath.Join(BinDir, "initdb")
	if _, err := os.Stat(initdb); err != nil {
		return nil, ErrNotInstalled
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to this user, and the
	// server may run as another.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, template: "template0"}
	if err := c.start(ctx, cred, opts); err != nil {
		c.Stop()
		return nil, err
	}
	if opts.Template != nil {
		if err := c.exec(ctx, "CREATE DATABASE template_test"); err != nil {
			c.Stop()
			return nil, err
		}
		if err := opts.Template(ctx, c.dsn("template_test")); err != nil {
			c.Stop()
			return nil, fmt.Errorf("template: %w", err)
		}
		c.template = "template_test"
	}
	return c, nil
}

// credential is who runs the server: the postgres user when this process
// is root, else nil (this user).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) start(ctx context.Context, cred *syscall.Credential, opts Options) error {
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	data := filepath.Join(c.dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(BinDir, "initdb"), "--pgdata", data, "--username", "postgres",
		"--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Trust, and only over TCP from 127.0.0.1: no socket, no other address.
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte("host all all 127.0.0.1/32 trust\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "",
		"max_connections":         "200",
		"logging_collector":       "off",
		"log_min_messages":        "warning",
	}
	if !opts.Durable {
		for k, v := range map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"} {
			settings[k] = v
		}
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	// The port is free when asked; another process may take it before
	// the server binds, so a failed start tries another.
	var err error
	for range 3 {
		if c.port, err = freePort(); err != nil {
			return err
		}
		settings["port"] = strconv.Itoa(c.port)
		if err = c.run(ctx, data, cred, settings); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts the server and waits until it takes connections.
func (c *Cluster) run(ctx context.Context, data string, cred *syscall.Credential, settings map[string]string) error {
	args := []string{"-D", data}
	for k, v := range settings {
		args = append(args, "-c", k+"="+v)
	}
	log, err := os.Create(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = log, log
	// SIGQUIT, postgres's immediate shutdown, if this process dies
	// without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		if err == nil {
			c.admin = conn
			return nil
		}
		select {
		case <-c.done:
			out, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			return fmt.Errorf("postgres exited: %v\n%s", c.err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("postgres did not take connections in 30s: %w", err)
		}
	}
}

func (c *Cluster) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Port is the server's port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// NewDatabase makes an empty database for t, dropped when t ends, and
// returns its DSN. It skips t if c is nil (PostgreSQL is not installed).
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	if c == nil {
		t.Skip(ErrNotInstalled)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	dsn, err := c.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may have left connections open.
		if err := c.exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// CreateDatabase makes an empty database (a copy of the template, if the
// cluster has one) that lives as long as the cluster, and returns its DSN.
// name must be an SQL identifier.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := c.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+c.template+
		" STRATEGY FILE_COPY"); err != nil {
		return "", err
	}
	return c.dsn(name), nil
}

func (c *Cluster) exec(ctx context.Context, q string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin == nil {
		return errors.New("cluster stopped")
	}
	_, err := c.admin.Exec(ctx, q)
	return err
}

// Stop shuts the server down (fast shutdown: sessions are ended) and
// removes the cluster's folder. Stopping twice is harmless.
func (c *Cluster) Stop() error {
	var err error
	c.stopOnce.Do(func() {
		c.mu.Lock()
		if c.admin != nil {
			c.admin.Close(context.Background())
			c.admin = nil
		}
		c.mu.Unlock()
		if c.cmd != nil {
			c.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-c.done:
			case <-time.After(30 * time.Second):
				c.kill()
				err = errors.New("postgres did not stop in 30s; killed")
			}
		}
		if rmErr := os.RemoveAll(c.dir); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	})
	return err
}

func (c *Cluster) kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// ServerLog returns what the server logged so far, for a failing test.
func (c *Cluster) ServerLog() string {
	out, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return strings.TrimSpace(string(out))
}
