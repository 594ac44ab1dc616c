package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
	"go.uber.org/goleak"
)

// serverBin is the demo-server binary TestMain builds, with the race
// detector when the tests run with it.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demo-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "demo-server")
	if err := buildServer(serverBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildServer builds this package into out with the go command of the
// toolchain the tests were built with.
func buildServer(out string) error {
	//lint:ignore SA1019 the toolchain that built this test, not whichever go is first on PATH
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gocmd); err != nil {
		if gocmd, err = exec.LookPath("go"); err != nil {
			return fmt.Errorf("no go command to build the server: %v", err)
		}
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gocmd, append(args, ".")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd, err, b)
	}
	return nil
}

// Bounds on every wait, generous for a loaded machine and the race
// detector: none is a speed target.
const (
	startTimeout   = 30 * time.Second // from exec to /healthz answering
	exitTimeout    = 20 * time.Second // from SIGTERM to exit, beyond -grace
	requestTimeout = 30 * time.Second
)

var modes = []string{demo.ModeSized, demo.ModeCalibrated, demo.ModeSyncPool, demo.ModeNone, demo.ModeOff}

// modeArgs returns the flags that select mode; the sized mode also tracks
// and poisons buffers, so that the server exits non-zero on a leak and
// panics on a write after release.
func modeArgs(mode string) []string {
	if mode == demo.ModeSized {
		return []string{"-pool", mode, "-track", "-poison"}
	}
	return []string{"-pool", mode}
}

// serverEnv is the test's environment without BODYPOOL_ variables, plus
// extra (NAME=value).
func serverEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BODYPOOL_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// output collects what a process writes, and reports the address in the
// start line on ready.
type output struct {
	ready chan string // nil, or buffered: receives the address once

	mu        sync.Mutex
	buf       bytes.Buffer
	announced bool
}

var startLine = regexp.MustCompile(`(?m)^demo-server: listening on (http://127\.0\.0\.1:\d+) \(`)

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if o.ready != nil && !o.announced {
		if m := startLine.FindSubmatch(o.buf.Bytes()); m != nil {
			o.ready <- string(m[1])
			o.announced = true
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// server is a demo-server process started for one test.
type server struct {
	t              testing.TB
	url            string
	client         *http.Client
	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{} // closed when the process was waited for
	stopOnce       sync.Once
}

// startServer starts demo-server with args on a free port of 127.0.0.1,
// waits until /healthz answers, and stops it with SIGTERM when the test
// ends, failing the test unless it exits 0 with its start and stop lines.
func startServer(t testing.TB, args []string, env ...string) *server {
	t.Helper()
	s := &server{
		t:      t,
		stdout: &output{ready: make(chan string, 1)},
		stderr: &output{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(serverBin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = serverEnv(env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	setDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	// The client never uses a proxy (a Transport's zero Proxy): all
	// traffic goes to 127.0.0.1.
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	s.client = &http.Client{Transport: tr, Timeout: requestTimeout}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		s.stop()
	})

	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case s.url = <-s.stdout.ready:
	case <-s.exited:
		t.Fatalf("%s exited at start: %v\nstdout:\n%s\nstderr:\n%s", s.cmd, s.cmd.ProcessState, s.stdout, s.stderr)
	case <-timeout.C:
		t.Fatalf("%s printed no address within %s\nstdout:\n%s\nstderr:\n%s", s.cmd, startTimeout, s.stdout, s.stderr)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
		resp, err := s.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("%s exited at start: %v\nstderr:\n%s", s.cmd, s.cmd.ProcessState, s.stderr)
		case <-timeout.C:
			t.Fatalf("%s: /healthz did not answer 200 within %s: %v", s.cmd, startTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// terminate sends SIGTERM, as a service manager does to stop the server.
func (s *server) terminate() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("SIGTERM: %v", err)
	}
}

// wait waits at most d for the process to exit, and kills it if it does
// not, failing the test.
func (s *server) wait(d time.Duration) {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(d):
		s.t.Errorf("%s did not exit within %s of SIGTERM; killing it\nstdout:\n%s", s.cmd, d, s.stdout)
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// stop terminates the server if still running, waits for it, and checks
// that it exited 0 after logging its start and stop. Later calls do
// nothing.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		s.t.Helper()
		s.terminate()
		s.wait(exitTimeout)
		s.checkExit()
	})
}

var stopLine = regexp.MustCompile(`(?m)^demo-server: stopped after \S+$`)

func (s *server) checkExit() {
	s.t.Helper()
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("%s exited with status %d, want 0\nstderr:\n%s", s.cmd, code, s.stderr)
	} else if e := s.stderr.String(); e != "" {
		s.t.Errorf("%s wrote to stderr:\n%s", s.cmd, e)
	}
	out := s.stdout.String()
	if !startLine.MatchString(out) || !stopLine.MatchString(out) {
		s.t.Errorf("%s: stdout lacks the start and stop lines:\n%s", s.cmd, out)
	}
}

// do sends a request and returns the response with its whole body. Header
// lists name, value pairs.
func (s *server) do(t testing.TB, method, path string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

// expectStatus checks the status of a request whose body does not matter.
func (s *server) expectStatus(t testing.TB, want int, method, path string, body io.Reader, header ...string) *http.Response {
	t.Helper()
	resp, b := s.do(t, method, path, body, header...)
	if resp.StatusCode != want {
		t.Errorf("%s %s: status %d, want %d; body %.200q", method, path, resp.StatusCode, want, b)
	}
	return resp
}

// metric returns the value of the first sample of /metrics whose line
// starts with prefix, and whether there is one.
func (s *server) metric(t testing.TB, prefix string) (float64, bool) {
	t.Helper()
	_, b := s.do(t, http.MethodGet, "/metrics", nil)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest[strings.LastIndexByte(rest, ' ')+1:]), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v, true
		}
	}
	return 0, false
}

// eventually polls cond every 10 ms for at most d.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// randomBytes returns n reproducible random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}

// unsized hides the length of r from net/http, so that the request body
// goes out chunked.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// TestModes runs every endpoint against a server in every pool mode.
func TestModes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, modeArgs(mode))
			for _, tc := range []struct {
				name string
				test func(t *testing.T, s *server, mode string)
			}{
				{"echo", testEcho},
				{"upload", testUpload},
				{"json", testJSON},
				{"blob", testBlob},
				{"events", testEvents},
				{"metrics", testMetrics},
				{"healthz", testHealthz},
				{"no pprof", testPprofOff},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.test(t, s, mode) })
			}
			if mode != demo.ModeOff {
				t.Run("at rest", func(t *testing.T) { testAtRest(t, s, mode) })
			}
			t.Run("limits and pprof", func(t *testing.T) { testLimits(t, mode) })
		})
	}
}

func testEcho(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 1, 1000, 100 << 10, 2 << 20} {
		body := randomBytes(n)
		ct := "application/x-test-" + strconv.Itoa(n)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = unsized{r}
			}
			resp, got := s.do(t, http.MethodPost, "/echo", r, "Content-Type", ct)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
				t.Errorf("POST /echo %d bytes (chunked %t): status %d, %d bytes back, equal %t",
					n, chunked, resp.StatusCode, len(got), bytes.Equal(got, body))
			}
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("POST /echo %d bytes: Content-Type %q, want %q", n, got, ct)
			}
		}
	}
	resp, got := s.do(t, http.MethodPost, "/echo", strings.NewReader("no type"))
	if ct := resp.Header.Get("Content-Type"); string(got) != "no type" || ct != "application/octet-stream" {
		t.Errorf("POST /echo without Content-Type: %q with Content-Type %q, want application/octet-stream", got, ct)
	}
}

func testUpload(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 1, 1000, 100 << 10, 2 << 20} {
		body := randomBytes(n)
		sum := sha256.Sum256(body)
		want := map[string]any{"bytes": float64(n), "sha256": hex.EncodeToString(sum[:])}
		resp, b := s.do(t, http.MethodPost, "/upload", bytes.NewReader(body), "Content-Type", "application/octet-stream")
		var got map[string]any
		if err := json.Unmarshal(b, &got); resp.StatusCode != http.StatusOK || err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("POST /upload %d bytes: status %d, %s; want %v", n, resp.StatusCode, b, want)
		}
	}
}

func testJSON(t *testing.T, s *server, mode string) {
	// Big enough to need several buffers and to grow the response buffer.
	var in, want []map[string]any
	for i := range 2000 {
		in = append(in, map[string]any{"id": float64((i * 7919) % 2000), "name": "item-" + strconv.Itoa(i)})
	}
	in = append(in, map[string]any{"id": "b"}, map[string]any{"id": "a"}, map[string]any{"note": "no id"})
	for i, it := range in {
		w := map[string]any{"index": float64(i), "processed": true}
		for k, v := range it {
			w[k] = v
		}
		want = append(want, w)
	}
	// Numbers ascending (each id is distinct), then strings, then the rest.
	sorted := make([]map[string]any, len(want))
	for _, w := range want[:2000] {
		sorted[int(w["id"].(float64))] = w
	}
	copy(sorted[2000:], []map[string]any{want[2001], want[2000], want[2002]})

	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := s.do(t, http.MethodPost, "/json", bytes.NewReader(body), "Content-Type", "application/json")
	var got []map[string]any
	if err := json.Unmarshal(b, &got); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("POST /json: status %d, %v; body %.200q", resp.StatusCode, err, b)
	}
	if !reflect.DeepEqual(got, sorted) {
		t.Errorf("POST /json: %d items, not the input with index and processed, sorted by id; first %v", len(got), got[:min(3, len(got))])
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST /json: Content-Type %q", ct)
	}

	for _, bad := range []string{`[{"id":1}`, `not json`, ``, `{"id":1}`, `[1,2]`, `"text"`, `[{"id":1},null]`, `null`} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodPost, "/json", strings.NewReader(bad), "Content-Type", "application/json")
	}
}

func testBlob(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 10, 1 << 20, 3 << 20} {
		resp, b := s.do(t, http.MethodGet, fmt.Sprintf("/blob?size=%d", n), nil)
		if resp.StatusCode != http.StatusOK || len(b) != n {
			t.Errorf("GET /blob?size=%d: status %d, %d bytes", n, resp.StatusCode, len(b))
			continue
		}
		for i, c := range b {
			if c != demo.BlobByte(i) {
				t.Errorf("GET /blob?size=%d: byte %d is %d, want %d", n, i, c, demo.BlobByte(i))
				break
			}
		}
		// Small responses go out buffered; so do those up to -max-buffered
		// (1 MiB by default) through the middleware.
		if small := n <= 10 || (n <= 1<<20 && mode != demo.ModeOff); small && resp.ContentLength != int64(n) {
			t.Errorf("GET /blob?size=%d: Content-Length %d, want %d", n, resp.ContentLength, n)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("GET /blob?size=%d: Content-Type %q", n, ct)
		}
	}
	resp, b := s.do(t, http.MethodGet, "/blob?size=1KiB", nil)
	if resp.StatusCode != http.StatusOK || len(b) != 1024 {
		t.Errorf("GET /blob?size=1KiB: status %d, %d bytes", resp.StatusCode, len(b))
	}
	for _, q := range []string{"", "?size=", "?size=x", "?size=-1", "?size=65MiB", "?size=1.5"} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodGet, "/blob"+q, nil)
	}

	get := s.expectStatus(t, http.StatusOK, http.MethodGet, "/blob?size=1000", nil)
	head, b := s.do(t, http.MethodHead, "/blob?size=1000", nil)
	if head.StatusCode != http.StatusOK || len(b) != 0 || head.ContentLength != 1000 || get.ContentLength != 1000 {
		t.Errorf("HEAD /blob?size=1000: status %d, %d body bytes, Content-Length %d (GET: %d); want 200, none, 1000",
			head.StatusCode, len(b), head.ContentLength, get.ContentLength)
	}
}

// event is one server-sent event as received.
type event struct {
	id      string
	n       int
	sent    time.Time // by the server's clock
	arrived time.Time
}

// readEvents reads server-sent events from r until it ends, calling each
// for every event as it arrives.
func readEvents(r io.Reader, each func(event)) ([]event, error) {
	var evs []event
	var ev event
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return evs, nil
			}
			return evs, err
		}
		switch line = strings.TrimSuffix(line, "\n"); {
		case line == "":
			ev.arrived = time.Now()
			evs = append(evs, ev)
			if each != nil {
				each(ev)
			}
			ev = event{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			var d struct {
				N    int       `json:"n"`
				Sent time.Time `json:"sent"`
			}
			if err := json.Unmarshal([]byte(line[len("data: "):]), &d); err != nil {
				return evs, fmt.Errorf("event data %q: %v", line, err)
			}
			ev.n, ev.sent = d.N, d.Sent
		default:
			return evs, fmt.Errorf("unexpected line %q", line)
		}
	}
}

// getEvents opens an event stream; the caller closes the body.
func (s *server) getEvents(t testing.TB, ctx context.Context, n int, interval time.Duration) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/events?n=%d&interval=%s", s.url, n, interval), nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		resp.Body.Close()
		t.Fatalf("GET /events: status %d, header %v", resp.StatusCode, resp.Header)
	}
	return resp
}

// checkEvents checks that evs are the n events of one stream, sent at
// least interval apart.
func checkEvents(t testing.TB, evs []event, n int, interval time.Duration) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("got %d events, want %d: %+v", len(evs), n, evs)
	}
	for i, ev := range evs {
		if ev.id != strconv.Itoa(i) || ev.n != i {
			t.Errorf("event %d has id %q and n %d", i, ev.id, ev.n)
		}
		// The server's timer waits at least interval after the previous
		// event was stamped; a millisecond spares clock adjustments.
		if i > 0 && ev.sent.Sub(evs[i-1].sent) < interval-time.Millisecond {
			t.Errorf("event %d sent %s after event %d, want at least %s", i, ev.sent.Sub(evs[i-1].sent), i-1, interval)
		}
	}
}

func testEvents(t *testing.T, s *server, mode string) {
	const n, interval = 3, 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, n, interval)
	evs, err := readEvents(resp.Body, nil)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading events: %v", err)
	}
	checkEvents(t, evs, n, interval)
	// Streamed, not buffered: the first event arrived before the last was
	// sent, and the events arrived spread over the stream's duration.
	first, last := evs[0], evs[n-1]
	if !first.arrived.Before(last.sent) {
		t.Errorf("the first event arrived at %s, not before the last was sent at %s", first.arrived, last.sent)
	}
	if gap := last.arrived.Sub(first.arrived); gap < (n-1)*interval*8/10 {
		t.Errorf("events arrived within %s, want them spread over at least %s", gap, (n-1)*interval*8/10)
	}

	resp, b := s.do(t, http.MethodGet, "/events?n=1&interval=0s", nil)
	if evs, err := readEvents(bytes.NewReader(b), nil); resp.StatusCode != http.StatusOK || err != nil || len(evs) != 1 {
		t.Errorf("GET /events?n=1&interval=0s: status %d, %d events, %v", resp.StatusCode, len(evs), err)
	}
	for _, q := range []string{"n=0", "n=-1", "n=x", "n=1001", "interval=x", "interval=-1s", "interval=11s", "n=1000&interval=1s", "n=3&interval=1"} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodGet, "/events?"+q, nil)
	}
}

func testMetrics(t *testing.T, s *server, mode string) {
	resp, b := s.do(t, http.MethodGet, "/metrics", nil)
	body := string(b)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "\ngo_memstats_alloc_bytes_total ") {
		t.Errorf("GET /metrics: status %d, no go_memstats_alloc_bytes_total:\n%.500s", resp.StatusCode, body)
	}
	gets := regexp.MustCompile(`(?m)^bufpool_gets_total\{[^}]*pool="` + mode + `"[^}]*\} \d+$`)
	switch has := gets.MatchString(body); {
	case mode != demo.ModeOff && !has:
		t.Errorf("GET /metrics: no bufpool_gets_total{pool=%q}", mode)
	case mode == demo.ModeOff && strings.Contains(body, "bufpool_gets_total"):
		t.Errorf("GET /metrics in mode off reports bufpool_gets_total")
	}
}

func testHealthz(t *testing.T, s *server, mode string) {
	resp, b := s.do(t, http.MethodGet, "/healthz", nil)
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz: status %d, %q", resp.StatusCode, b)
	}
}

func testPprofOff(t *testing.T, s *server, mode string) {
	s.expectStatus(t, http.StatusNotFound, http.MethodGet, "/debug/pprof/", nil)
}

// testAtRest checks that once the requests are done every pooled buffer
// is back: a leak in any mode shows as bytes in use.
func testAtRest(t *testing.T, s *server, mode string) {
	prefix := `bufpool_in_use_bytes{pool="` + mode + `"}`
	var v float64
	if !eventually(5*time.Second, func() bool {
		var ok bool
		v, ok = s.metric(t, prefix)
		return ok && v == 0
	}) {
		t.Errorf("%s = %g, want 0 at rest", prefix, v)
	}
}

// testLimits starts a server with -max-body 1MiB and -pprof.
func testLimits(t *testing.T, mode string) {
	s := startServer(t, append(modeArgs(mode), "-max-body", "1MiB", "-pprof"))
	s.expectStatus(t, http.StatusOK, http.MethodGet, "/debug/pprof/", nil)

	limit := randomBytes(1 << 20)
	over := randomBytes(1<<20 + 1)
	for _, tc := range []struct {
		name string
		body func() io.Reader
		want int
	}{
		{"at the limit", func() io.Reader { return bytes.NewReader(limit) }, http.StatusOK},
		{"at the limit, chunked", func() io.Reader { return unsized{bytes.NewReader(limit)} }, http.StatusOK},
		{"over, declared", func() io.Reader { return bytes.NewReader(over) }, http.StatusRequestEntityTooLarge},
		{"over, chunked", func() io.Reader { return unsized{bytes.NewReader(over)} }, http.StatusRequestEntityTooLarge},
		{"far over, chunked", func() io.Reader { return unsized{bytes.NewReader(randomBytes(3 << 20))} }, http.StatusRequestEntityTooLarge},
	} {
		for _, path := range []string{"/upload", "/echo"} {
			resp, b := s.do(t, http.MethodPost, path, tc.body())
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s %s: status %d, want %d; body %.200q", path, tc.name, resp.StatusCode, tc.want, b)
			}
		}
	}
	if mode != demo.ModeOff {
		testAtRest(t, s, mode)
	}
}

// TestGracefulShutdown stops the server while an event stream is in
// flight: the stream completes, and the server exits 0 once it has.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const n, interval, grace = 5, 300 * time.Millisecond, 5 * time.Second
	s := startServer(t, append(modeArgs(demo.ModeSized), "-grace", grace.String()))
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, n, interval)
	defer resp.Body.Close()

	var signalled time.Time
	evs, err := readEvents(resp.Body, func(ev event) {
		if ev.n != 0 {
			return
		}
		signalled = time.Now()
		s.terminate()
		// The listener closes at once: new connections are refused while
		// the stream goes on.
		refused := eventually(5*time.Second, func() bool {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second)
			if err == nil {
				conn.Close()
			}
			return err != nil
		})
		if !refused {
			t.Errorf("the server still accepts connections after SIGTERM")
		}
	})
	if err != nil {
		t.Fatalf("the stream broke after %d events: %v", len(evs), err)
	}
	checkEvents(t, evs, n, interval)
	if signalled.IsZero() || !evs[n-1].sent.After(signalled) {
		t.Errorf("SIGTERM at %s, not before the last event was sent at %s", signalled, evs[n-1].sent)
	}
	s.wait(grace + exitTimeout)
	if d := time.Since(signalled); d >= grace {
		t.Errorf("the server exited %s after SIGTERM, beyond the grace period of %s", d, grace)
	}
	s.stop()
}

// TestShutdownGraceExceeded stops the server while an event stream is in
// flight that outlasts -grace: the stream is cut off after the grace
// period and the server says so.
func TestShutdownGraceExceeded(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	s := startServer(t, []string{"-pool", demo.ModeNone, "-grace", grace.String()})
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp := s.getEvents(t, ctx, 10, time.Second)
	defer resp.Body.Close()

	var signalled time.Time
	evs, err := readEvents(resp.Body, func(ev event) {
		if ev.n == 0 {
			signalled = time.Now()
			s.terminate()
		}
	})
	if err == nil || len(evs) == 0 || len(evs) >= 10 {
		t.Errorf("got %d events and error %v; want the stream cut off after the first", len(evs), err)
	}
	if d := time.Since(signalled); d < grace {
		t.Errorf("the stream was cut off %s after SIGTERM, within the grace period of %s", d, grace)
	}
	s.wait(grace + exitTimeout)
	s.stop()
	if out := s.stdout.String(); !strings.Contains(out, "demo-server: requests still running after the grace period of 300ms were cut off\n") {
		t.Errorf("stdout does not report the cut-off requests:\n%s", out)
	}
}

// run runs the server binary to completion with args and extra
// environment, bounded in time, and returns its exit status and output.
func run(t *testing.T, args []string, env ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	cmd.Env = serverEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	setDeathSignal(cmd)
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v", cmd, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within %s", cmd, startTimeout)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string // in the one line on stderr
	}{
		{"unknown pool", []string{"-pool", "bogus"}, nil, `invalid value "bogus" for flag -pool`},
		{"bad size", []string{"-max-body", "12XB"}, nil, `invalid value "12XB" for flag -max-body`},
		{"negative duration", []string{"-read-timeout", "-1s"}, nil, `invalid value "-1s" for flag -read-timeout`},
		{"bad environment", nil, []string{"BODYPOOL_MAX_BODY=bad"}, `invalid value "bad" for environment variable BODYPOOL_MAX_BODY`},
		{"negative duration in the environment", nil, []string{"BODYPOOL_GRACE=-1s"}, `environment variable BODYPOOL_GRACE`},
		{"unknown flag", []string{"-nosuch"}, nil, "-nosuch"},
		{"extra argument", []string{"-pool", "none", "serve"}, nil, `unexpected argument "serve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tc.args, tc.env...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, "demo-server: ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr %q, want one line mentioning %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := run(t, []string{"-addr", ln.Addr().String()})
	if code != 1 || !strings.Contains(stderr, ln.Addr().String()) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("listening on a taken address: exit status %d, stderr %q; want 1 and one line naming the address", code, stderr)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, []string{"-help"})
	if code != 0 || stderr != "" {
		t.Errorf("-help: exit status %d, stderr %q; want 0 and nothing", code, stderr)
	}
	if strings.Count(stdout, "Usage: demo-server") != 1 || !strings.Contains(stdout, "BODYPOOL_") || !strings.Contains(stdout, "-max-body") {
		t.Errorf("-help: stdout does not show the usage once, with BODYPOOL_ variables:\n%s", stdout)
	}
}

// TestH2CAndRequestLog serves HTTP/2 without TLS and logs requests.
func TestH2CAndRequestLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"-pool", demo.ModeSyncPool, "-h2c", "-log-requests"})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	h2 := &http.Client{Transport: tr, Timeout: requestTimeout}

	body := randomBytes(300 << 10)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/echo", bytes.NewReader(body))
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("POST /echo over h2c: %s, status %d, %d bytes back (equal %t), %v", resp.Proto, resp.StatusCode, len(got), bytes.Equal(got, body), err)
	}
	s.expectStatus(t, http.StatusOK, http.MethodGet, "/blob?size=10", nil) // HTTP/1.1 still works
	if !eventually(5*time.Second, func() bool {
		out := s.stdout.String()
		return strings.Contains(out, "\nPOST /echo 200 ") && strings.Contains(out, "\nGET /blob?size=10 200 ")
	}) {
		t.Errorf("no request log lines on stdout:\n%s", s.stdout)
	}
}

// TestBudget holds most of a 1 MiB in-use budget with slow uploads, which
// declare 1 MiB, send 200 KiB and stall, so that the server holds their
// buffers. An upload that needs more than the rest is refused with 503
// and Retry-After once -budget-wait has passed; when the slow uploads go
// away, the budget is free again.
func TestBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"-pool", demo.ModeSized, "-track", "-poison", "-budget", "1MiB", "-budget-wait", "50ms"})
	const slow, sent = 3, 200 << 10
	addr := strings.TrimPrefix(s.url, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range slow {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		conn.SetWriteDeadline(time.Now().Add(requestTimeout))
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, 1<<20)
		if _, err := conn.Write(randomBytes(sent)); err != nil {
			t.Fatal(err)
		}
		// Wait until the server holds what this upload sent, so that the
		// uploads grow one at a time and each fits.
		var used float64
		if !eventually(10*time.Second, func() bool {
			used, _ = s.metric(t, "bufpool_budget_used_bytes{")
			return used >= float64((i+1)*sent)
		}) {
			t.Fatalf("after %d slow uploads of %d bytes the budget in use is %g bytes", i+1, sent, used)
		}
	}

	// The rest of the budget is at most 1 MiB - 600 KiB: a 512 KiB body
	// cannot fit.
	resp, b := s.do(t, http.MethodPost, "/upload", bytes.NewReader(randomBytes(512<<10)))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an upload beyond the budget: status %d, want 503; body %q", resp.StatusCode, b)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("503 with Retry-After %q, want a number of seconds", resp.Header.Get("Retry-After"))
	}
	if v, _ := s.metric(t, "bufpool_budget_rejections_total{"); v < 1 {
		t.Errorf("bufpool_budget_rejections_total = %g, want at least 1", v)
	}
	// A small body still fits beside the slow uploads.
	s.expectStatus(t, http.StatusOK, http.MethodPost, "/upload", bytes.NewReader(randomBytes(1000)))

	// The slow uploads were neither answered nor refused meanwhile.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("slow upload %d got a response: %d bytes, %v", i, n, err)
		}
		c.Close()
	}
	conns = nil
	var used float64
	if !eventually(10*time.Second, func() bool {
		used, _ = s.metric(t, "bufpool_budget_used_bytes{")
		return used == 0
	}) {
		t.Errorf("after the slow uploads went away the budget in use is %g bytes, want 0", used)
	}
	s.expectStatus(t, http.StatusOK, http.MethodPost, "/upload", bytes.NewReader(randomBytes(512<<10)))
}
