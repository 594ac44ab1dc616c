package abtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
// keep-alive connections. Each worker reuses its request, its body reader
// and its response buffer, so the client, which shares the machine with the
// server, allocates little of its own.
type driver struct {
	client  *http.Client
	plan    *Plan
	workers []*worker
}

// newDriver returns a driver of concurrency workers whose requests end
// with ctx.
func newDriver(ctx context.Context, baseURL string, plan *Plan, concurrency int) (*driver, error) {
	// A write buffer that holds the largest request keeps net/http from
	// handing the body to the connection's ReadFrom, which copies through
	// a fresh 32 KiB buffer per request.
	d := &driver{client: &http.Client{Transport: newTransport(concurrency, plan.MaxSize+16<<10)}, plan: plan}
	for range concurrency {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/echo", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		w := &worker{d: d, req: req, buf: make([]byte, plan.MaxSize+1)}
		// net/http recognizes a *bytes.Reader in io.NopCloser as memory and
		// writes it behind the headers, where a body of another type makes
		// it flush the headers first, a write and a packet more.
		w.body = io.NopCloser(&w.reader)
		d.workers = append(d.workers, w)
	}
	return d, nil
}

func (d *driver) close() { d.client.CloseIdleConnections() }

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
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
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

// worker is one connection's worth of reusable client state.
type worker struct {
	d      *driver
	req    *http.Request
	reader bytes.Reader
	body   io.ReadCloser // reader, made once
	buf    []byte        // one byte longer than the largest body, to see an overlong echo
}

// do sends item i and checks the echo: status 200, the same length, the
// same CRC-32C. A request may be reused once its response body is closed.
func (w *worker) do(i int) error {
	it := w.d.plan.Items[i]
	w.reader.Reset(w.d.plan.Body(i))
	w.req.Body = w.body
	w.req.ContentLength = int64(it.Size)
	resp, err := w.d.client.Do(w.req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("request %d (%d bytes): status %s", i, it.Size, resp.Status)
	}
	n, err := readFull(resp.Body, w.buf)
	if err != nil {
		return fmt.Errorf("request %d (%d bytes): reading the echo: %w", i, it.Size, err)
	}
	if n != it.Size {
		return fmt.Errorf("request %d: echoed %d bytes, sent %d", i, n, it.Size)
	}
	if sum := Checksum(w.buf[:n]); sum != it.CRC {
		return fmt.Errorf("request %d (%d bytes): echo checksum %08x, want %08x", i, it.Size, sum, it.CRC)
	}
	return nil
}

var errOverlong = errors.New("longer than the buffer")

// readFull reads r to its end into buf and returns how many bytes it
// read, or errOverlong when buf fills up before the end.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			return n, errOverlong
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
