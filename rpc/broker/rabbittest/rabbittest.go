// Package rabbittest runs a private RabbitMQ node, with the STOMP plugin,
// for tests: as the current user, in a temporary directory, on free
// loopback ports, with its own Erlang cookie and its own epmd, so that it
// never meets a system RabbitMQ.
//
// Starting a node takes 5-15 seconds, so a test binary shares one:
//
//	func TestMain(m *testing.M) { os.Exit(rabbittest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		srv := rabbittest.Shared(t) // skips if rabbitmq-server is missing
//		conn, err := broker.Dial(ctx, srv.URL(), broker.Options{})
//		…
//	}
//
// Shared skips the test when rabbitmq-server is not installed (Debian
// package rabbitmq-server) or in -short mode, except that with CI=true a
// missing rabbitmq-server fails it.
package rabbittest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// ErrNotInstalled is returned by Find and Start when there is no
// rabbitmq-server (or no erl/epmd) on this machine.
var ErrNotInstalled = errors.New("rabbitmq-server not installed")

// The node's only user. RabbitMQ lets guest in from loopback only, which
// is all a test needs.
const (
	User     = "guest"
	Password = "guest"
)

// Find returns the path of the rabbitmq-server start script. It prefers
// $RABBITMQ_SERVER, then Debian's /usr/lib/rabbitmq/bin/rabbitmq-server
// (the /usr/sbin one switches to the rabbitmq user), then $PATH.
func Find() (string, error) {
	candidates := []string{os.Getenv("RABBITMQ_SERVER"), "/usr/lib/rabbitmq/bin/rabbitmq-server"}
	var script string
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			script = c
			break
		}
	}
	if script == "" {
		p, err := exec.LookPath("rabbitmq-server")
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotInstalled, err)
		}
		script = p
	}
	for _, bin := range []string{"erl", "epmd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotInstalled, err)
		}
	}
	return script, nil
}

// Server is one private RabbitMQ node.
type Server struct {
	// Dir holds the node's configuration, data and logs.
	Dir string
	// NodeName is the Erlang node name, ff<random>@localhost.
	NodeName string
	// STOMPAddr is the loopback address of the STOMP listener.
	STOMPAddr string

	script string
	env    []string

	mu     sync.Mutex
	node   *process
	epmd   *process
	closed bool
}

// process is a child started in its own process group.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid after exited is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies, so does the node.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	// Whatever is left in the group (erl_child_setup, inet_gethost…).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.exited
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Start starts a node and waits, until ctx is done, for its STOMP
// listener to accept a CONNECT.
func Start(ctx context.Context) (*Server, error) {
	script, err := Find()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("rabbittest-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("rabbittest: %w", err)
	}
	s, err := setup(dir, script)
	if err == nil {
		err = s.startEPMD(ctx)
	}
	if err == nil {
		err = s.startNode(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// removeStale removes the directories of nodes whose test binary died
// without cleaning up (a test timeout, say); Pdeathsig took the nodes.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "rabbittest-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

func setup(dir, script string) (*Server, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, fmt.Errorf("rabbittest: %w", err)
	}
	amqp, stompPort, dist, epmd := ports[0], ports[1], ports[2], ports[3]
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s := &Server{
		Dir:       dir,
		NodeName:  "ff" + hex.EncodeToString(rnd[:]) + "@localhost",
		STOMPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(stompPort)),
		script:    script,
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return s, fmt.Errorf("rabbittest: %w", err)
		}
	}
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
stomp.listeners.tcp.1 = 127.0.0.1:%d
loopback_users.guest = true
default_user = %s
default_pass = %s
default_vhost = /
disk_free_limit.absolute = 1MB
log.console = false
log.file.level = info
`, amqp, stompPort, User, Password)
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[rabbitmq_stomp].\n",
		"rabbitmq-env.conf": "",
		// A private cookie: the node's distribution port is not shared.
		"home/.erlang.cookie": "FF" + hex.EncodeToString(rnd[:]) + "COOKIE",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return s, fmt.Errorf("rabbittest: %w", err)
		}
	}
	s.env = append(os.Environ(),
		"HOME="+home,
		"LC_ALL=C.UTF-8",
		"RABBITMQ_NODENAME="+s.NodeName,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqp),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"ERL_EPMD_PORT="+strconv.Itoa(epmd),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
		// Use our epmd; do not spin schedulers on a shared machine.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-start_epmd false +sbwt none +sbwtdcpu none +sbwtdio none",
		// Makes the start script exec erl instead of running it in the
		// background, so the node is our child (and Pdeathsig reaches it).
		"RUNNING_UNDER_SYSTEMD=true",
		"NOTIFY_SOCKET=",
	)
	return s, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (s *Server) envValue(key string) string {
	for i := len(s.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(s.env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// startEPMD starts an epmd of our own, in the foreground, on ERL_EPMD_PORT.
func (s *Server) startEPMD(ctx context.Context) error {
	port := s.envValue("ERL_EPMD_PORT")
	out, err := os.Create(filepath.Join(s.Dir, "log", "epmd.log"))
	if err != nil {
		return fmt.Errorf("rabbittest: %w", err)
	}
	defer out.Close()
	cmd := exec.Command("epmd", "-port", port, "-address", "127.0.0.1", "-relaxed_command_check")
	cmd.Env, cmd.Stdout, cmd.Stderr = s.env, out, out
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("rabbittest: start epmd: %w", err)
	}
	s.mu.Lock()
	s.epmd = p
	s.mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", port)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rabbittest: epmd did not start: %w", ctx.Err())
		case <-p.exited:
			return fmt.Errorf("rabbittest: epmd exited: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startNode starts the node and waits for its STOMP listener.
func (s *Server) startNode(ctx context.Context) error {
	out, err := os.OpenFile(filepath.Join(s.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("rabbittest: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(s.script)
	cmd.Dir = s.Dir
	cmd.Env, cmd.Stdout, cmd.Stderr = s.env, out, out
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("rabbittest: start %s: %w", s.script, err)
	}
	s.mu.Lock()
	s.node = p
	s.mu.Unlock()
	for {
		if err := s.ping(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rabbittest: node did not accept STOMP at %s: %w\n%s", s.STOMPAddr, ctx.Err(), s.logTail())
		case <-p.exited:
			return fmt.Errorf("rabbittest: node exited: %v\n%s", p.err, s.logTail())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ping makes one STOMP CONNECT.
func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := stomp.DialWithContext(ctx, "tcp", s.STOMPAddr,
		stomp.ConnOpt.Host("/"),
		stomp.ConnOpt.Login(User, Password),
		stomp.ConnOpt.HeartBeat(0, 0),
		stomp.ConnOpt.Logger(quiet{}))
	if err != nil {
		return err
	}
	return c.Disconnect()
}

// logTail returns the end of the node's output and log, for error messages.
func (s *Server) logTail() string {
	var b bytes.Buffer
	for _, name := range []string{"stdout.log", s.NodeName + ".log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, "log", name))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", name, data)
	}
	return b.String()
}

// URL returns the stomp:// URL to Dial the node with.
func (s *Server) URL() string {
	u := url.URL{Scheme: "stomp", Host: s.STOMPAddr, User: url.UserPassword(User, Password)}
	return u.String()
}

// Stop stops the node (gracefully, then by force). Its data directory,
// durable queues and persistent messages included, stays for Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.node
	s.node = nil
	s.mu.Unlock()
	if p != nil {
		p.stop(30 * time.Second)
	}
	return nil
}

// Restart stops the node and starts it again with the same name, ports
// and data, waiting until ctx is done for its STOMP listener.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("rabbittest: restart after close")
	}
	return s.startNode(ctx)
}

// Close stops the node and its epmd and removes its directory. It is safe
// to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.Stop()
	s.mu.Lock()
	e := s.epmd
	s.epmd = nil
	s.mu.Unlock()
	if e != nil {
		e.stop(5 * time.Second)
	}
	if os.Getenv("RABBITTEST_KEEP") != "" {
		return nil
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return fmt.Errorf("rabbittest: %w", err)
	}
	return nil
}

// Running reports whether the node process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node != nil && s.node.running()
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's node, starting it on first use. It
// skips tb when rabbitmq-server is not installed (failing it instead when
// CI=true) or when testing.Short, and fails tb when the node does not start.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("rabbittest: RabbitMQ tests skipped in -short mode")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = Start(ctx)
	})
	if errors.Is(shared.err, ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("rabbittest: %v (CI=true requires it: apt-get install rabbitmq-server)", shared.err)
		}
		tb.Skipf("rabbittest: %v; install the Debian package rabbitmq-server to run this test", shared.err)
	}
	if shared.err != nil {
		tb.Fatalf("rabbittest: %v", shared.err)
	}
	return shared.srv
}

// Main runs the tests and then stops the shared node, if one was started.
// Use it from TestMain: os.Exit(rabbittest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return code
}

// quiet is a go-stomp logger that logs nothing.
type quiet struct{}

func (quiet) Debugf(string, ...any)   {}
func (quiet) Infof(string, ...any)    {}
func (quiet) Warningf(string, ...any) {}
func (quiet) Errorf(string, ...any)   {}
func (quiet) Debug(string)            {}
func (quiet) Info(string)             {}
func (quiet) Warning(string)          {}
func (quiet) Error(string)            {}
