package middleware

import (
	"io"
	"net/http"
	"testing"

	"github.com/bodypool/bodypool/internal/pooltest"
)

// benchSizes are the body sizes of the benchmarks.
var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// benchLimit is the body limit of every contender that has one.
const benchLimit = 2 << 20

var benchServe = pooltest.BenchServe

var benchPool = pooltest.BenchPool

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
				mw, err := New(Config{Pool: benchPool(b), MaxRequestBody: benchLimit})
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
