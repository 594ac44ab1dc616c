package middleware

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
)

// BenchmarkRequestGrowth measures the growth scheme of request bodies: the
// first buffer (InitialRequestBuffer) and doubling through the pool, with
// the body's length declared (growth stops at its class) or not (chunked:
// doubling may overshoot). Compare the initial sizes with benchstat; the
// default, 4 KiB, trades copies for large bodies against memory for
// small ones and for clients that send slowly.
func BenchmarkRequestGrowth(b *testing.B) {
	for _, size := range []int{16 << 10, 256 << 10, 4 << 20} {
		body := bytes.Repeat([]byte("b"), size)
		for _, initial := range []int{4 << 10, 16 << 10, 64 << 10} {
			for _, declared := range []bool{true, false} {
				name := "size=" + sizeName(size) + "/initial=" + sizeName(initial) + "/declared=" + strconv.FormatBool(declared)
				b.Run(name, func(b *testing.B) {
					p, err := bufpool.New(bufpool.Config{MaxSize: 8 << 20})
					if err != nil {
						b.Fatal(err)
					}
					c, err := Config{Pool: p, InitialRequestBuffer: initial}.validate()
					if err != nil {
						b.Fatal(err)
					}
					rd := bytes.NewReader(body)
					r := httptest.NewRequest(http.MethodPost, "/", nil)
					b.ReportAllocs()
					b.SetBytes(int64(size))
					var peak int64
					for b.Loop() {
						rd.Reset(body)
						r.Body = io.NopCloser(onlyReader{rd})
						r.ContentLength = -1
						if declared {
							r.ContentLength = int64(size)
						}
						rb, rej := c.readBody(r)
						if rej != nil {
							b.Fatal(rej.Message)
						}
						peak = max(peak, p.Stats().Total.InUseBytes)
						rb.release()
					}
					b.ReportMetric(float64(peak), "held-B")
				})
			}
		}
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
