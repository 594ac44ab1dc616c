package middleware

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/seam"
)

// rejection is a refused request: its status, reason and message.
type rejection = seam.Rejection

// noWait is an ended context: Acquire with it takes the budget only if
// there is room at once.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// hasBody reports whether r may carry a body. Requests without one cost
// the middleware no pool traffic and no allocation.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

func (c *config) tooLarge() *rejection {
	return &rejection{Status: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge, Message: "request body too large: the limit is " + strconv.FormatInt(c.MaxRequestBody, 10) + " bytes"}
}

var (
	errTooLargeOuter  = &rejection{Status: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge, Message: "request body too large"}
	errTooLargeBudget = &rejection{Status: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge, Message: "request body too large for the server's memory budget"}
	errTruncated      = &rejection{Status: http.StatusBadRequest, Reason: ReasonTruncated, Message: "request body truncated or malformed"}
	errNotGzip        = &rejection{Status: http.StatusBadRequest, Reason: ReasonTruncated, Message: "request body is not gzip data, though Content-Encoding says gzip (decompressed twice?)"}
	errBusy           = &rejection{Status: http.StatusServiceUnavailable, Reason: ReasonBudget, Message: "server busy: no memory for the request body now, retry later"}
)

// acquire takes a buffer for n bytes, waiting at most BudgetWait. Only a
// request that is then refused counts as a budget rejection.
func (c *config) acquire(ctx context.Context, n int) (seam.Buffer, error) {
	if b, ok := c.pool.TryAcquire(n); ok {
		return b, nil
	}
	if c.BudgetWait <= 0 || ctx.Err() != nil {
		return c.pool.Acquire(noWait, n)
	}
	ctx, cancel := context.WithTimeout(ctx, c.BudgetWait)
	defer cancel()
	return c.pool.Acquire(ctx, n)
}

// outerLimit reports whether a read error comes from a body limit further
// out: http.MaxBytesReader, or one the adapter recognises (Echo's
// BodyLimit). Its target escapes to the heap, so it is called only on
// error paths.
func (c *config) outerLimit(err error) bool {
	var maxBytes *http.MaxBytesError
	return errors.As(err, &maxBytes) || c.adapterLimit != nil && c.adapterLimit(err)
}

// maxGzipLayers bounds how many gzip layers are removed from one body;
// codings beyond stay on the body and in its Content-Encoding.
const maxGzipLayers = 4

// gzipLayers reads every Content-Encoding line of h, in order: the codings
// were applied first to last, so the outermost is last. It returns how
// many of the outermost are gzip (at most maxGzipLayers), and the codings
// that remain once those are removed.
func gzipLayers(h http.Header) (layers int, rest []string) {
	lines := h["Content-Encoding"]
	if len(lines) == 0 {
		return 0, nil
	}
	var codings []string
	for _, line := range lines {
		for coding := range strings.SplitSeq(line, ",") {
			coding = strings.TrimSpace(coding)
			if coding != "" && !strings.EqualFold(coding, "identity") {
				codings = append(codings, coding)
			}
		}
	}
	for layers < len(codings) && layers < maxGzipLayers {
		coding := codings[len(codings)-1-layers]
		if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") {
			break
		}
		layers++
	}
	return layers, codings[:len(codings)-layers]
}

// decompressedAlready reports whether an outer middleware has replaced the
// body with a gzip reader and left Content-Encoding in place, as Echo's
// Decompress does: decoding again would fail on plain data.
func decompressedAlready(r *http.Request) bool {
	_, ok := r.Body.(*gzip.Reader)
	return ok
}

// readBody reads r's body into a pooled buffer. The declared length is
// only a hint: it can refuse a body at once, and it bounds the first
// buffer, but memory is taken only as bytes arrive.
func (c *config) readBody(r *http.Request) (*requestBody, *rejection) {
	declared := r.ContentLength
	var layers int
	var codings []string
	if c.Decompress && !decompressedAlready(r) {
		layers, codings = gzipLayers(r.Header)
	}
	if declared > c.maxDeclared(layers > 0) {
		return nil, c.tooLarge()
	}
	initial := c.InitialRequestBuffer
	if declared >= 0 && declared < int64(initial) && layers == 0 {
		initial = int(declared)
	}
	buf, err := c.acquire(r.Context(), initial)
	if err != nil {
		return nil, errBusy
	}
	if declared > 0 && layers == 0 {
		buf.SizeHint(int(declared))
	}
	src := io.Reader(r.Body)
	var zs [maxGzipLayers]*gunzipper
	defer func() {
		for _, z := range zs[:layers] {
			if z != nil {
				c.putGunzipper(z)
			}
		}
	}()
	for i := range layers {
		zs[i] = gunzippers.Get().(*gunzipper)
		if err := zs[i].zr.Reset(src); err != nil {
			buf.Release()
			if errors.Is(err, gzip.ErrHeader) && i == 0 {
				return nil, errNotGzip
			}
			return nil, errTruncated
		}
		src = &zs[i].zr
	}
	rb := newRequestBody(layers > 0, codings)
	hint := int64(-1) // the final size, when the client declared it
	if layers == 0 {
		hint = declared
	}
	if rej := c.fill(r.Context(), buf, src, hint, &rb.reading); rej != nil {
		buf.Release()
		return nil, rej
	}
	rb.setBuffer(buf)
	return rb, nil
}

// growthFactor bounds the memory of a body whose client declared its
// length: its buffer holds at most the larger of the first buffer and
// growthFactor times the bytes received, so a client that declares much and
// sends little holds little. Within that bound the buffer grows toward the
// declared length as early as it may, while it holds little to copy,
// through a buffer just large enough for the bytes that allow all of it: a
// 1 MiB body moves out of its first 4 KiB at 4 KiB, into 16 KiB, and on at
// 16 KiB into 1 MiB. Without a declared length the buffer doubles when full
// and another byte has arrived, so that a body of unknown size holds at
// most twice what it is.
const growthFactor = 64

// minStep is the least a step toward a declared length reads, room
// permitting: net/http reads a connection through a 4 KiB bufio.Reader,
// which hands a read of at least its size to the connection directly, and
// for a smaller one first refills itself with a read of the connection.
const minStep = 4 << 10

// errStepped ends a stage of one read (see stage).
var errStepped = errors.New("middleware: read step ended")

// stage is what ReadFromLimit reads from: src, as io.LimitedReader reads
// it, up to left bytes, or, when once is set, only until one read has
// returned, after which it fails with errStepped, so that the buffer may
// grow before the next.
type stage struct {
	src  io.Reader
	left int64
	once bool
	read bool // the one read of a stage with once has happened
}

func (s *stage) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if s.once {
		if s.read {
			return 0, errStepped
		}
		s.read = true
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.src.Read(p)
	s.left -= int64(n)
	return n, err
}

// reading is the state of fill, kept in the requestBody that is allocated
// anyway, so that reading allocates nothing more.
type reading struct {
	stage stage
	probe [1]byte
}

// begin starts a stage of at most n bytes of src, of one read if once.
func (st *reading) begin(src io.Reader, n int64, once bool) *stage {
	st.stage = stage{src: src, left: n, once: once}
	return &st.stage
}

// fill reads src into buf, up to MaxRequestBody bytes. A body declared
// (hint, if not negative) larger than buf is read by approach first; then
// the buffer grows only when it is full and another byte has arrived, by
// doubling.
func (c *config) fill(ctx context.Context, buf seam.Buffer, src io.Reader, hint int64, st *reading) *rejection {
	if hint > int64(cap(buf.Bytes())) {
		if ended, rej := c.approach(ctx, buf, src, hint, st); ended || rej != nil {
			return rej
		}
	}
	for {
		if room := cap(buf.Bytes()) - buf.Len(); room > 0 {
			// Fill the buffer, and never read more than one byte past the
			// limit: the stage ends there, and ReadFromLimit, which would
			// grow a full buffer, sees the end of the data instead.
			limit := min(int64(room), c.MaxRequestBody-int64(buf.Len())+1)
			_, err := buf.ReadFromLimit(st.begin(src, limit, false), int64(room))
			if rej := c.readError(err, st); rej != nil {
				return rej
			}
			if int64(buf.Len()) > c.MaxRequestBody {
				return c.tooLarge()
			}
			if st.stage.left > 0 {
				return nil // src ended before the stage did
			}
		}
		// The buffer is full: one more byte decides whether it grows.
		k, err := src.Read(st.probe[:])
		if k > 0 {
			if int64(buf.Len()) >= c.MaxRequestBody {
				return c.tooLarge()
			}
			next := max(min(2*int64(cap(buf.Bytes())), c.MaxRequestBody+1), int64(buf.Len())+1)
			if rej := c.grow(ctx, buf, int(next)); rej != nil {
				return rej
			}
			buf.Write(st.probe[:k])
		}
		switch {
		case err == io.EOF:
			return nil
		case err == nil:
		case c.outerLimit(err):
			return errTooLargeOuter
		default:
			return errTruncated
		}
	}
}

// approach reads a body declared to be hint bytes, more than buf holds,
// until buf can hold all of it, one read at a time. After each read buf
// grows, once growthFactor times the bytes received allow all of hint or at
// least twice its capacity: to hint when allowed, and otherwise only to the
// bytes that would allow it (a growthFactor-th of hint, and at least room
// for minStep more), so that the buffers on the way are small and the last
// growth copies little. A read takes at most those bytes (or minStep), and
// is never cut short to fill a small buffer, which would cost a read of the
// connection for a few bytes. With a budget, buf grows only when full (as
// far as the same bound allows), so that bodies take the budget shortly
// before their bytes arrive, not long before. It reports whether src ended
// first.
func (c *config) approach(ctx context.Context, buf seam.Buffer, src io.Reader, hint int64, st *reading) (ended bool, rej *rejection) {
	eager := c.budget == 0
	enough := (hint + growthFactor - 1) / growthFactor // bytes received that allow all of hint
	for {
		capacity, n := int64(cap(buf.Bytes())), int64(buf.Len())
		if capacity >= hint {
			return false, nil
		}
		allowed := min(hint, growthFactor*n)
		if allowed > capacity && (n == capacity || eager && (allowed == hint || allowed >= 2*capacity)) {
			next := allowed
			if eager && allowed < hint {
				// A step toward hint needs room only for the bytes that
				// allow all of it, and for one read that bypasses the
				// connection's reader.
				next = min(allowed, max(enough, n+minStep))
			}
			if next > capacity {
				if rej := c.grow(ctx, buf, int(next)); rej != nil {
					return false, rej
				}
				continue
			}
		}
		limit := capacity - n
		if eager {
			limit = min(limit, max(enough-n, minStep))
		}
		_, err := buf.ReadFromLimit(st.begin(src, limit, true), capacity-n)
		if errors.Is(err, errStepped) {
			continue
		}
		if rej := c.readError(err, st); rej != nil {
			return false, rej
		}
		if st.stage.left > 0 {
			return true, nil // src ended before the stage did
		}
	}
}

// readError is the refusal, if any, for the error of reading a stage.
func (c *config) readError(err error, st *reading) *rejection {
	switch {
	case err == nil, errors.Is(err, bufpool.ErrBudgetExceeded) && st.stage.left == 0:
		// A budgeted full buffer asks for growth before it probes; the
		// caller decides instead.
		return nil
	case c.outerLimit(err):
		return errTooLargeOuter
	default:
		return errTruncated
	}
}

// grow makes room in buf for next bytes in all, waiting at most
// BudgetWait for the budget.
func (c *config) grow(ctx context.Context, buf seam.Buffer, next int) *rejection {
	err := buf.Grow(next - buf.Len())
	if err == nil {
		return nil
	}
	if !errors.Is(err, bufpool.ErrBudgetExceeded) {
		return errTruncated
	}
	if c.neverFits(buf.Len(), next) {
		return errTooLargeBudget
	}
	// Hold what growing to next needs, or give up after BudgetWait.
	if c.reserve(ctx, buf, next) != nil || buf.Grow(next-buf.Len()) != nil {
		return errBusy
	}
	return nil
}

// neverFits reports whether growing a buffer holding n bytes to hold next
// needs more than the pool's whole budget: waiting cannot help, the body
// is too large for this server.
func (c *config) neverFits(n, next int) bool {
	p, ok := c.pool.(pooled)
	return ok && c.budget > 0 && int64(p.p.ClassSize(n))+int64(p.p.ClassSize(next)) > c.budget
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

func (c *config) reserve(ctx context.Context, buf seam.Buffer, n int) error {
	if c.BudgetWait <= 0 {
		return buf.Reserve(noWait, n)
	}
	ctx, cancel := context.WithTimeout(ctx, c.BudgetWait)
	defer cancel()
	return buf.Reserve(ctx, n)
}

// gunzipper is a pooled gzip reader with the reader it is parked on, so
// that an idle one refers to no request's body.
type gunzipper struct {
	zr     gzip.Reader
	parked bytes.Reader
}

// gunzippers holds idle gzip readers. A sync.Pool lets them go over two
// garbage collections when unused (the runtime collects at least every
// two minutes).
var gunzippers = sync.Pool{New: func() any { return new(gunzipper) }}

var (
	// emptyGzip is a gzip stream of no data: resetting a reader onto it
	// drops its reference to the last body.
	emptyGzip = gzipOf(nil)
	// zeroGzip holds a window's worth of zeros: reading it through a
	// reader overwrites the plaintext its decompressor keeps.
	zeroGzip = gzipOf(make([]byte, 32<<10))
)

func gzipOf(p []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(p)
	zw.Close()
	return b.Bytes()
}

// putGunzipper parks z and pools it.
func (c *config) putGunzipper(z *gunzipper) {
	z.park(c.zeroOnRelease)
	gunzippers.Put(z)
}

// park sets z on a stream of its own, so that it refers to no request's
// body. With wipe (the pool's ZeroOnRelease), the decompressor's window of
// plaintext is overwritten with zeros first.
func (z *gunzipper) park(wipe bool) {
	if wipe {
		z.parked.Reset(zeroGzip)
		if z.zr.Reset(&z.parked) == nil {
			io.Copy(io.Discard, &z.zr)
		}
	}
	z.parked.Reset(emptyGzip)
	z.zr.Reset(&z.parked)
}

// reject writes a short plain-text refusal.
func (c *config) reject(w http.ResponseWriter, rej *rejection) {
	c.RejectHeaders(w.Header(), rej)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rej.Status)
	io.WriteString(w, rej.Message+"\n")
}

// RejectHeaders sets the headers of a refusal on h and reports it to the
// Observer.
func (c *config) RejectHeaders(h http.Header, rej *rejection) {
	switch rej.Status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", c.retryAfter)
	default:
		// The rest of the body stays unread: the connection cannot be
		// reused, and net/http closes it gracefully after the response.
		h.Set("Connection", "close")
	}
	if c.Observer != nil {
		c.Observer.Rejected(rej.Reason)
	}
}
