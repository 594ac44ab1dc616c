// Package pooltest holds the test helpers that the tests of middleware,
// echobody and the conformance suite share: pools that fail a test on a
// leaked buffer, loopback servers checked for leaks when they close, and
// distinct payloads.
package pooltest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

// NewPool returns a tracking pool configured by cfg. When the test ends it
// fails the test if a buffer is still checked out. Servers started with
// StartServer are closed before that check.
func NewPool(t testing.TB, cfg bufpool.Config) *bufpool.Pool {
	t.Helper()
	cfg.Track = true
	p, err := bufpool.New(cfg)
	if err != nil {
		t.Fatalf("bufpool.New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { CheckLeaks(t, p) })
	return p
}

// CheckLeaks fails t unless every buffer taken from p was released.
func CheckLeaks(t testing.TB, p *bufpool.Pool) {
	t.Helper()
	if err := p.CheckLeaks(); err != nil {
		t.Error(err)
	}
	if st := p.Stats().Total; st.InUse != 0 || st.InUseBytes != 0 {
		t.Errorf("pool at rest: %d buffers (%d bytes) in use, want 0", st.InUse, st.InUseBytes)
	}
}

// StartServer serves h on 127.0.0.1 until the test ends. Closing waits for
// every handler to return; then p must hold no buffer.
func StartServer(t testing.TB, p *bufpool.Pool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		CheckLeaks(t, p)
	})
	return srv
}

// Gets returns the number of buffers p handed out so far.
func Gets(p *bufpool.Pool) uint64 { return p.Stats().Total.Gets }

// Payload returns n pseudo-random bytes determined by seed.
func Payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8), 2: byte(seed >> 16), 3: byte(seed >> 24)}).Read(b)
	return b
}

// Gzipped compresses b.
func Gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Unsized hides the length of a reader, so that an HTTP client sends it
// chunked and httptest.NewRequest declares no Content-Length.
type Unsized struct{ io.Reader }

// WaitFor polls cond until it holds, failing the test after 10 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Isolation runs 32 clients of requests requests each against srv, which
// echoes bodies on each of routes. Bodies are windows at random offsets of
// a random buffer, so each is distinct; sizes are log-uniform from 1 B to
// 2 MiB, so that small and large bodies mix and responses both buffer and
// stream. Any byte of another request's body in a response fails t.
func Isolation(t *testing.T, srv *httptest.Server, requests int, routes ...string) {
	t.Helper()
	const clients, maxSize = 32, 2 << 20
	source := Payload(99, 2*maxSize)
	tr := srv.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = clients
	var wg sync.WaitGroup
	var failed atomic.Bool
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 0))
			// Reading into a buffer of the right size, not io.ReadAll,
			// keeps the client cheap under the race detector.
			got := bytes.NewBuffer(make([]byte, 0, maxSize+1))
			for i := range requests {
				if failed.Load() {
					return
				}
				n := int(math.Exp2(rng.Float64() * 21)) // 1 B .. 2 MiB
				off := rng.IntN(len(source) - n)
				body := source[off : off+n]
				route := routes[rng.IntN(len(routes))]
				var rd io.Reader = bytes.NewReader(body)
				if rng.IntN(2) == 0 {
					rd = Unsized{rd}
				}
				resp, err := srv.Client().Post(srv.URL+route, "application/octet-stream", rd)
				if err != nil {
					t.Errorf("client %d request %d: %v", c, i, err)
					failed.Store(true)
					return
				}
				got.Reset()
				_, err = got.ReadFrom(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), body) {
					t.Errorf("client %d request %d (%s, %d bytes at %d): status %d, %d bytes back, %v; %s",
						c, i, route, n, off, resp.StatusCode, got.Len(), err, FirstDifference(got.Bytes(), body))
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FirstDifference describes where got departs from want.
func FirstDifference(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("lengths differ: %d, want %d", len(got), len(want))
	}
	return "equal"
}

// Sink is a reusable ResponseWriter that discards the body, so that
// allocation counts and benchmarks measure the middleware, not a recorder.
type Sink struct {
	H      http.Header
	Status int // the status written, 0 if none
	N      int // body bytes written
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{H: make(http.Header)} }

func (s *Sink) Header() http.Header         { return s.H }
func (s *Sink) WriteHeader(code int)        { s.Status = code }
func (s *Sink) Write(p []byte) (int, error) { s.N += len(p); return len(p), nil }

// Reset empties s for the next request.
func (s *Sink) Reset() { clear(s.H); s.Status, s.N = 0, 0 }

// Rewindable is a request body that can be rewound for the next run. A
// single pointer, it costs no allocation as an io.ReadCloser.
type Rewindable struct{ *bytes.Reader }

// Close does nothing.
func (Rewindable) Close() error { return nil }

// BenchServe runs h on a POST of body per iteration, in process: no
// network, a reused request whose body is rewound, and a ResponseWriter
// that discards what it gets, so that what is measured is reading the body
// and writing it back. The handler must write the body back.
func BenchServe(b *testing.B, h http.Handler, body []byte) {
	req := httptest.NewRequest("POST", "/", nil)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	rd := bytes.NewReader(body)
	w := NewSink()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = Rewindable{rd}
		w.Reset()
		h.ServeHTTP(w, req)
		if w.N != len(body) {
			b.Fatalf("%d bytes written back, want %d", w.N, len(body))
		}
	}
}

// BenchPool returns the pool of a benchmark's bodypool contender: a
// production pool, without Track or Poison.
func BenchPool(b *testing.B) *bufpool.Pool {
	p, err := bufpool.New(bufpool.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}
