package reliability

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// Bounds of the checks every case ends with.
const (
	// settleTimeout bounds the wait for in-use bytes to return to zero and
	// goroutines to their baseline after a case.
	settleTimeout = 20 * time.Second
	// goroutineMargin is how many goroutines above its baseline the server
	// may keep after a case: connections closing late, a timer.
	goroutineMargin = 4
	// stopTimeout bounds the wait for the server to exit after SIGTERM; its
	// grace period is 10s.
	stopTimeout = 30 * time.Second
)

// Metric names, as the server exports them.
const (
	inUseBytes   = `bufpool_in_use_bytes{pool="sized"}`
	idleBytes    = `bufpool_idle_bytes{pool="sized"}`
	budgetUsed   = `bufpool_budget_used_bytes{pool="sized"}`
	goroutines   = "go_goroutines"
	heapInUse    = "go_memstats_heap_inuse_bytes"
	residentSize = "process_resident_memory_bytes"
)

// server is a demo server running as a subprocess for one test group.
type server struct {
	*demoproc.Server
	// Client keeps connections alive; settle closes its idle ones.
	Client   *http.Client
	baseline float64 // go_goroutines after start
}

// startServer starts the demo server on a free port of 127.0.0.1 with
// -pool sized -track and the extra flags, and stops it when the test ends,
// failing the test unless it exits with status 0 (it does not when a
// buffer was never released).
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	bin, err := demoproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := demoproc.Start(context.Background(), demoproc.Config{Bin: bin, Args: append([]string{"-pool", "sized", "-track"}, extra...)})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Server: ds, Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}, Timeout: time.Minute}}
	t.Cleanup(func() { s.stop(t) })
	s.baseline = s.metrics(t)[goroutines]
	t.Logf("demo server %s %s: %v goroutines at start", s.URL, strings.Join(extra, " "), s.baseline)
	return s
}

// stop sends SIGTERM and requires exit status 0 within stopTimeout.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.Client.CloseIdleConnections()
	switch err := s.Stop(stopTimeout); {
	case err != nil:
		t.Errorf("demo server: %v (buffers never released?):\n%s", err, s.output())
	case t.Failed():
		t.Logf("demo server output:\n%s", s.output())
	}
}

// output is what the server wrote.
func (s *server) output() string { return s.Stdout() + s.Stderr() }

// metrics scrapes /metrics.
func (s *server) metrics(t testing.TB) demoproc.Metrics {
	t.Helper()
	m, err := s.scrape()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (s *server) scrape() (demoproc.Metrics, error) { return s.Scrape(context.Background()) }

// settle ends every case: the server's in-use bytes return to zero and its
// goroutines to their baseline within settleTimeout, and /healthz answers.
func (s *server) settle(t *testing.T) {
	t.Helper()
	s.Client.CloseIdleConnections()
	var m demoproc.Metrics
	for deadline := time.Now().Add(settleTimeout); ; time.Sleep(50 * time.Millisecond) {
		m = s.metrics(t)
		if m[inUseBytes] == 0 && m[goroutines] <= s.baseline+goroutineMargin {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %s = %v (want 0), %s = %v (baseline %v + %d)",
				settleTimeout, inUseBytes, m[inUseBytes], goroutines, m[goroutines], s.baseline, goroutineMargin)
			break
		}
	}
	s.healthy(t)
}

// healthy requires /healthz to answer ok.
func (s *server) healthy(t testing.TB) {
	t.Helper()
	resp, err := s.Client.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}
}

// waitMetric polls /metrics until cond holds for the value of name, and
// returns the last value.
func (s *server) waitMetric(t testing.TB, name string, timeout time.Duration, what string, cond func(float64) bool) float64 {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		v := s.metrics(t)[name]
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %s, want %s", name, v, timeout, what)
		}
	}
}

// rss reads the server's resident set from /proc.
func (s *server) rss(t testing.TB) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// dial opens a raw connection to the server, closed when the test ends.
func (s *server) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readResponse reads one response to a request of method from br, with
// its whole body.
func readResponse(br *bufio.Reader, method string) (*http.Response, []byte, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// postRaw writes a POST request with the given header lines (without the
// final blank line) and body on c.
func postRaw(c net.Conn, path string, header []string, body []byte) error {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: bodypool.test\r\n", path)
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		return err
	}
	_, err := c.Write(body)
	return err
}

// postConcurrently posts body to path on a connection of its own, writing
// the body while it reads the response, and returns the response even
// when writing failed. The server may refuse a body before it has all of
// it and close the connection; http.Client then reports the write error
// when it comes first, even though the refusal arrived, and on a loaded
// machine it often does.
func (s *server) postConcurrently(path string, header []string, body []byte, timeout time.Duration) (*http.Response, []byte, error) {
	c, err := net.DialTimeout("tcp", s.Addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	wrote := make(chan error, 1)
	go func() {
		wrote <- postRaw(c, path, append(header, "Content-Length: "+strconv.Itoa(len(body))), body)
	}()
	resp, got, err := readResponse(bufio.NewReader(c), http.MethodPost)
	c.Close() // ends the write when the server stopped reading
	werr := <-wrote
	if err != nil {
		return nil, nil, fmt.Errorf("no response: %w (writing: %v)", err, werr)
	}
	return resp, got, nil
}

// randomBytes returns n random bytes from a generator with a fresh seed,
// which it logs so that a failure can be replayed.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], rand.Uint64())
	t.Logf("random payload seed %x", seed[:8])
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.NewChaCha8(seed), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// logSize picks a size from 1 to max bytes, uniform in its logarithm, so
// that most sizes are small and every order of magnitude is covered.
func logSize(f float64, max int) int {
	return min(max, int(math.Exp(f*math.Log(float64(max)+1))))
}

// do is s.Client.Do with a deadline, reading the whole body.
func (s *server) do(t testing.TB, req *http.Request, timeout time.Duration) (*http.Response, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	resp, err := s.Client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}
