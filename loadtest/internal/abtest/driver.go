package abtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// load is what one bounded burst of requests measured on the client side.
type load struct {
	Latencies   []time.Duration // by request, in the order of the plan
	Errors      int
	FirstError  string
	Elapsed     time.Duration
	ClientAlloc uint64 // bytes the harness itself allocated meanwhile
}

// driver sends the requests of a plan to one server from a fixed number of
// keep-alive connections: over HTTP/1.1 one request in flight on each, over
// h2c streams of them. Each worker reuses its request, its body reader and
// its read buffer, so the client, which shares the machine with the
// server, allocates little of its own.
type driver struct {
	plan    *plan
	workers []*worker
	closers []func()
}

// Client-side buffer sizes. The read buffer is a fixed chunk, echoes are
// checked as they stream in; the write buffer holds a whole request up to
// maxWriteBuffer, past which the memory of 256 connections would count
// more than the copy it saves.
const (
	readChunk      = 64 << 10
	maxWriteBuffer = 1<<20 + 16<<10
)

// newDriver returns a driver of conns connections to the loopback server
// at baseURL (http://host:port), with streams requests in flight on each
// over h2c, or one over HTTP/1.1 when streams is 0, whose requests end with
// ctx. Each connection has a transport of its own, limited to it: a shared
// h2c transport would put every stream on one connection.
func newDriver(ctx context.Context, baseURL string, plan *plan, conns, streams int) (*driver, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/echo", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	// A write buffer that holds the largest request keeps net/http from
	// handing an HTTP/1.1 body to the connection's ReadFrom, which copies
	// through a fresh 32 KiB buffer per request.
	writeBuffer := min(plan.MaxSize+16<<10, maxWriteBuffer)
	if streams > 0 {
		writeBuffer = 0
	}
	d := &driver{plan: plan}
	for range conns {
		c := &http.Client{Transport: newTransport(writeBuffer, streams > 0)}
		d.closers = append(d.closers, c.CloseIdleConnections)
		for range max(streams, 1) {
			d.workers = append(d.workers, &worker{d: d, client: c, req: req.Clone(ctx), buf: make([]byte, readChunk)})
		}
	}
	return d, nil
}

func (d *driver) close() {
	for _, c := range d.closers {
		c()
	}
}

// run sends n requests, items first, first+1, ... of the plan (wrapping
// around), one per worker in flight, and verifies every answer. It stops
// early when ctx ends; the requests not sent count as errors.
func (d *driver) run(ctx context.Context, first, n int) load {
	res := load{Latencies: make([]time.Duration, n)}
	var (
		next    atomic.Int64
		errs    atomic.Int64
		errOnce sync.Once
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		errOnce.Do(func() { res.FirstError = err.Error() })
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for _, w := range d.workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if ctx.Err() != nil {
					fail(fmt.Errorf("interrupted: %w", ctx.Err()))
					continue
				}
				t0 := time.Now()
				err := w.do((first + i) % len(d.plan.Items))
				res.Latencies[i] = time.Since(t0)
				if err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	res.ClientAlloc = after.TotalAlloc - before.TotalAlloc
	res.Errors = int(errs.Load())
	return res
}

// worker is one request in flight's worth of reusable client state.
type worker struct {
	d      *driver
	client *http.Client
	req    *http.Request
	buf    []byte // the chunk echoes are read through
}

// do sends item i and checks the echo: status 200, the same length, the
// same CRC-32C. A request may be reused once its response body is closed.
func (w *worker) do(i int) error {
	it := w.d.plan.Items[i]
	// A fresh reader for every request: the transport may still hold the
	// previous request's body when Do returns, and a reader shared between
	// the two lost a 4 MiB body once ("ContentLength=4194304 with Body
	// length 0"). net/http recognizes a *bytes.Reader in io.NopCloser as
	// memory and writes it behind the headers, where a body of another
	// type makes it flush the headers first, a write and a packet more;
	// GetBody lets it retry on a kept-alive connection the server closed.
	body := w.d.plan.Body(i)
	w.req.Body = io.NopCloser(bytes.NewReader(body))
	w.req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	w.req.ContentLength = int64(it.Size)
	resp, err := w.client.Do(w.req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("request %d (%d bytes): status %s", i, it.Size, resp.Status)
	}
	n, sum, err := readChecksum(resp.Body, w.buf, it.Size)
	switch {
	case err != nil:
		return fmt.Errorf("request %d (%d bytes): reading the echo: %w", i, it.Size, err)
	case n != it.Size:
		return fmt.Errorf("request %d: echoed %d bytes, sent %d", i, n, it.Size)
	case sum != it.CRC:
		return fmt.Errorf("request %d (%d bytes): echo checksum %08x, want %08x", i, it.Size, sum, it.CRC)
	}
	return nil
}

var errOverlong = errors.New("longer than the request")

// readChecksum reads r to its end through buf and returns how many bytes
// it read and their CRC-32C, or errOverlong when there are more than limit
// bytes, of which it reads one more than limit.
func readChecksum(r io.Reader, buf []byte, limit int) (int, uint32, error) {
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, io.LimitReader(r, int64(limit)+1), buf)
	if err == nil && n > int64(limit) {
		err = errOverlong
	}
	return int(n), h.Sum32(), err
}

// newTransport returns the client transport of one connection to a
// loopback server: keep-alive, no proxy, no transparent compression, and
// a write buffer of writeBuffer bytes. It speaks HTTP/1.1,
// or with h2c HTTP/2 without TLS (prior knowledge, as the demo server's
// -h2c serves it), and refuses to dial anything but a loopback address.
func newTransport(writeBuffer int, h2c bool) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if demoproc.Loopback(addr) != nil {
				return nil, fmt.Errorf("%w: %s", errNotLoopback, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          1,
		MaxIdleConnsPerHost:   1,
		MaxConnsPerHost:       1,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		WriteBufferSize:       max(writeBuffer, 4<<10),
		ReadBufferSize:        64 << 10,
		Protocols:             new(http.Protocols),
	}
	tr.Protocols.SetHTTP1(!h2c)
	tr.Protocols.SetUnencryptedHTTP2(h2c)
	return tr
}

// errNotLoopback is returned by the harness's dialer for any other address.
var errNotLoopback = errors.New("abtest: refusing to dial a non-loopback address")

// latency holds the percentiles of the latencies of one run.
type latency struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
}

// latencyOf sorts d in place and returns its percentiles in milliseconds,
// by the nearest-rank method: the smallest value that at least p percent
// of the values do not exceed. With 2,000 values, p99.9 is the second
// largest.
func latencyOf(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	p := func(p float64) float64 {
		// The epsilon keeps 99.9% of 2000, which is 1998.0000000000002 in
		// floating point, at rank 1998.
		rank := int(math.Ceil(p/100*float64(len(d)) - 1e-9))
		return float64(d[min(max(rank, 1), len(d))-1]) / float64(time.Millisecond)
	}
	return latency{P50: p(50), P99: p(99), P999: p(99.9)}
}
