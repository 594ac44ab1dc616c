package middleware

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/seam"
)

// testLimit is MaxRequestBody in the request tables: above the first
// buffer (4 KiB), so that bodies near the limit grow through the pool.
const testLimit = 256 << 10

// echoRequest writes back the body it receives, and reports in headers
// what it saw of the request.
func echoRequest(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Ran", "1")
	h.Set("X-Content-Length", strconv.FormatInt(r.ContentLength, 10))
	h.Set("X-Content-Encoding", r.Header.Get("Content-Encoding"))
	h.Set("X-Header-Content-Length", r.Header.Get("Content-Length"))
	io.Copy(w, r.Body)
}

func TestRequestStatus(t *testing.T) {
	small := payload(1, 1000)
	large := payload(2, 200<<10)
	atLimit := payload(3, testLimit)
	overLimit := payload(4, testLimit+1)
	text := bytes.Repeat([]byte("compressible text "), 10_000) // 180,000 bytes
	bomb := gzipped(t, make([]byte, 10<<20))

	type header map[string]string
	tests := []struct {
		name    string
		method  string
		body    []byte
		chunked bool
		header  header
		plain   bool // the middleware does not decompress

		status   int
		want     []byte // the response body, when status is 200
		ran      bool   // the handler runs
		noPool   bool   // no buffer is taken from the pool
		wantHead header // response headers
	}{
		{name: "GET without body", method: "GET", status: 200, want: []byte{}, ran: true, noPool: true},
		{name: "POST empty", method: "POST", body: []byte{}, status: 200, want: []byte{}, ran: true, noPool: true},
		{name: "one byte", method: "POST", body: []byte("x"), status: 200, want: []byte("x"), ran: true},
		{name: "small", method: "POST", body: small, status: 200, want: small, ran: true,
			wantHead: header{"X-Content-Length": "1000", "Content-Length": "1000"}},
		{name: "small chunked", method: "PUT", body: small, chunked: true, status: 200, want: small, ran: true,
			wantHead: header{"X-Content-Length": "-1"}},
		{name: "large", method: "POST", body: large, status: 200, want: large, ran: true},
		{name: "large chunked", method: "POST", body: large, chunked: true, status: 200, want: large, ran: true},
		{name: "limit", method: "POST", body: atLimit, status: 200, want: atLimit, ran: true},
		{name: "limit chunked", method: "POST", body: atLimit, chunked: true, status: 200, want: atLimit, ran: true},
		{name: "limit+1", method: "POST", body: overLimit, status: 413, noPool: true,
			wantHead: header{"Content-Type": "text/plain; charset=utf-8"}},
		{name: "limit+1 chunked", method: "POST", body: overLimit, chunked: true, status: 413},
		{name: "4x limit chunked", method: "POST", body: payload(5, 4*testLimit), chunked: true, status: 413},
		{name: "gzip", method: "POST", body: gzipped(t, text), header: header{"Content-Encoding": "gzip"},
			status: 200, want: text, ran: true,
			wantHead: header{"X-Content-Encoding": "", "X-Content-Length": "180000", "X-Header-Content-Length": "180000"}},
		{name: "x-gzip chunked", method: "POST", body: gzipped(t, small), chunked: true, header: header{"Content-Encoding": "x-gzip"},
			status: 200, want: small, ran: true, wantHead: header{"X-Content-Encoding": "", "X-Content-Length": "1000"}},
		{name: "gzip over the limit", method: "POST", body: gzipped(t, overLimit), header: header{"Content-Encoding": "gzip"},
			status: 413},
		{name: "gzip bomb", method: "POST", body: bomb, header: header{"Content-Encoding": "gzip"}, status: 413},
		{name: "gzip malformed", method: "POST", body: []byte("this is not gzip"), header: header{"Content-Encoding": "gzip"},
			status: 400},
		{name: "gzip truncated", method: "POST", body: gzipped(t, large)[:1000], header: header{"Content-Encoding": "gzip"},
			status: 400},
		{name: "gzip without Decompress", method: "POST", body: gzipped(t, small), header: header{"Content-Encoding": "gzip"},
			plain: true, status: 200, want: gzipped(t, small), ran: true, wantHead: header{"X-Content-Encoding": "gzip"}},
	}
	for _, mode := range poolModes {
		t.Run(mode.name, func(t *testing.T) {
			for _, v := range vias {
				t.Run(v.name, func(t *testing.T) {
					for _, tt := range tests {
						t.Run(tt.name, func(t *testing.T) {
							t.Parallel() // a refusal lingers half a second before closing
							p := newPool(t, mode.cfg)
							var runs counter
							mw := newMiddleware(t, Config{Pool: p, MaxRequestBody: testLimit, Decompress: !tt.plain})
							h := mw(runs.wrap(echoRequest))
							var body io.Reader
							if tt.body != nil {
								body = bytes.NewReader(tt.body)
								if tt.chunked {
									body = unsized{body}
								}
							}
							req := newRequest(tt.method, body)
							for k, val := range tt.header {
								req.Header.Set(k, val)
							}
							before := gets(p)

							res := v.do(t, h, req)

							if res.status != tt.status {
								t.Fatalf("status %d, want %d; body %.100q", res.status, tt.status, res.body)
							}
							if tt.want != nil && !bytes.Equal(res.body, tt.want) {
								t.Errorf("body: %d bytes, want the %d bytes sent", len(res.body), len(tt.want))
							}
							if ran := runs.n.Load() == 1; ran != tt.ran {
								t.Errorf("handler ran: %v, want %v", ran, tt.ran)
							}
							if tt.noPool && gets(p) != before {
								t.Errorf("the request took %d buffers from the pool, want none", gets(p)-before)
							}
							for k, val := range tt.wantHead {
								if got := res.header.Get(k); got != val {
									t.Errorf("header %s: %q, want %q", k, got, val)
								}
							}
							switch tt.status {
							case 413, 400:
								if !res.closed {
									t.Errorf("refusal %d does not close the connection", tt.status)
								}
								if tt.status == 413 && !strings.Contains(string(res.body), "limit is "+strconv.Itoa(testLimit)) {
									t.Errorf("413 body %q does not state the limit", res.body)
								}
							case 200:
								// The middleware leaves an empty response to the
								// server, and a recorder adds no Content-Length.
								if cl := res.header.Get("Content-Length"); cl != strconv.Itoa(len(tt.want)) && (cl != "" || len(tt.want) > 0 || v.name == "server") {
									t.Errorf("response Content-Length %q, want %d", cl, len(tt.want))
								}
							}
						})
					}
				})
			}
		})
	}
}

// A body refused by a limit further out, http.MaxBytesReader, gets 413
// with a message that does not claim our limit.
func TestOuterLimit(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	var runs counter
	inner := newMiddleware(t, Config{Pool: p, MaxRequestBody: testLimit})(runs.wrap(echoRequest))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 100)
		inner.ServeHTTP(w, r)
	})
	for _, v := range vias {
		t.Run(v.name, func(t *testing.T) {
			res := v.do(t, h, newRequest("POST", unsized{bytes.NewReader(payload(11, 101))}))
			if res.status != 413 || !res.closed || string(res.body) != "request body too large\n" || runs.n.Load() != 0 {
				t.Errorf("got %d %q (close %v, handler runs %d), want 413 without our limit", res.status, res.body, res.closed, runs.n.Load())
			}
		})
	}
}

// countingPool counts the bytes its buffers read with ReadFromLimit.
type countingPool struct {
	p    seam.Pool
	read atomic.Int64
}

func (p *countingPool) Acquire(ctx context.Context, n int) (seam.Buffer, error) {
	b, err := p.p.Acquire(ctx, n)
	if err != nil {
		return nil, err
	}
	return countingBuffer{b, &p.read}, nil
}

func (p *countingPool) TryAcquire(n int) (seam.Buffer, bool) {
	b, ok := p.p.TryAcquire(n)
	if !ok {
		return nil, false
	}
	return countingBuffer{b, &p.read}, true
}

type countingBuffer struct {
	seam.Buffer
	read *atomic.Int64
}

func (b countingBuffer) ReadFromLimit(r io.Reader, limit int64) (int64, error) {
	n, err := b.Buffer.ReadFromLimit(r, limit)
	b.read.Add(n)
	return n, err
}

// A gzip bomb is refused after at most limit+1 decompressed bytes, and the
// buffer never grows past the class that holds them.
func TestGzipBombReadsAtMostLimit(t *testing.T) {
	bomb := gzipped(t, make([]byte, 10<<20))
	for _, v := range vias {
		t.Run(v.name, func(t *testing.T) {
			p := newPool(t, bufpool.Config{Poison: true})
			cp := &countingPool{p: pooled{p}}
			var runs counter
			h := newMiddleware(t, Config{pool: cp, MaxRequestBody: testLimit, Decompress: true})(runs.wrap(echoRequest))
			req := newRequest("POST", bytes.NewReader(bomb))
			req.Header.Set("Content-Encoding", "gzip")

			res := v.do(t, h, req)

			if res.status != 413 || runs.n.Load() != 0 {
				t.Fatalf("status %d, handler runs %d; want 413 and none", res.status, runs.n.Load())
			}
			if n := cp.read.Load(); n > testLimit+1 {
				t.Errorf("read %d decompressed bytes, want at most limit+1 = %d", n, testLimit+1)
			}
			st := p.Stats()
			largest := p.ClassSize(testLimit + 1)
			for _, c := range st.Classes {
				if c.Size > largest && c.Gets > 0 {
					t.Errorf("%d buffers of class %d taken; none above %d should be", c.Gets, c.Size, largest)
				}
			}
			if st.Oversize.Gets > 0 {
				t.Errorf("%d oversize buffers taken", st.Oversize.Gets)
			}
		})
	}
}

// A body declared above the limit is refused before a byte of it is read:
// a client that waits for 100 Continue gets the 413 instead, and the
// connection closes.
func TestDeclaredTooLargeNeverRead(t *testing.T) {
	for _, declared := range []int{testLimit + 1, 8 << 20, 1 << 40} {
		t.Run(strconv.Itoa(declared), func(t *testing.T) {
			p := newPool(t, bufpool.Config{})
			var runs counter
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxRequestBody: testLimit})(runs.wrap(echoRequest)))
			conn, br := rawConn(t, srv)

			fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n"+
				"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", declared)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 413 {
				t.Fatalf("first response %d %q, want 413 (no 100 Continue)", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("413 without Connection: close")
			}
			// The server closes the connection: the client never has to
			// send the body.
			if n, err := io.Copy(io.Discard, br); err != nil || n != 0 {
				t.Errorf("after the 413: %d more bytes, %v; want the connection closed", n, err)
			}
			if runs.n.Load() != 0 {
				t.Error("the handler ran")
			}
			if g := gets(p); g != 0 {
				t.Errorf("%d buffers taken for a refused body", g)
			}
		})
	}
}

// A body within the limit is read: a client that waits for 100 Continue
// gets it, sends the body, and gets it back.
func TestExpectContinueWithinLimit(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxRequestBody: testLimit})(http.HandlerFunc(echoRequest)))
	conn, br := rawConn(t, srv)
	body := payload(12, testLimit)

	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("first response %v, %v; want 100 Continue", resp, err)
	}
	conn.Write(body)
	if resp, err = http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("got %d with %d bytes, want 200 with the %d bytes sent", resp.StatusCode, len(got), len(body))
	}
}

// A client that keeps sending a large chunked body still reads the 413.
func TestTooLargeWhileSending(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	var runs counter
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxRequestBody: testLimit})(runs.wrap(echoRequest)))
	conn, br := rawConn(t, srv)

	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 32<<10, bytes.Repeat([]byte("z"), 32<<10))
		for sent := 0; sent < 16<<20; sent += 32 << 10 {
			if _, err := conn.Write(chunk); err != nil {
				return // the server closed the connection
			}
		}
		conn.Write([]byte("0\r\n\r\n"))
	}()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response while sending: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	conn.Close()
	wg.Wait()
	if resp.StatusCode != 413 || !resp.Close {
		t.Errorf("got %d (close %v) %q, want 413 with Connection: close", resp.StatusCode, resp.Close, body)
	}
	if runs.n.Load() != 0 {
		t.Error("the handler ran")
	}
}

// A body shorter than its Content-Length gets 400 (or a closed
// connection), and its buffer goes back to the pool.
func TestTruncatedBody(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPool(t, mode.cfg)
			var runs counter
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(runs.wrap(echoRequest)))
			conn, br := rawConn(t, srv)

			fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n0123456789")
			conn.CloseWrite()
			resp, err := http.ReadResponse(br, nil)
			switch {
			case err != nil:
				t.Logf("no response: %v", err)
			case resp.StatusCode != 400:
				t.Errorf("status %d, want 400", resp.StatusCode)
			default:
				resp.Body.Close()
			}
			if runs.n.Load() != 0 {
				t.Error("the handler ran")
			}
			if gets(p) == 0 {
				t.Error("no buffer was taken: the body was not read")
			}
		})
	}
}

// Memory follows the bytes that arrive, not the length declared: clients
// that declare 8 MiB and send a few bytes hold a first buffer each, and
// clients that send more hold at most growthFactor times what they sent,
// rounded up to the power of two the pool allocates, not 8 MiB. Once a request has read what its client sent, its buffer has
// grown toward the declared length as far as that allows (within half),
// or up to the bytes that allow all of it (1/64 of it) if that is less,
// so that what arrives next is read into room already there.
// arraySize is the memory behind a buffer of p that holds n bytes: the
// pool lends, and allocates, up to the top of the class's doubling, MinSize
// times a power of two.
func arraySize(p *bufpool.Pool, n int) int {
	s := p.Config().MinSize
	for s < p.ClassSize(n) {
		s *= 2
	}
	return min(s, p.Config().MaxSize)
}

func TestMemoryFollowsBytes(t *testing.T) {
	const clients, declared = 20, 8 << 20
	p := newPool(t, bufpool.Config{})
	for _, sent := range []int{1, 100, 200, 4096, 5000, 40000} {
		t.Run(fmt.Sprint(sent), func(t *testing.T) {
			var runs counter
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxRequestBody: declared})(runs.wrap(echoRequest)))
			most := arraySize(p, max(DefaultInitialRequestBuffer, growthFactor*sent))
			least := DefaultInitialRequestBuffer
			if growthFactor*sent >= 2*DefaultInitialRequestBuffer {
				least = min(growthFactor*sent/2, declared/growthFactor)
			}
			conns := make([]io.Closer, clients)
			for i := range conns {
				conn, _ := rawConn(t, srv)
				conns[i] = conn
				fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", declared, bytes.Repeat([]byte("b"), sent))
			}

			waitFor(t, "every request to hold its buffer", func() bool {
				st := p.Stats().Total
				return st.InUse == clients && st.InUseBytes >= int64(clients*least)
			})
			if st := p.Stats().Total; st.InUseBytes > int64(clients*most) {
				t.Errorf("%d requests that sent %d bytes each hold %d bytes, want at most %d (%d each)",
					clients, sent, st.InUseBytes, clients*most, most)
			} else {
				t.Logf("%d requests hold %d buffers, %d KiB", clients, st.InUse, st.InUseBytes>>10)
			}

			for _, c := range conns {
				c.Close()
			}
			waitFor(t, "every buffer to be released", func() bool { return p.Stats().Total.InUse == 0 })
			if runs.n.Load() != 0 {
				t.Error("a handler ran")
			}
		})
	}
}

// socket stands for a connection: each Read returns at most chunk bytes,
// as a read of a socket returns what has arrived, and counts as one read
// of the connection, with the size of the room it was given. The first
// read fills the bufio.Reader in front of it; later reads into that
// reader's memory are refills.
type socket struct {
	data    []byte
	chunk   int
	rooms   []int
	reader  []byte // the bufio.Reader's memory, from the first read
	refills int
}

func (s *socket) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	if s.reader == nil {
		s.reader = p
	} else if start, at := uintptr(unsafe.Pointer(unsafe.SliceData(s.reader))), uintptr(unsafe.Pointer(unsafe.SliceData(p))); at >= start && at < start+uintptr(cap(s.reader)) {
		s.refills++
	}
	s.rooms = append(s.rooms, len(p))
	n := copy(p, s.data[:min(len(s.data), s.chunk)])
	s.data = s.data[n:]
	return n, nil
}

// A declared body is read as a server without the middleware would read
// it into one large buffer: net/http's 4 KiB reader, filled with the
// header and the start of the body, is drained, and every later read of
// the connection goes straight into the body's buffer, large. Filling the
// first buffer to its last byte would make the reader refill itself for a
// few hundred bytes: a read of the connection more per request.
func TestDeclaredBodyReads(t *testing.T) {
	const header, chunk = 120, 64 << 10
	p := newPool(t, bufpool.Config{})
	c, err := Config{Pool: p}.validate()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{3000, 10 << 10, 300 << 10, 1 << 20, 4 << 20} {
		t.Run(sizeName(size), func(t *testing.T) {
			body := bytes.Repeat([]byte("d"), size)
			conn := &socket{data: append(bytes.Repeat([]byte("h"), header), body...), chunk: chunk}
			br := bufio.NewReaderSize(conn, 4096)
			br.Discard(header) // net/http has read the header
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Body, r.ContentLength = io.NopCloser(io.LimitReader(br, int64(size))), int64(size)
			rb, rej := c.readBody(r)
			if rej != nil {
				t.Fatal(rej.Message)
			}
			defer rb.release()
			if !bytes.Equal(rb.b, body) {
				t.Fatalf("read %d bytes, want %d", len(rb.b), size)
			}
			// Into one buffer of the body's size: the reader's first fill,
			// then reads of up to chunk bytes for the rest, one of which
			// the steps out of the first buffers may split in two.
			left := max(size-(4096-header), 0)
			want := 1 + (left+chunk-1)/chunk
			if left > 0 {
				want++
			}
			if conn.refills > 0 || len(conn.rooms) > want {
				t.Errorf("%d reads of the connection, %d of them refilling net/http's reader (rooms %v), want at most %d and none",
					len(conn.rooms), conn.refills, conn.rooms, want)
			}
		})
	}
}

// With the pool's budget taken, a request with a body gets 503 and
// Retry-After and its handler does not run; once memory is released, it
// works again.
func TestBudgetExhausted(t *testing.T) {
	const budget = 64 << 10
	for _, v := range vias {
		t.Run(v.name, func(t *testing.T) {
			p := newPool(t, bufpool.Config{MaxInUseBytes: budget})
			var runs counter
			h := newMiddleware(t, Config{Pool: p, MaxRequestBody: budget, BudgetWait: 20 * time.Millisecond})(runs.wrap(echoRequest))
			hold, err := p.Acquire(context.Background(), budget)
			if err != nil {
				t.Fatal(err)
			}
			body := payload(6, 100)

			res := v.do(t, h, newRequest("POST", bytes.NewReader(body)))
			if res.status != 503 || res.header.Get("Retry-After") != "1" || runs.n.Load() != 0 {
				t.Fatalf("budget held: status %d, Retry-After %q, handler runs %d; want 503, 1, 0",
					res.status, res.header.Get("Retry-After"), runs.n.Load())
			}
			if res.closed {
				t.Error("503 closes the connection; the body was small enough to keep it")
			}
			if st := p.Stats(); st.BudgetRejections == 0 {
				t.Errorf("no budget rejection counted: %+v", st)
			}

			hold.Release()
			res = v.do(t, h, newRequest("POST", bytes.NewReader(body)))
			if res.status != 200 || !bytes.Equal(res.body, body) {
				t.Fatalf("budget free: status %d, body %q", res.status, res.body)
			}

			// A body within MaxRequestBody whose growth can never fit the
			// budget is too large for this server: 413, not a 503 that
			// asks the client to retry for ever.
			runs.n.Store(0)
			rejections := p.Stats().BudgetRejections
			res = v.do(t, h, newRequest("POST", unsized{bytes.NewReader(payload(7, budget))}))
			if res.status != 413 || runs.n.Load() != 0 || res.header.Get("Retry-After") != "" {
				t.Errorf("body whose growth exceeds the budget: status %d, handler runs %d, Retry-After %q; want 413, 0, none",
					res.status, runs.n.Load(), res.header.Get("Retry-After"))
			}
			if got := p.Stats().BudgetRejections - rejections; got != 0 {
				t.Errorf("a 413 counted %d budget rejections, want 0", got)
			}
		})
	}
}

// r.Body can be read again through r.GetBody, and implements io.WriterTo
// from where a partial read stopped.
func TestBodyRereadable(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	body := payload(8, 10_000)
	var failures []string
	h := newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
		head := make([]byte, 100)
		if _, err := io.ReadFull(r.Body, head); err != nil || !bytes.Equal(head, body[:100]) {
			fail("first 100 bytes: %v", err)
		}
		wt, ok := r.Body.(io.WriterTo)
		if !ok {
			fail("r.Body %T does not implement io.WriterTo", r.Body)
			return
		}
		var rest bytes.Buffer
		if n, err := wt.WriteTo(&rest); err != nil || n != int64(len(body)-100) || !bytes.Equal(rest.Bytes(), body[100:]) {
			fail("WriteTo after a partial read: %d bytes, %v", n, err)
		}
		if n, err := r.Body.Read(head); n != 0 || err != io.EOF {
			fail("Read at the end: %d, %v; want 0, EOF", n, err)
		}
		if r.GetBody == nil {
			fail("r.GetBody is nil")
			return
		}
		for range 2 {
			rc, err := r.GetBody()
			if err != nil {
				fail("GetBody: %v", err)
				return
			}
			again, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(again, body) {
				fail("GetBody read %d bytes, %v", len(again), err)
			}
		}
		if r.ContentLength != -1 {
			fail("ContentLength %d, want -1 as the client sent it", r.ContentLength)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("POST", unsized{bytes.NewReader(body)}))
	for _, f := range failures {
		t.Error(f)
	}
}

// Body returns the pooled bytes themselves, the ones r.Body reads.
func TestBodyNoCopy(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	body := payload(9, 5000)
	var failures []string
	h := newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b1, b2 := Body(r), Body(r)
		if !bytes.Equal(b1, body) {
			failures = append(failures, "Body differs from what was sent")
			return
		}
		if unsafe.SliceData(b1) != unsafe.SliceData(b2) {
			failures = append(failures, "two calls of Body returned different memory")
		}
		b1[0] ^= 0xFF // r.Body reads the same memory
		first := make([]byte, 1)
		r.Body.Read(first)
		if first[0] != body[0]^0xFF {
			failures = append(failures, "r.Body does not read the memory Body returned")
		}
		if out := p.Outstanding(); len(out) != 1 {
			failures = append(failures, fmt.Sprintf("the pool has %d buffers out, want 1 holding the body", len(out)))
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("POST", bytes.NewReader(body)))
	for _, f := range failures {
		t.Error(f)
	}
	if Body(newRequest("POST", bytes.NewReader(body))) != nil {
		t.Error("Body of a request that did not pass through the middleware is not nil")
	}
	if DetachBody(newRequest("GET", nil)) != nil {
		t.Error("DetachBody of a request that did not pass through the middleware is not nil")
	}
}

// Bytes kept with Body past the handler's return belong to the pool again
// (in Poison mode they are overwritten at once); DetachBody's bytes
// survive while later requests reuse the pool.
func TestDetachBody(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	var kept, detached [][]byte
	var mu sync.Mutex
	mw := newMiddleware(t, Config{Pool: p})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/detach":
			d := DetachBody(r)
			if again := DetachBody(r); unsafe.SliceData(again) != unsafe.SliceData(d) {
				t.Error("a second DetachBody returned other memory")
			}
			if b := Body(r); unsafe.SliceData(b) != unsafe.SliceData(d) {
				t.Error("Body after DetachBody returned other memory")
			}
			detached = append(detached, d)
		case "/keep":
			kept = append(kept, Body(r))
		}
		io.Copy(w, r.Body)
	}))

	// Same goroutine: the kept slice is safe to inspect after ServeHTTP.
	keep := payload(10, 3000)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/keep", bytes.NewReader(keep)))
	if len(kept) != 1 || bytes.Equal(kept[0], keep) || kept[0][0] != bufpool.PoisonByte {
		t.Errorf("a body kept without DetachBody still reads as sent after the handler returned; Poison should have overwritten it")
	}

	srv := startServer(t, p, h)
	var want [][]byte
	for i := range 20 {
		body := payload(uint64(100+i), 1000+i*3000)
		want = append(want, body)
		resp, err := srv.Client().Post(srv.URL+"/detach", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Other requests of the same sizes reuse the pool meanwhile.
		for j := range 5 {
			resp, err := srv.Client().Post(srv.URL+"/other", "application/octet-stream", bytes.NewReader(payload(uint64(1000+j), len(body))))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(detached) != len(want) {
		t.Fatalf("%d bodies detached, want %d", len(detached), len(want))
	}
	for i := range want {
		if !bytes.Equal(detached[i], want[i]) {
			t.Errorf("detached body %d changed after its handler returned", i)
		}
	}
	if st := p.Stats().Total; st.Drops.Detached == 0 || st.Hits == 0 {
		t.Errorf("stats %+v: want detached drops and pool hits", st)
	}
}

// New refuses an unusable Config with an error that names the field.
func TestNewInvalidConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{MaxRequestBody: -1}, "MaxRequestBody -1"},
		{Config{InitialRequestBuffer: -5}, "InitialRequestBuffer -5"},
	} {
		mw, err := New(tt.cfg)
		if mw != nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want an ErrInvalidConfig naming %q", tt.cfg, err, tt.want)
		}
	}
}
