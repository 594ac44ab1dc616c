package abtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
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

// newDriver returns a driver of conns connections to the server at
// baseURL, with streams requests in flight on each over h2c, or one over
// HTTP/1.1 when streams is 0, whose requests end with ctx.
func newDriver(ctx context.Context, baseURL string, plan *plan, conns, streams int) (*driver, error) {
	d := &driver{plan: plan}
	var clients []*http.Client
	if streams > 0 {
		ccs, err := dialH2C(ctx, baseURL, conns)
		if err != nil {
			return nil, err
		}
		for _, cc := range ccs {
			d.closers = append(d.closers, func() { cc.Close() })
			for range streams {
				clients = append(clients, &http.Client{Transport: cc})
			}
		}
	} else {
		// A write buffer that holds the largest request keeps net/http from
		// handing the body to the connection's ReadFrom, which copies through
		// a fresh 32 KiB buffer per request.
		c := &http.Client{Transport: newTransport(conns, min(plan.MaxSize+16<<10, maxWriteBuffer))}
		d.closers = append(d.closers, c.CloseIdleConnections)
		for range conns {
			clients = append(clients, c)
		}
	}
	for _, c := range clients {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/echo", nil)
		if err != nil {
			d.close()
			return nil, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		w := &worker{d: d, client: c, req: req, buf: make([]byte, readChunk)}
		// net/http recognizes a *bytes.Reader in io.NopCloser as memory and
		// writes it behind the headers, where a body of another type makes
		// it flush the headers first, a write and a packet more.
		w.body = io.NopCloser(&w.reader)
		d.workers = append(d.workers, w)
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

// worker is one request in flight's worth of reusable client state.
type worker struct {
	d      *driver
	client *http.Client
	req    *http.Request
	reader bytes.Reader
	body   io.ReadCloser // reader, made once
	buf    []byte        // the chunk echoes are read through
}

// do sends item i and checks the echo: status 200, the same length, the
// same CRC-32C. A request may be reused once its response body is closed.
func (w *worker) do(i int) error {
	it := w.d.plan.Items[i]
	w.reader.Reset(w.d.plan.Body(i))
	w.req.Body = w.body
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
	if err != nil {
		return fmt.Errorf("request %d (%d bytes): reading the echo: %w", i, it.Size, err)
	}
	if n != it.Size {
		return fmt.Errorf("request %d: echoed %d bytes, sent %d", i, n, it.Size)
	}
	if sum != it.CRC {
		return fmt.Errorf("request %d (%d bytes): echo checksum %08x, want %08x", i, it.Size, sum, it.CRC)
	}
	return nil
}

var errOverlong = errors.New("longer than the request")

// readChecksum reads r to its end through buf and returns how many bytes
// it read and their CRC-32C, or errOverlong as soon as it has read more
// than limit bytes.
func readChecksum(r io.Reader, buf []byte, limit int) (int, uint32, error) {
	n := 0
	var sum uint32
	for {
		m, err := r.Read(buf)
		n += m
		sum = crc32.Update(sum, castagnoli, buf[:m])
		if n > limit {
			return n, sum, errOverlong
		}
		if err == io.EOF {
			return n, sum, nil
		}
		if err != nil {
			return n, sum, err
		}
	}
}
