package middleware

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/labstack/echo/v4"
)

// rejection is a refused request: its status, reason and message.
type rejection struct {
	status int
	reason string
	msg    string
}

// noWait is an ended context: Acquire with it takes the budget only if
// there is room at once.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

var gzipReaders = bufpool.ObjectPool[*gzip.Reader]{New: func() *gzip.Reader { return new(gzip.Reader) }}

// hasBody reports whether r may carry a body. Requests without one cost
// the middleware no pool traffic and no allocation.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

func isGzip(encoding string) bool {
	return strings.EqualFold(encoding, "gzip") || strings.EqualFold(encoding, "x-gzip")
}

func (c *config) tooLarge() *rejection {
	return &rejection{http.StatusRequestEntityTooLarge, ReasonTooLarge,
		"request body too large: the limit is " + strconv.FormatInt(c.MaxRequestBody, 10) + " bytes"}
}

var (
	errTooLargeOuter = &rejection{http.StatusRequestEntityTooLarge, ReasonTooLarge, "request body too large"}
	errTruncated     = &rejection{http.StatusBadRequest, ReasonTruncated, "request body truncated or malformed"}
	errBusy          = &rejection{http.StatusServiceUnavailable, ReasonBudget, "server busy: no memory for the request body now, retry later"}
)

// acquire takes a buffer for n bytes, waiting at most BudgetWait.
func (c *config) acquire(ctx context.Context, n int) (Buffer, error) {
	b, err := c.Pool.Acquire(noWait, n)
	if err != nil && c.BudgetWait > 0 && ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(ctx, c.BudgetWait)
		b, err = c.Pool.Acquire(ctx, n)
		cancel()
	}
	return b, err
}

// outerLimit reports whether a read error comes from a body limit further
// out: http.MaxBytesReader, or Echo's BodyLimit, whose reader returns an
// *echo.HTTPError with status 413. Its targets escape to the heap, so it
// is called only on error paths.
func outerLimit(err error) bool {
	var maxBytes *http.MaxBytesError
	var he *echo.HTTPError
	return errors.As(err, &maxBytes) || errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge
}

// readBody reads r's body into a pooled buffer. The declared length is
// only a hint: it can refuse a body at once, and it bounds the first
// buffer, but memory is taken only as bytes arrive.
func (c *config) readBody(r *http.Request) (*requestBody, *rejection) {
	declared := r.ContentLength
	gz := c.Decompress && isGzip(r.Header.Get("Content-Encoding"))
	if declared > c.maxDeclared(gz) {
		return nil, c.tooLarge()
	}
	initial := c.InitialRequestBuffer
	if declared >= 0 && declared < int64(initial) && !gz {
		initial = int(declared)
	}
	buf, err := c.acquire(r.Context(), initial)
	if err != nil {
		return nil, errBusy
	}
	if declared > 0 && !gz {
		buf.SizeHint(int(declared))
	}
	src := io.Reader(r.Body)
	if gz {
		zr := gzipReaders.Get()
		defer gzipReaders.Put(zr)
		if err := zr.Reset(r.Body); err != nil {
			buf.Release()
			return nil, errTruncated
		}
		zr.Multistream(true)
		src = zr
	}
	for {
		_, err := buf.ReadFromLimit(src, c.MaxRequestBody-int64(buf.Len()))
		switch {
		case err == nil:
			return &requestBody{buf: buf, b: buf.Bytes(), gz: gz}, nil
		case errors.Is(err, bufpool.ErrBudgetExceeded):
			// Growth must wait for the budget: hold what the next steps
			// need, or give up after BudgetWait.
			next := int(min(int64(2*buf.Len()+c.InitialRequestBuffer), c.MaxRequestBody+1))
			if c.reserve(r.Context(), buf, next) == nil {
				continue
			}
			buf.Release()
			return nil, errBusy
		case errors.Is(err, bufpool.ErrTooLarge):
			buf.Release()
			return nil, c.tooLarge()
		case outerLimit(err):
			buf.Release()
			return nil, errTooLargeOuter
		default:
			buf.Release()
			return nil, errTruncated
		}
	}
}

// maxDeclared is the largest Content-Length not refused at once. The limit
// applies to the decompressed size: a gzip body holding MaxRequestBody
// incompressible bytes is a little larger than that, by the framing of
// deflate's stored blocks (5 bytes per 64 KiB) and gzip's header and
// trailer, which this allowance covers many times over.
func (c *config) maxDeclared(gz bool) int64 {
	if !gz {
		return c.MaxRequestBody
	}
	extra := c.MaxRequestBody/1024 + 1024
	return c.MaxRequestBody + min(extra, math.MaxInt64-c.MaxRequestBody)
}

func (c *config) reserve(ctx context.Context, buf Buffer, n int) error {
	if c.BudgetWait <= 0 {
		return buf.Reserve(noWait, n)
	}
	ctx, cancel := context.WithTimeout(ctx, c.BudgetWait)
	defer cancel()
	return buf.Reserve(ctx, n)
}

// reject writes a short plain-text refusal.
func (c *config) reject(w http.ResponseWriter, rej *rejection) {
	c.rejectHeaders(w.Header(), rej)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rej.status)
	io.WriteString(w, rej.msg+"\n")
}

func (c *config) rejectHeaders(h http.Header, rej *rejection) {
	switch rej.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", c.retryAfter)
	default:
		// The rest of the body stays unread: the connection cannot be
		// reused, and net/http closes it gracefully after the response.
		h.Set("Connection", "close")
	}
	if c.Observer != nil {
		c.Observer.Rejected(rej.reason)
	}
}

// requestBody is the handler's r.Body: a reader over the pooled bytes. It
// implements io.WriterTo, and Close does not release the memory: the
// middleware does when the handler returns.
type requestBody struct {
	buf      Buffer
	b        []byte
	off      int
	gz       bool
	detached bool
}

var bodyKey = new(int)

// install gives the handler a request whose body is rb.
func (rb *requestBody) install(r *http.Request) *http.Request {
	r = r.WithContext(context.WithValue(r.Context(), bodyKey, rb))
	r.Body = rb
	r.ContentLength = int64(len(rb.b))
	r.TransferEncoding = nil
	r.GetBody = rb.getBody
	if rb.gz {
		h := r.Header.Clone()
		h.Del("Content-Encoding")
		h.Set("Content-Length", strconv.Itoa(len(rb.b)))
		r.Header = h
	}
	return r
}

func (rb *requestBody) getBody() (io.ReadCloser, error) {
	return &requestBody{b: rb.b}, nil
}

func (rb *requestBody) Read(p []byte) (int, error) {
	if rb.off >= len(rb.b) {
		return 0, io.EOF
	}
	n := copy(p, rb.b[rb.off:])
	rb.off += n
	return n, nil
}

func (rb *requestBody) WriteTo(w io.Writer) (int64, error) {
	rest := rb.b[min(rb.off, len(rb.b)):]
	if len(rest) == 0 {
		return 0, nil
	}
	n, err := w.Write(rest)
	rb.off += n
	if err == nil && n < len(rest) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (rb *requestBody) Close() error { return nil }

// release returns the memory to the pool, unless a handler detached it.
// Reads after it see the end of the body, never another request's bytes.
func (rb *requestBody) release() {
	if rb == nil {
		return
	}
	if !rb.detached {
		rb.buf.Release()
	}
	rb.buf, rb.b = nil, nil
}

func lookup(r *http.Request) *requestBody {
	if rb, ok := r.Body.(*requestBody); ok && rb.buf != nil {
		return rb
	}
	if rb, ok := r.Context().Value(bodyKey).(*requestBody); ok && rb.buf != nil {
		return rb
	}
	return nil
}

// Body returns the body of r as read by the middleware, without a copy, or
// nil when r has no body or did not pass through the middleware. The bytes
// are valid until the handler returns, unless detached with DetachBody.
func Body(r *http.Request) []byte {
	if rb := lookup(r); rb != nil {
		return rb.b
	}
	return nil
}

// DetachBody is like Body, but hands the bytes to the caller for good: the
// middleware does not reuse them after the handler returns. Detached
// memory is not pooled again; detach only what must outlive the handler.
func DetachBody(r *http.Request) []byte {
	rb := lookup(r)
	if rb == nil {
		return nil
	}
	if !rb.detached {
		rb.b = rb.buf.Detach()
		rb.detached = true
	}
	return rb.b
}
