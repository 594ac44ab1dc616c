package echobody

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/pooltest"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// echoEcho writes back the request body as read from c.Request().Body.
func echoEcho(c echo.Context) error {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEOctetStream, b)
}

// echoCase is a request through an Echo server and what must come back.
type echoCase struct {
	name    string
	path    string
	body    io.Reader
	header  map[string]string
	status  int
	want    []byte
	gzipped bool // the response is gzip-encoded
	byOurs  bool // refused by ours: RequestLogger behind it sees nothing
}

// Echo's own middleware, in front of ours or behind it, keeps working:
// bodies are echoed, gzip responses and requests decode, Echo's BodyLimit
// refuses with 413, and a panic reaches Recover as a 500 that carries none
// of the partial response.
func TestEchoWithEchoMiddleware(t *testing.T) {
	const (
		echoLimit = 64 << 10  // Echo's BodyLimit
		ourLimit  = 128 << 10 // our MaxRequestBody
	)
	text := bytes.Repeat([]byte("a line of text that compresses well\n"), 1000)
	body := pooltest.Payload(40, 10_000)
	for _, order := range []string{"ours first", "ours last"} {
		t.Run(order, func(t *testing.T) {
			p := pooltest.NewPool(t, bufpool.Config{Poison: true})
			var mu sync.Mutex
			var logged []int
			echos := []echo.MiddlewareFunc{
				echomw.RequestLoggerWithConfig(echomw.RequestLoggerConfig{
					LogStatus:   true,
					HandleError: true,
					LogValuesFunc: func(c echo.Context, v echomw.RequestLoggerValues) error {
						mu.Lock()
						logged = append(logged, v.Status)
						mu.Unlock()
						return nil
					},
				}),
				echomw.RecoverWithConfig(echomw.RecoverConfig{DisablePrintStack: true}),
				echomw.Gzip(),
				echomw.Decompress(),
				echomw.BodyLimit("64K"),
			}
			ours := NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: p, MaxRequestBody: ourLimit}})
			var e *echo.Echo
			if order == "ours first" {
				e = newEcho(append([]echo.MiddlewareFunc{ours}, echos...)...)
			} else {
				e = newEcho(append(echos, ours)...)
			}
			e.POST("/echo", echoEcho)
			e.POST("/panic", func(c echo.Context) error { panic("handler failed") })
			// With Recover behind ours, a panic after a partial response is
			// Echo's: Recover finds the response committed and sends nothing
			// more, so ours sends what was written, as Echo alone would.
			// With Recover in front, the panic reaches ours first, which
			// drops the partial response, so that Recover's 500 goes out.
			e.POST("/panic-partial", func(c echo.Context) error {
				c.Response().WriteHeader(http.StatusCreated)
				c.Response().Write([]byte("partial secret body"))
				panic("handler failed")
			})
			srv := pooltest.StartServer(t, p, e)

			tests := []echoCase{
				{name: "body echoed", path: "/echo", body: bytes.NewReader(body), status: 200, want: body},
				{name: "gzip response", path: "/echo", body: bytes.NewReader(text), header: map[string]string{"Accept-Encoding": "gzip"},
					status: 200, want: text, gzipped: true},
				{name: "gzip request", path: "/echo", body: bytes.NewReader(pooltest.Gzipped(t, text)), header: map[string]string{"Content-Encoding": "gzip"},
					status: 200, want: text},
				{name: "over Echo's limit", path: "/echo", body: bytes.NewReader(pooltest.Payload(41, echoLimit+1)), status: 413},
				{name: "over Echo's limit chunked", path: "/echo", body: unsized{bytes.NewReader(pooltest.Payload(42, echoLimit+1))}, status: 413},
				{name: "over our limit chunked", path: "/echo", body: unsized{bytes.NewReader(pooltest.Payload(43, ourLimit+1))}, status: 413,
					byOurs: order == "ours first"},
				{name: "panic", path: "/panic", body: bytes.NewReader(body), status: 500},
			}
			if order == "ours last" {
				tests = append(tests, echoCase{name: "panic after a partial response", path: "/panic-partial", body: bytes.NewReader(body), status: 500})
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req, _ := http.NewRequest("POST", srv.URL+tt.path, tt.body)
					req.Header.Set("Accept-Encoding", "identity")
					for k, v := range tt.header {
						req.Header.Set(k, v)
					}
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tt.status {
						t.Fatalf("status %d %.100q, want %d", resp.StatusCode, got, tt.status)
					}
					if gz := resp.Header.Get("Content-Encoding") == "gzip"; gz != tt.gzipped {
						t.Errorf("response gzip-encoded: %v, want %v", gz, tt.gzipped)
					} else if gz {
						zr, err := gzip.NewReader(bytes.NewReader(got))
						if err != nil {
							t.Fatal(err)
						}
						if got, err = io.ReadAll(zr); err != nil {
							t.Fatalf("decoding the gzip response: %v", err)
						}
					}
					if tt.want != nil && !bytes.Equal(got, tt.want) {
						t.Errorf("body: %d bytes, want %d", len(got), len(tt.want))
					}
					if tt.status == 500 && bytes.Contains(got, []byte("partial")) {
						t.Errorf("the 500 carries the partial response: %q", got)
					}
				})
			}
			srv.Close()
			mu.Lock()
			defer mu.Unlock()
			var want []int
			for _, tt := range tests {
				if !tt.byOurs {
					want = append(want, tt.status)
				}
			}
			if !slices.Equal(logged, want) {
				t.Errorf("RequestLogger logged statuses %v, want %v", logged, want)
			}
		})
	}
}

// Refusals come back from the middleware as *echo.HTTPError with the
// status, and the headers that go with it on the response.
func TestEchoErrors(t *testing.T) {
	p := pooltest.NewPool(t, bufpool.Config{MaxInUseBytes: 64 << 10})
	mw := NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: p, MaxRequestBody: 1000, Decompress: true, BudgetWait: -1}})
	var runs atomic.Int64
	h := mw(func(c echo.Context) error { runs.Add(1); return c.NoContent(http.StatusOK) })
	e := newEcho()

	tests := []struct {
		name   string
		body   io.Reader
		gzip   bool
		budget bool // hold the whole budget during the request
		code   int
		header string // a response header the refusal sets
		value  string
	}{
		{name: "declared too large", body: bytes.NewReader(make([]byte, 1001)), code: 413, header: "Connection", value: "close"},
		{name: "too large", body: unsized{bytes.NewReader(make([]byte, 1001))}, code: 413, header: "Connection", value: "close"},
		{name: "truncated", body: iotest.ErrReader(io.ErrUnexpectedEOF), code: 400, header: "Connection", value: "close"},
		{name: "malformed gzip", body: strings.NewReader("not gzip"), gzip: true, code: 400, header: "Connection", value: "close"},
		{name: "budget", body: strings.NewReader("small"), budget: true, code: 503, header: "Retry-After", value: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs.Store(0)
			req := newRequest("POST", tt.body)
			if tt.gzip {
				req.Header.Set("Content-Encoding", "gzip")
			}
			if tt.budget {
				hold, err := p.Acquire(context.Background(), 64<<10)
				if err != nil {
					t.Fatal(err)
				}
				defer hold.Release()
			}
			rec := httptest.NewRecorder()
			err := h(e.NewContext(req, rec))
			var he *echo.HTTPError
			if !errors.As(err, &he) || he.Code != tt.code {
				t.Fatalf("error %#v, want an *echo.HTTPError with code %d", err, tt.code)
			}
			if got := rec.Header().Get(tt.header); got != tt.value {
				t.Errorf("%s: %q, want %q", tt.header, got, tt.value)
			}
			if runs.Load() != 0 {
				t.Error("the handler ran")
			}
			checkLeaksExcept(t, p, tt.budget)
		})
	}

	// Through Echo, the error handler turns the error into the response.
	e.POST("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.Use(mw)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("POST", "/", unsized{bytes.NewReader(make([]byte, 5000))}))
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "limit is 1000 bytes") || rec.Header().Get("Connection") != "close" {
		t.Errorf("through Echo: %d %q %v, want 413 with the limit and Connection: close", rec.Code, rec.Body, rec.Header())
	}
}

// checkLeaksExcept is checkLeaks, unless the test holds a buffer itself.
func checkLeaksExcept(t *testing.T, p *bufpool.Pool, holding bool) {
	t.Helper()
	if !holding {
		pooltest.CheckLeaks(t, p)
	}
}

// The Skipper leaves requests alone: the body is not read into the pool
// and the response is not buffered.
func TestEchoSkipper(t *testing.T) {
	p := pooltest.NewPool(t, bufpool.Config{})
	e := newEcho(NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: p}, Skipper: func(c echo.Context) bool {
		return c.Request().URL.Path == "/skip"
	}}))
	var pooled []bool
	handler := func(c echo.Context) error {
		pooled = append(pooled, Body(c) != nil)
		return echoEcho(c)
	}
	e.POST("/skip", handler)
	e.POST("/pool", handler)
	body := pooltest.Payload(44, 3000)
	for _, path := range []string{"/skip", "/pool"} {
		before := pooltest.Gets(p)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), body) {
			t.Errorf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
		if took := pooltest.Gets(p) - before; (path == "/skip") != (took == 0) {
			t.Errorf("%s: %d buffers taken", path, took)
		}
	}
	if len(pooled) != 2 || pooled[0] || !pooled[1] {
		t.Errorf("pooled body seen by the handler (skip, pool): %v, want [false true]", pooled)
	}
}

// Body is the pooled body; DetachBody's bytes outlive the handler
// while later requests reuse the pool.
func TestEchoBodyAndDetach(t *testing.T) {
	p := pooltest.NewPool(t, bufpool.Config{Poison: true})
	e := newEcho(NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: p}}))
	var detached [][]byte
	e.POST("/detach", func(c echo.Context) error {
		detached = append(detached, DetachBody(c))
		return c.NoContent(http.StatusNoContent)
	})
	e.POST("/body", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEOctetStream, Body(c))
	})
	var want [][]byte
	for i := range 10 {
		body := pooltest.Payload(uint64(50+i), 2000+i*1000)
		want = append(want, body)
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/detach", bytes.NewReader(body)))
		for j := range 3 {
			other := pooltest.Payload(uint64(60+j), len(body))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("POST", "/body", bytes.NewReader(other)))
			if !bytes.Equal(rec.Body.Bytes(), other) {
				t.Fatalf("Body: %d bytes back, want %d", rec.Body.Len(), len(other))
			}
		}
	}
	for i := range want {
		if !bytes.Equal(detached[i], want[i]) {
			t.Errorf("detached body %d changed after its handler returned", i)
		}
	}
}

// The isolation test of TestIsolation, through Echo.
func TestEchoIsolation(t *testing.T) {
	p := pooltest.NewPool(t, bufpool.Config{Poison: true})
	e := newEcho(echomw.Recover(), NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: p, MaxRequestBody: 2 << 20}}))
	e.POST("/write", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEOctetStream, Body(c))
	})
	e.POST("/copy", func(c echo.Context) error {
		return c.Stream(http.StatusOK, echo.MIMEOctetStream, c.Request().Body)
	})
	e.POST("/readfrom", func(c echo.Context) error {
		c.Response().WriteHeader(http.StatusOK)
		_, err := io.Copy(c.Response(), unsized{c.Request().Body})
		return err
	})
	pooltest.Isolation(t, pooltest.StartServer(t, p, e), pooltest.IsolationRequests, "/write", "/copy", "/readfrom")
}
