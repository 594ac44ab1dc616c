package abtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a demo server running as a child process on a loopback port.
// Stop must be called once it is no longer needed, on every path: it is
// what ends the process.
type Server struct {
	URL string // http://127.0.0.1:PORT
	PID int

	cmd      *exec.Cmd
	log      *tail
	exited   chan struct{} // closed when the process has been waited for
	waitErr  error
	stopOnce sync.Once
}

// ServerConfig says how to start a server.
type ServerConfig struct {
	Bin  string
	Args []string // -addr 127.0.0.1:0 is added first
	// Env is added to the harness's environment, from which every
	// BODYPOOL_ variable is removed so that only Args configure the server.
	Env []string
	// StartTimeout bounds the wait for the listening line and /healthz;
	// default 15 s.
	StartTimeout time.Duration
}

// listeningPrefix starts the line with which the demo server announces
// its address.
const listeningPrefix = "listening on http://"

// StartServer starts a server and waits until it answers /healthz. The
// process is in a process group of its own, so a Ctrl-C in the terminal
// reaches only the harness, which then stops it; and it is killed by the
// kernel if the harness dies first.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	cmd := exec.Command(cfg.Bin, append([]string{"-addr", "127.0.0.1:0"}, cfg.Args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BODYPOOL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, cfg.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s := &Server{cmd: cmd, log: &tail{max: 8 << 10}, exited: make(chan struct{})}
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("abtest: starting %s: %w", cfg.Bin, err)
	}
	s.PID = cmd.Process.Pid

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, line)
			if _, rest, ok := strings.Cut(line, listeningPrefix); ok && !announced {
				if f := strings.Fields(rest); len(f) > 0 {
					announced = true
					addr <- f[0]
				}
			}
		}
		// Keep draining, so the server never blocks on a full pipe.
		_, _ = io.Copy(s.log, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-addr:
		if err := checkLoopback(a); err != nil {
			s.Stop(0)
			return nil, err
		}
		s.URL = "http://" + a
	case <-s.exited:
		return nil, fmt.Errorf("abtest: server exited at start (%v): %s", s.waitErr, s.log)
	case <-timer.C:
		s.Stop(0)
		return nil, fmt.Errorf("abtest: server announced no address within %s: %s", timeout, s.log)
	case <-ctx.Done():
		s.Stop(0)
		return nil, ctx.Err()
	}
	if err := s.waitHealthy(ctx, timer.C); err != nil {
		s.Stop(0)
		return nil, err
	}
	return s, nil
}

func (s *Server) waitHealthy(ctx context.Context, deadline <-chan time.Time) error {
	client := &http.Client{Transport: newTransport(1, 0), Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-deadline:
			return fmt.Errorf("abtest: server at %s not healthy: %v", s.URL, err)
		case <-s.exited:
			return fmt.Errorf("abtest: server exited (%v): %s", s.waitErr, s.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Status reads the server's memory figures; call it before Stop.
func (s *Server) Status() (ProcStatus, error) { return ReadProcStatus(s.PID) }

// Stop asks the server to shut down (SIGTERM), kills it (SIGKILL) if it
// has not exited within grace, and waits for it. It is safe to call more
// than once; later calls only wait.
func (s *Server) Stop(grace time.Duration) {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-s.exited:
			return
		case <-t.C:
		}
		_ = s.cmd.Process.Kill()
	})
	<-s.exited
}

// Log returns the last lines the server wrote.
func (s *Server) Log() string { return s.log.String() }

// checkLoopback refuses any address but a loopback one: the harness loads
// only servers on this machine.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("abtest: bad address %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("abtest: refusing non-loopback address %q", hostport)
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// errNotLoopback is returned by the harness's dialer for any other address.
var errNotLoopback = errors.New("abtest: refusing to dial a non-loopback address")

// newTransport returns the client transport for conns connections to one
// loopback server: keep-alive, no proxy, HTTP/1.1 only, no transparent
// compression, and a write buffer of writeBuffer bytes per connection.
func newTransport(conns, writeBuffer int) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if checkLoopback(addr) != nil {
				return nil, fmt.Errorf("%w: %s", errNotLoopback, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		WriteBufferSize:       max(writeBuffer, 4<<10),
		ReadBufferSize:        64 << 10,
	}
}
