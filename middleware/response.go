package middleware

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/bodypool/bodypool/bufpool"
)

// responseWriter buffers a handler's response in pooled memory up to
// MaxBufferedResponse, so that it goes out with a Content-Length in one
// write, and streams past it. A response whose handler set Content-Length
// before writing is not buffered: the length is known, and the server's
// own write buffer coalesces the writes. Flush switches to streaming at once, Hijack
// passes through, 1xx responses go out immediately, and Unwrap exposes the
// underlying writer to http.ResponseController.
//
// A responseWriter is allocated per request, not pooled: a handler that
// keeps its writer past its return (a bug) must not reach the response of
// a later request.
type responseWriter struct {
	w   http.ResponseWriter
	c   *config
	req *http.Request
	buf Buffer

	status      int
	wroteHeader bool // the handler's final status is known
	streaming   bool // the header went out; writes pass through
	hijacked    bool
	written     int64
}

func (c *config) newResponseWriter(w http.ResponseWriter, r *http.Request) *responseWriter {
	return &responseWriter{w: w, c: c, req: r}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

func (rw *responseWriter) WriteHeader(code int) {
	if rw.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints) go out now; the final
		// status is still to come.
		rw.w.WriteHeader(code)
		return
	}
	if rw.wroteHeader {
		return
	}
	rw.status, rw.wroteHeader = code, true
	if code == http.StatusSwitchingProtocols || rw.c.MaxBufferedResponse < 0 {
		rw.stream()
	}
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	rw.written += int64(len(p))
	if !rw.streaming && rw.bufferWrite(p) {
		return len(p), nil
	}
	rw.stream()
	return rw.w.Write(p)
}

// bufferWrite buffers p if it fits under the threshold and the budget,
// reporting whether it did.
func (rw *responseWriter) bufferWrite(p []byte) bool {
	limit := rw.c.MaxBufferedResponse
	if rw.buf == nil && rw.w.Header().Get("Content-Length") != "" {
		// The handler knows the length: buffering would only copy.
		return false
	}
	if len(p) > limit || !rw.acquire(len(p)) {
		return false
	}
	if rw.buf.Len()+len(p) > limit {
		return false
	}
	_, err := rw.buf.Write(p)
	return err == nil
}

// acquire makes sure there is a response buffer, taking one for n bytes
// if needed, without waiting for the budget: a response that finds no room
// streams instead.
func (rw *responseWriter) acquire(n int) bool {
	if rw.buf != nil {
		return true
	}
	if n < 0 {
		return false
	}
	buf, err := rw.c.Pool.Acquire(noWait, n)
	if err != nil {
		return false
	}
	buf.SizeHint(rw.c.MaxBufferedResponse)
	rw.buf = buf
	return true
}

// stream sends the header and whatever is buffered, releases the buffer
// and lets later writes pass through.
func (rw *responseWriter) stream() {
	if rw.streaming {
		return
	}
	rw.streaming = true
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	rw.w.WriteHeader(rw.status)
	if rw.buf != nil {
		rw.w.Write(rw.buf.Bytes())
		rw.buf.Release()
		rw.buf = nil
	}
}

// ReadFrom buffers from src up to the threshold, then streams the rest
// with the underlying writer's ReadFrom, if it has one (sendfile). As with
// net/http, the header is not committed until src yields a byte.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	if rw.streaming {
		m, err := io.Copy(rw.w, src)
		rw.written += m
		return m, err
	}
	if (rw.wroteHeader && !bodyAllowed(rw.status)) || !rw.acquire(min(32<<10, rw.c.MaxBufferedResponse)) {
		// Write chunk by chunk, with exactly Write's rules.
		return io.Copy(writerOnly{rw}, src)
	}
	n, err := rw.buf.ReadFromLimit(src, int64(rw.c.MaxBufferedResponse-rw.buf.Len()))
	if n > 0 && !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	rw.written += n
	if err == nil || (!errors.Is(err, bufpool.ErrTooLarge) && !errors.Is(err, bufpool.ErrBudgetExceeded)) {
		return n, err
	}
	rw.stream()
	m, err := io.Copy(rw.w, src)
	rw.written += m
	return n + m, err
}

// writerOnly hides ReadFrom, so that io.Copy calls Write.
type writerOnly struct{ io.Writer }

func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError sends the header and everything written so far, and switches
// the response to streaming.
func (rw *responseWriter) FlushError() error {
	if rw.hijacked {
		return http.ErrHijacked
	}
	rw.stream()
	return http.NewResponseController(rw.w).Flush()
}

// Hijack passes through to the underlying writer. Anything buffered and
// not sent is discarded, as the connection now belongs to the handler.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.hijacked = true
		rw.releaseBuffer()
	}
	return conn, brw, err
}

// Push passes through to the underlying writer, if it supports HTTP/2
// server push.
func (rw *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := rw.w.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// finish sends a buffered response once the handler returned.
func (rw *responseWriter) finish() {
	switch {
	case rw.hijacked:
		return
	case rw.streaming:
		rw.observe(true)
		return
	case !rw.wroteHeader:
		// Nothing written: leave the response to the server (200, empty)
		// or to an error handler further out.
		rw.releaseBuffer()
		return
	}
	var body []byte
	if rw.buf != nil {
		body = rw.buf.Bytes()
	}
	h := rw.w.Header()
	if bodyAllowed(rw.status) && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" &&
		!(rw.req.Method == http.MethodHead && len(body) == 0) {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	rw.w.WriteHeader(rw.status)
	if len(body) > 0 {
		rw.w.Write(body)
	}
	rw.releaseBuffer()
	rw.observe(false)
}

// sent reports whether any of the response went out, or the connection
// was taken over.
func (rw *responseWriter) sent() bool { return rw.streaming || rw.hijacked }

// abort releases the buffer without sending it: the handler panicked.
func (rw *responseWriter) abort() { rw.releaseBuffer() }

func (rw *responseWriter) releaseBuffer() {
	if rw.buf != nil {
		rw.buf.Release()
		rw.buf = nil
	}
}

func (rw *responseWriter) observe(streamed bool) {
	if rw.c.Observer != nil {
		rw.c.Observer.ResponseBody(int(rw.written), streamed)
	}
}
