package middleware

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bodypool/bodypool/internal/seam"
)

// requestBody is the pooled body of one request. It is the handler's
// r.Body, and the readers r.GetBody returns share its bytes. It implements
// io.WriterTo; Close ends this reader, as closing a request body does, but
// does not release the memory: the middleware does when the handler
// returns. From then on every read fails with http.ErrBodyReadAfterClose,
// so that a goroutine still reading (under http.TimeoutHandler, say) never
// sees the memory again, which another request may own by then.
type requestBody struct {
	mu       sync.Mutex
	buf      seam.Buffer
	b        []byte
	released bool
	detached bool

	gz      bool     // gzip layers were removed
	codings []string // the content codings left on the body
	reading          // fill's state while the body is read

	bodyReader // the reader r.Body is
}

// bodyReader reads a requestBody from its own offset.
type bodyReader struct {
	rb     *requestBody
	off    int
	closed bool
}

// newRequestBody returns a requestBody to read a body with; setBuffer
// gives it the bytes.
func newRequestBody(gz bool, codings []string) *requestBody {
	rb := &requestBody{gz: gz, codings: codings}
	rb.bodyReader.rb = rb
	return rb
}

func (rb *requestBody) setBuffer(buf seam.Buffer) { rb.buf, rb.b = buf, buf.Bytes() }

var bodyKey = new(int)

// fields are the fields of a request that install changes, to be put back
// when the handler returns.
type fields struct {
	body          io.ReadCloser
	getBody       func() (io.ReadCloser, error)
	contentLength int64
	te            []string
	header        http.Header
}

// install gives the handler rb as r's body, changing r in place, so that
// changes later middleware makes to the request (Echo's MethodOverride
// before routing, say) reach whoever holds r. It returns what it changed.
func (rb *requestBody) install(r *http.Request) fields {
	saved := fields{r.Body, r.GetBody, r.ContentLength, r.TransferEncoding, r.Header}
	*r = *r.WithContext(context.WithValue(r.Context(), bodyKey, rb))
	r.Body = &rb.bodyReader
	r.GetBody = rb.getBody
	if rb.gz {
		// The body is not what the client sent: its framing is the
		// decompressed length now.
		r.ContentLength = int64(len(rb.b))
		r.TransferEncoding = nil
		h := r.Header.Clone()
		h.Del("Content-Encoding")
		if len(rb.codings) > 0 {
			h.Set("Content-Encoding", strings.Join(rb.codings, ", "))
		}
		h.Set("Content-Length", strconv.Itoa(len(rb.b)))
		r.Header = h
	}
	return saved
}

// restore puts back the fields install changed. The context keeps the
// body's entry, which finds nothing once the body is released.
func (f fields) restore(r *http.Request) {
	r.Body, r.GetBody, r.ContentLength, r.TransferEncoding, r.Header = f.body, f.getBody, f.contentLength, f.te, f.header
}

func (rb *requestBody) getBody() (io.ReadCloser, error) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.released {
		return nil, http.ErrBodyReadAfterClose
	}
	return &bodyReader{rb: rb}, nil
}

func (br *bodyReader) Read(p []byte) (int, error) {
	rb := br.rb
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.released || br.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if br.off >= len(rb.b) {
		return 0, io.EOF
	}
	n := copy(p, rb.b[br.off:])
	br.off += n
	return n, nil
}

// WriteTo writes the rest of the body to w. The lock is held while w
// writes: a release waits for it.
func (br *bodyReader) WriteTo(w io.Writer) (int64, error) {
	rb := br.rb
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.released || br.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	rest := rb.b[min(br.off, len(rb.b)):]
	if len(rest) == 0 {
		return 0, nil
	}
	n, err := w.Write(rest)
	br.off += n
	if err == nil && n < len(rest) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (br *bodyReader) Close() error {
	br.rb.mu.Lock()
	br.closed = true
	br.rb.mu.Unlock()
	return nil
}

// release returns the memory to the pool, unless a handler detached it.
func (rb *requestBody) release() {
	if rb == nil {
		return
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.released {
		return
	}
	rb.released = true
	if !rb.detached {
		rb.buf.Release()
	}
	rb.buf, rb.b = nil, nil
}

// outerBody returns the length of the body an outer instance of the
// middleware read for r and still holds, or -1 if none does (a request
// reused after its handler returned keeps the entry in its context).
func outerBody(r *http.Request) int64 {
	rb := lookup(r)
	if rb == nil {
		return -1
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.released {
		return -1
	}
	return int64(len(rb.b))
}

func lookup(r *http.Request) *requestBody {
	if br, ok := r.Body.(*bodyReader); ok {
		return br.rb
	}
	rb, _ := r.Context().Value(bodyKey).(*requestBody)
	return rb
}

// Body returns the body of r as read by the middleware, without a copy. It
// returns nil when r has no body, when r did not pass through the
// middleware (a skipped route), and once the handler returned. The bytes
// are valid until the handler returns, unless detached with DetachBody;
// unlike reads of r.Body, nothing stops a use of them after that.
func Body(r *http.Request) []byte {
	rb := lookup(r)
	if rb == nil {
		return nil
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.b
}

// DetachBody is like Body, but hands the bytes to the caller for good: the
// middleware does not reuse them after the handler returns. Detached
// memory is not pooled again; detach only what must outlive the handler.
func DetachBody(r *http.Request) []byte {
	rb := lookup(r)
	if rb == nil {
		return nil
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if !rb.detached && !rb.released {
		rb.b = rb.buf.Detach()
		rb.detached = true
	}
	return rb.b
}
