package demoproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startLine matches the line with which the demo server announces its
// address; the first group is the URL, the second the host:port.
var startLine = regexp.MustCompile(`listening on (http://(\S+))`)

// Config says how to start a server.
type Config struct {
	Bin  string   // the demo-server binary, from Binary or Build
	Args []string // flags; -addr 127.0.0.1:0 comes first, so Args may override it
	// Env is added to this process's environment, from which every
	// BODYPOOL_ variable is removed so that only Args and Env configure the
	// server.
	Env []string
}

// startTimeout bounds the wait for the start line and for /healthz to
// answer 200.
const startTimeout = 30 * time.Second

// Server is a demo server running as a child process on a loopback port.
// Stop must be called on every path once it is no longer needed: it is
// what ends the process. Its methods are safe for concurrent use.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT

	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{} // closed once the process was waited for
	waitErr        error
	scraper        *http.Client
}

// Start starts a server and waits until it has printed its start line and
// /healthz answers 200. The address must be a loopback one.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Bin == "" {
		return nil, errors.New("demoproc: Config.Bin is empty")
	}
	cmd := exec.Command(cfg.Bin, append([]string{"-addr", "127.0.0.1:0"}, cfg.Args...)...)
	cmd.Env = Environ(cfg.Env...)
	cmd.SysProcAttr = sysProcAttr()
	s := &Server{
		cmd:    cmd,
		stdout: new(output),
		stderr: new(output),
		exited: make(chan struct{}),
		// A connection per scrape, so that scrapes leave nothing behind in
		// the server's goroutine count.
		scraper: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second},
	}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("demoproc: starting %s: %w", cfg.Bin, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.awaitStart(ctx); err != nil {
		s.Stop(0)
		return nil, fmt.Errorf("demoproc: %s: %w\nstdout:\n%s\nstderr:\n%s", s, err, s.stdout, s.stderr)
	}
	return s, nil
}

// awaitStart waits for the start line, then asks /healthz. The server
// prints the line once it listens, so the request waits in the listen
// queue until it serves.
func (s *Server) awaitStart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		if m := startLine.FindStringSubmatch(s.stdout.String()); m != nil {
			if err := Loopback(m[2]); err != nil {
				return err
			}
			s.URL, s.Addr = m[1], m[2]
			break
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited at start: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("no start line: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	_, err := Get(ctx, s.scraper, s.URL+"/healthz", 1<<10)
	return err
}

// String describes the server by its command line.
func (s *Server) String() string { return strings.Join(s.cmd.Args, " ") }

// PID is the server's process id, for /proc.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stdout returns what the server wrote to standard output.
func (s *Server) Stdout() string { return s.stdout.String() }

// Stderr returns what the server wrote to standard error.
func (s *Server) Stderr() string { return s.stderr.String() }

// Signal sends sig to the server, unless it has exited.
func (s *Server) Signal(sig os.Signal) error {
	if err := s.cmd.Process.Signal(sig); !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Wait waits at most timeout for the server to exit and kills it if it has
// not. It returns how it exited: nil for status 0, the *exec.ExitError
// otherwise, or an error saying that it was killed. Later calls return
// the same.
func (s *Server) Wait(timeout time.Duration) error {
	select {
	case <-s.exited:
		return s.waitErr
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.exited:
		return s.waitErr
	case <-t.C:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("demoproc: %s did not exit within %s; killed", s, timeout)
}

// Stop asks the server to shut down (SIGTERM) and kills it if it has not
// exited within timeout. It returns what Wait returns. It is safe to call
// more than once.
func (s *Server) Stop(timeout time.Duration) error {
	_ = s.Signal(syscall.SIGTERM)
	return s.Wait(timeout)
}

// Scrape reads the server's /metrics, over a connection of its own.
func (s *Server) Scrape(ctx context.Context) (Metrics, error) {
	body, err := Get(ctx, s.scraper, s.URL+"/metrics", 16<<20)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(bytes.NewReader(body))
}

// Environ returns this process's environment without its BODYPOOL_
// variables, which configure the demo server, followed by extra
// (NAME=value): the environment of a server that only its flags and extra
// configure.
func Environ(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "BODYPOOL_") })
	return append(env, extra...)
}

// Loopback refuses any host:port but a loopback one: the harnesses load
// only servers on this machine.
func Loopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("demoproc: bad address %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("demoproc: refusing non-loopback address %q", hostport)
	}
	return nil
}

// output collects what the server writes to one of its streams.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
