package middleware

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// benchSizes are the body sizes of the benchmarks.
var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// benchLimit is the body limit of every contender that has one.
const benchLimit = 2 << 20

// benchServe runs h on a POST of body per iteration, in process: no
// network, a reused request whose body is rewound, and a ResponseWriter
// that discards what it gets, so that what is measured is reading the
// body and writing it back.
func benchServe(b *testing.B, h http.Handler, body []byte) {
	req := newRequest("POST", nil)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	rd := bytes.NewReader(body)
	w := newSink()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = rewindable{rd}
		w.reset()
		h.ServeHTTP(w, req)
		if w.n != len(body) {
			b.Fatalf("%d bytes written back, want %d", w.n, len(body))
		}
	}
}

// benchPool is the pool of the bodypool contenders: a production pool,
// without Track or Poison.
func benchPool(b *testing.B) *bufpool.Pool {
	p, err := bufpool.New(bufpool.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkBody compares, for net/http handlers that write the request
// body back: io.ReadAll without limit (readall), io.ReadAll under
// http.MaxBytesReader (bodylimit+readall), and this middleware with Body
// (bodypool).
func BenchmarkBody(b *testing.B) {
	readAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})
	maxBytes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, benchLimit)
		readAll(w, r)
	})
	for _, size := range benchSizes {
		body := payload(70, size.n)
		b.Run("size="+size.name, func(b *testing.B) {
			b.Run("readall", func(b *testing.B) { benchServe(b, readAll, body) })
			b.Run("bodylimit+readall", func(b *testing.B) { benchServe(b, maxBytes, body) })
			b.Run("bodypool", func(b *testing.B) {
				mw, err := New(Config{Pool: Pooled(benchPool(b)), MaxRequestBody: benchLimit})
				if err != nil {
					b.Fatal(err)
				}
				benchServe(b, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write(Body(r))
				})), body)
			})
		})
	}
}

// BenchmarkEchoBody is BenchmarkBody for Echo handlers: io.ReadAll
// (readall), Echo's BodyLimit and io.ReadAll (bodylimit+readall), and this
// middleware with EchoBody (bodypool).
func BenchmarkEchoBody(b *testing.B) {
	readAll := func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEOctetStream, body)
	}
	for _, size := range benchSizes {
		body := payload(71, size.n)
		b.Run("size="+size.name, func(b *testing.B) {
			b.Run("readall", func(b *testing.B) {
				e := newEcho()
				e.POST("/", readAll)
				benchServe(b, e, body)
			})
			b.Run("bodylimit+readall", func(b *testing.B) {
				e := newEcho(echomw.BodyLimit("2M"))
				e.POST("/", readAll)
				benchServe(b, e, body)
			})
			b.Run("bodypool", func(b *testing.B) {
				e := newEcho(EchoWithConfig(Config{Pool: Pooled(benchPool(b)), MaxRequestBody: benchLimit}))
				e.POST("/", func(c echo.Context) error {
					return c.Blob(http.StatusOK, echo.MIMEOctetStream, EchoBody(c))
				})
				benchServe(b, e, body)
			})
		})
	}
}
