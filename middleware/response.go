package middleware

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/bodypool/bodypool/internal/seam"

	"github.com/bodypool/bodypool/bufpool"
)

// errAfterReturn is returned by writes that come after the handler
// returned: the response has gone out, and the memory behind it is back in
// the pool.
var errAfterReturn = errors.New("middleware: response used after the handler returned")

// responseWriter buffers a handler's response in pooled memory up to
// MaxBufferedResponse, so that it goes out with a Content-Length in one
// write, and streams past it. It replays to the underlying writer the calls
// the handler made, later, so that the client sees what net/http would
// have sent:
//
//   - the header goes out as it was when the status became final (the
//     first WriteHeader or Write); later changes are ignored, except
//     trailers, as net/http does;
//   - a response whose header declares its length or trailers when the
//     status becomes final is not buffered: the length is known, or
//     net/http must send it chunked;
//   - 1xx responses go out at once; Flush, Hijack and 101 switch to
//     streaming first, so the header precedes them as it would;
//   - when the handler panics before anything went out, the header map is
//     put back as it was when the handler started, and nothing is sent.
//
// A responseWriter is allocated per request, not pooled: a handler that
// keeps its writer past its return (a bug) must not reach the response of
// a later request. Such late writes fail with errAfterReturn.
type responseWriter struct {
	w   http.ResponseWriter
	c   *config
	req *http.Request
	buf seam.Buffer

	// entry is the header map as the handler found it, taken at its first
	// Header call when outer middleware had set entries; snap is the
	// header as it was when the status became final.
	entry, snap http.Header

	status       int
	calledHeader bool // the handler asked for the header map
	wroteHeader  bool // the handler's final status is known
	streaming    bool // the header went out; writes pass through
	hijacked     bool
	done         bool // the handler returned
	written      int64
	probe        [1]byte // ReadFrom's look-ahead at the threshold
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
	_ http.Pusher         = (*responseWriter)(nil)
	_ io.ReaderFrom       = (*responseWriter)(nil)
)

func (c *config) newResponseWriter(w http.ResponseWriter, r *http.Request) *responseWriter {
	return &responseWriter{w: w, c: c, req: r}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

func (rw *responseWriter) Header() http.Header {
	h := rw.w.Header()
	if rw.wroteHeader && rw.snap == nil && !rw.streaming && !rw.done {
		// The status is final but the header has not gone out: what the
		// caller changes from now on must not reach it, as in net/http.
		rw.snap = h.Clone()
	}
	if !rw.calledHeader {
		rw.calledHeader = true
		if len(h) > 0 && !rw.sent() {
			rw.entry = maps.Clone(h)
		}
	}
	return h
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

func (rw *responseWriter) WriteHeader(code int) {
	if rw.hijacked || rw.done || rw.wroteHeader {
		// As net/http: a status after the final one is superfluous, and
		// after Hijack or the handler's return it is the caller's bug;
		// the underlying writer reports either.
		if !rw.hijacked && rw.streaming {
			rw.w.WriteHeader(code)
		}
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints) go out now; the final
		// status is still to come. What they carried has gone out: a
		// panic later puts the header back to this, not further.
		rw.w.WriteHeader(code)
		if rw.calledHeader {
			rw.entry = maps.Clone(rw.w.Header())
		}
		return
	}
	rw.status, rw.wroteHeader = code, true
	h := rw.w.Header()
	if code == http.StatusSwitchingProtocols || rw.c.MaxBufferedResponse < 0 || knownFraming(h) {
		rw.stream()
		return
	}
	if rw.calledHeader {
		rw.snap = h.Clone()
	}
}

// knownFraming reports whether h, the header of a response whose status
// just became final, settles how its body is framed: by a Content-Length
// the handler set (buffering would only copy), or by trailers, which
// net/http sends only with chunked encoding.
func knownFraming(h http.Header) bool {
	if len(h) == 0 {
		return false
	}
	if h.Get("Content-Length") != "" || len(h["Trailer"]) > 0 {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	switch {
	case rw.hijacked:
		return 0, http.ErrHijacked
	case rw.done:
		return 0, errAfterReturn
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if rw.streaming {
		n, err := rw.w.Write(p)
		rw.written += int64(n)
		return n, err
	}
	if rw.bufferWrite(p) {
		rw.written += int64(len(p))
		return len(p), nil
	}
	rw.stream()
	n, err := rw.w.Write(p)
	rw.written += int64(n)
	return n, err
}

// bufferWrite buffers p if it fits under the threshold and the budget,
// reporting whether it did.
func (rw *responseWriter) bufferWrite(p []byte) bool {
	limit := rw.c.MaxBufferedResponse
	if len(p) > limit || !rw.acquire(len(p)) || rw.buf.Len()+len(p) > limit {
		return false
	}
	_, err := rw.buf.Write(p)
	return err == nil
}

// acquire makes sure there is a response buffer, taking one for n bytes
// if needed, without waiting for the budget: a response that finds no room
// streams instead, and is not counted as refused.
func (rw *responseWriter) acquire(n int) bool {
	if rw.buf != nil {
		return true
	}
	buf, ok := rw.c.pool.TryAcquire(n)
	if !ok {
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
	rw.sendHeader(-1)
	if rw.buf != nil {
		rw.w.Write(rw.buf.Bytes())
		rw.releaseBuffer()
	}
}

// sendHeader sends the final status with the header as it was when the
// status became final, with a Content-Length of length bytes if length is
// not negative and the handler set no framing of its own. Entries the
// handler added since with http.TrailerPrefix are kept after the header
// went out: net/http sends them as trailers.
func (rw *responseWriter) sendHeader(length int) {
	h := rw.w.Header()
	var late http.Header
	if rw.snap != nil {
		for k, v := range h {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				if late == nil {
					late = make(http.Header)
				}
				late[k] = v
			}
		}
		clear(h)
		maps.Copy(h, rw.snap)
		rw.snap = nil
	}
	if length >= 0 && late == nil && bodyAllowed(rw.status) && h.Get("Content-Length") == "" &&
		h.Get("Transfer-Encoding") == "" && !(rw.req.Method == http.MethodHead && length == 0) {
		h.Set("Content-Length", strconv.Itoa(length))
	}
	rw.w.WriteHeader(rw.status)
	maps.Copy(h, late)
}

// ReadFrom buffers from src up to the threshold, then streams the rest
// with the underlying writer's ReadFrom, if it has one (sendfile). As with
// net/http, the status is not final until src yields a byte. The buffer
// never grows past the class of MaxBufferedResponse, and a response whose
// length the handler set is not buffered.
func (rw *responseWriter) ReadFrom(src io.Reader) (n int64, err error) {
	switch {
	case rw.hijacked:
		return 0, http.ErrHijacked
	case rw.done:
		return 0, errAfterReturn
	}
	if !rw.streaming && rw.bufferable() && rw.acquire(min(readFromChunk, rw.c.MaxBufferedResponse)) {
		if n, err = rw.bufferFrom(src); err != nil || !rw.streaming {
			return n, err
		}
	}
	// Write's rules decide on the first byte whether the body may be sent
	// and whether it streams.
	for !rw.streaming {
		k, rerr := src.Read(rw.probe[:])
		if k > 0 {
			if _, werr := rw.Write(rw.probe[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
	m, err := io.Copy(rw.w, src)
	rw.written += m
	return n + m, err
}

// readFromChunk is the first buffer ReadFrom takes when it has none.
const readFromChunk = 32 << 10

// bufferable reports whether a body may still go to the buffer.
func (rw *responseWriter) bufferable() bool {
	if rw.wroteHeader {
		return bodyAllowed(rw.status)
	}
	return rw.c.MaxBufferedResponse >= 0 && !knownFraming(rw.w.Header())
}

// bufferFrom reads src into the buffer up to MaxBufferedResponse. When src
// holds more, it switches the response to streaming, having sent what it
// read, and the caller copies the rest.
func (rw *responseWriter) bufferFrom(src io.Reader) (int64, error) {
	var n int64
	if room := rw.c.MaxBufferedResponse - rw.buf.Len(); room > 0 {
		// At most room bytes: the buffer's growth stops at the class of
		// the threshold, and ErrTooLarge says it is full.
		m, err := rw.buf.ReadFromLimit(src, int64(room-1))
		n = m
		rw.written += m
		if m > 0 && !rw.wroteHeader {
			rw.WriteHeader(http.StatusOK) // may stream, sending what was read
		}
		switch {
		case rw.streaming:
			return n, err
		case err == nil:
			return n, nil
		case errors.Is(err, bufpool.ErrBudgetExceeded):
			rw.stream()
			return n, nil
		case !errors.Is(err, bufpool.ErrTooLarge):
			return n, err
		}
	}
	// The buffer is at the threshold: one more byte decides.
	for {
		k, err := src.Read(rw.probe[:])
		if k > 0 {
			if !rw.wroteHeader {
				rw.WriteHeader(http.StatusOK)
			}
			rw.stream()
			k, err := rw.w.Write(rw.probe[:k])
			rw.written += int64(k)
			return n + int64(k), err
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError sends the header and everything written so far, and switches
// the response to streaming.
func (rw *responseWriter) FlushError() error {
	switch {
	case rw.hijacked:
		return http.ErrHijacked
	case rw.done:
		return errAfterReturn
	}
	rw.stream()
	return http.NewResponseController(rw.w).Flush()
}

// Hijack passes through to the underlying writer. As net/http does, a
// final status already written goes out first; anything buffered goes to
// the underlying writer with it, which treats it as net/http does.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if rw.wroteHeader && !rw.hijacked && !rw.done {
		rw.stream()
	}
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.hijacked = true
		rw.releaseBuffer()
	}
	return conn, brw, err
}

// Push passes through to the first writer down the Unwrap chain that
// supports HTTP/2 server push.
func (rw *responseWriter) Push(target string, opts *http.PushOptions) error {
	for w := rw.w; w != nil; {
		if p, ok := w.(http.Pusher); ok {
			return p.Push(target, opts)
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return http.ErrNotSupported
}

// finish sends a buffered response once the handler returned.
func (rw *responseWriter) finish() {
	defer func() { rw.done = true }()
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
	rw.sendHeader(len(body))
	if len(body) > 0 {
		rw.w.Write(body)
	}
	rw.releaseBuffer()
	rw.observe(false)
}

// sent reports whether any of the response went out, or the connection
// was taken over.
func (rw *responseWriter) sent() bool { return rw.streaming || rw.hijacked }

// abort releases the buffer without sending it: the handler panicked. If
// the handler had written a status but nothing went out, the header map is
// put back as the handler found it, so that a recovery further out answers
// with its own header only, not with the Content-Encoding or
// Content-Disposition of the response it replaces.
func (rw *responseWriter) abort() {
	rw.done = true
	rw.releaseBuffer()
	if rw.sent() {
		return
	}
	rw.snap = nil
	if rw.wroteHeader && rw.calledHeader {
		// Without the middleware this response would have gone out with
		// the status; only then are the headers it set discarded with it.
		// A handler that panics before writing leaves them to the recovery
		// further out, as it would without the middleware.
		h := rw.w.Header()
		clear(h)
		maps.Copy(h, rw.entry)
	}
}

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
