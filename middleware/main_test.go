package middleware

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/pooltest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// poolModes are the pool configurations the request and response tables
// run under: tracking alone, and tracking with poison, which turns a use of
// released memory into visible garbage (or a panic on the next Get).
var poolModes = []struct {
	name string
	cfg  bufpool.Config
}{
	{"track", bufpool.Config{Track: true}},
	{"poison", bufpool.Config{Track: true, Poison: true}},
}

// Helpers shared with the echobody tests and the conformance suite; see
// package pooltest.
var (
	newPool     = pooltest.NewPool
	checkLeaks  = pooltest.CheckLeaks
	startServer = pooltest.StartServer
	gets        = pooltest.Gets
	payload     = pooltest.Payload
	gzipped     = pooltest.Gzipped
	waitFor     = pooltest.WaitFor
)

// unsized hides the length of a reader, so that an HTTP client sends it
// chunked and httptest.NewRequest declares no Content-Length.
type unsized struct{ io.Reader }

// newMiddleware is New for tests: it fails the test on error.
func newMiddleware(t testing.TB, cfg Config) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return mw
}

// rawConn opens a TCP connection to srv for requests written by hand. It
// is closed when the test ends, and every read and write fails after 20 s.
func rawConn(t testing.TB, srv *httptest.Server) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c.(*net.TCPConn), bufio.NewReader(c)
}

// counter counts the runs of a handler.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		h(w, r)
	})
}

// result is a response as a test sees it, from a server or a recorder.
type result struct {
	status  int
	header  http.Header
	body    []byte
	closed  bool // the response announced that the connection closes
	chunked bool // the response came with chunked transfer encoding
}

// via is where a test sends its requests: a real server on 127.0.0.1,
// closed before do returns, or an httptest.ResponseRecorder called in the
// test's goroutine. Either way the handler has returned when do does.
type via struct {
	name string
	do   func(t *testing.T, h http.Handler, req *http.Request) result
}

var vias = []via{
	{"server", func(t *testing.T, h http.Handler, req *http.Request) result {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
		out, err := http.NewRequest(req.Method, srv.URL+req.URL.RequestURI(), req.Body)
		if err != nil {
			t.Fatal(err)
		}
		out.Header = req.Header
		switch out.ContentLength = req.ContentLength; out.ContentLength {
		case 0:
			out.Body = http.NoBody
		case -1:
			out.ContentLength = 0 // unknown: the client sends the body chunked
		}
		resp, err := srv.Client().Do(out)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		return result{resp.StatusCode, resp.Header, body, resp.Close, slices.Contains(resp.TransferEncoding, "chunked")}
	}},
	{"recorder", func(t *testing.T, h http.Handler, req *http.Request) result {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		body, _ := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header, body, strings.EqualFold(resp.Header.Get("Connection"), "close"), false}
	}},
}

// newRequest returns a request for vias: body nil sends none, and an
// unsized body is sent chunked.
func newRequest(method string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, "/", body)
	if body == nil {
		req.Body = http.NoBody
	}
	return req
}
