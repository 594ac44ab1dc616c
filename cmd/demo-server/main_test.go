package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/internal/demoproc"
)

func TestMain(m *testing.M) { demoproc.Main(m) }

// Bounds on every wait, generous for a loaded machine and the race
// detector: none is a speed target.
const (
	startTimeout   = 30 * time.Second // from exec to /healthz answering
	exitTimeout    = 20 * time.Second // from SIGTERM to exit, beyond -grace
	requestTimeout = 30 * time.Second
)

// modeArgs returns the flags that select mode; the sized mode also tracks
// and poisons buffers, so that the server exits non-zero on a leak and
// panics on a write after release.
func modeArgs(mode string) []string {
	if mode == demo.ModeSized {
		return []string{"-pool", mode, "-track", "-poison"}
	}
	return []string{"-pool", mode}
}

// serverBin returns the demo-server binary built for this test binary.
func serverBin(t testing.TB) string {
	t.Helper()
	bin, err := demoproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// server is a demo-server process started for one test.
type server struct {
	*demoproc.Server
	t        testing.TB
	url      string
	client   *http.Client
	stopOnce sync.Once
}

// startServer starts demo-server with args on a free port of 127.0.0.1,
// waits until /healthz answers, and stops it with SIGTERM when the test
// ends, failing the test unless it exits 0 with its start and stop lines.
func startServer(t testing.TB, args []string, env ...string) *server {
	t.Helper()
	ds, err := demoproc.Start(context.Background(), demoproc.Config{Bin: serverBin(t), Args: args, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	// The client never uses a proxy (a Transport's zero Proxy): all
	// traffic goes to 127.0.0.1.
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	s := &server{Server: ds, t: t, url: ds.URL, client: &http.Client{Transport: tr, Timeout: requestTimeout}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		s.stop(exitTimeout)
	})
	return s
}

// stop terminates the server if still running, waits at most d for it,
// and checks that it exited 0 after logging its start and stop, and wrote
// nothing to stderr. Later calls do nothing.
func (s *server) stop(d time.Duration) {
	s.stopOnce.Do(func() {
		s.t.Helper()
		if err := s.Stop(d); err != nil {
			s.t.Errorf("%s: %v\nstderr:\n%s", s, err, s.Stderr())
		} else if e := s.Stderr(); e != "" {
			s.t.Errorf("%s wrote to stderr:\n%s", s, e)
		}
		out := s.Stdout()
		if !strings.Contains(out, "demo-server: listening on http://127.0.0.1:") || !strings.Contains(out, "\ndemo-server: stopped after ") {
			s.t.Errorf("%s: stdout lacks the start and stop lines:\n%s", s, out)
		}
	})
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

// scrape reads /metrics.
func (s *server) scrape(t testing.TB) demoproc.Metrics {
	t.Helper()
	m, err := s.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
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
