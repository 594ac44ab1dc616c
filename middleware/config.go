package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/seam"
)

// Defaults used for the zero fields of a Config.
const (
	// DefaultMaxRequestBody is the default limit on a request body.
	DefaultMaxRequestBody = 8 << 20
	// DefaultMaxBufferedResponse is the default size up to which a response
	// is buffered before it streams.
	DefaultMaxBufferedResponse = 1 << 20
	// DefaultInitialRequestBuffer is the default size of the first buffer
	// a request body is read into when it declares a larger length or none.
	DefaultInitialRequestBuffer = 4 << 10
	// DefaultBudgetWait is how long a request waits by default for room in
	// the pool's in-use budget before it is refused with 503.
	DefaultBudgetWait = 100 * time.Millisecond
)

// ErrInvalidConfig is returned, wrapped with the offending field and value,
// when a Config is not usable.
var ErrInvalidConfig = errors.New("middleware: invalid config")

// Config configures the middleware. The zero Config is valid and gives the
// defaults documented on each field. It is read once, when the middleware
// is built.
type Config struct {
	// Pool supplies the memory of request and response bodies. Default:
	// [bufpool.Default]. A body larger than the pool's MaxSize (4 MiB for
	// the default pool) is allocated for its request and not reused: with
	// a MaxRequestBody above it, give the middleware a pool whose MaxSize
	// covers the bodies you expect.
	Pool *bufpool.Pool

	// MaxRequestBody is the largest request body accepted, in bytes, after
	// decompression. Larger bodies get 413 Request Entity Too Large: at once
	// when Content-Length declares it (the body is not read), otherwise
	// after reading at most MaxRequestBody+1 bytes. Default
	// DefaultMaxRequestBody (8 MiB).
	MaxRequestBody int64

	// MaxBufferedResponse is the size up to which a response body is
	// buffered, so that it goes out with a Content-Length in one write.
	// Past it, what is buffered is written and the rest streams. Negative
	// disables response buffering. Default DefaultMaxBufferedResponse
	// (1 MiB).
	MaxBufferedResponse int

	// InitialRequestBuffer is the capacity a request body is first read
	// into when it declares more or declares nothing; the buffer then grows
	// through the pool as bytes arrive, so the memory a request holds
	// follows what it has sent, never what it declared. Default
	// DefaultInitialRequestBuffer (4 KiB).
	InitialRequestBuffer int

	// BudgetWait is how long a request waits for room in the pool's in-use
	// budget, if it has one, before it is refused with 503 Service
	// Unavailable and a Retry-After header. Negative means no wait.
	// Default DefaultBudgetWait (100 ms).
	BudgetWait time.Duration

	// Decompress makes the middleware decompress request bodies sent with
	// Content-Encoding gzip into the pooled buffer. MaxRequestBody then
	// applies to the decompressed size; such a body is refused from its
	// Content-Length only beyond what gzip's framing can add to
	// MaxRequestBody bytes (a thousandth, plus 1 KiB).
	Decompress bool

	// Observer, if set, is told the size of every body and every refusal;
	// [github.com/bodypool/bodypool/metrics.BodyCollector]
	// implements it for Prometheus.
	Observer Observer

	// Skip, if set, selects requests the middleware leaves alone: their
	// body is not read and their response not buffered. Use it for routes
	// that stream their request body or answer while it arrives
	// (full-duplex handlers, large uploads written to disk), which must
	// not have the body read before they run.
	Skip func(*http.Request) bool

	// pool, set through package seam, replaces Pool for the demo's
	// comparison modes.
	pool seam.Pool
}

// Observer receives what the middleware sees. Its methods are called on
// the request path and must be cheap and safe for concurrent use.
type Observer interface {
	// RequestBody is called with the size of every request body read.
	RequestBody(n int)
	// ResponseBody is called with the size of every response body, and
	// whether it streamed (true) or went out buffered (false).
	ResponseBody(n int, streamed bool)
	// Rejected is called for every refused request with the reason:
	// "too_large", "truncated" or "budget".
	Rejected(reason string)
}

// Reasons passed to Observer.Rejected.
const (
	ReasonTooLarge  = "too_large"
	ReasonTruncated = "truncated"
	ReasonBudget    = "budget"
)

// pooled adapts a *bufpool.Pool to the seam the middleware draws from.
type pooled struct{ p *bufpool.Pool }

func (p pooled) TryAcquire(n int) (seam.Buffer, bool) {
	b, ok := p.p.TryAcquire(n)
	if !ok {
		return nil, false
	}
	return b, true
}

func (p pooled) Acquire(ctx context.Context, n int) (seam.Buffer, error) {
	b, err := p.p.Acquire(ctx, n)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// config is a validated Config with defaults filled in.
type config struct {
	Config
	retryAfter    string // Retry-After value of 503 responses, in seconds
	zeroOnRelease bool   // the pool wipes released memory: so do the gzip readers
	budget        int64  // the pool's in-use budget (MaxInUseBytes), 0 for none

	// adapterLimit tells read errors of an adapter's own body limit
	// (Echo's BodyLimit), answered with 413, from truncated bodies.
	adapterLimit func(error) bool
}

func (c Config) validate() (*config, error) {
	if c.Pool == nil {
		c.Pool = bufpool.Default()
	}
	if c.pool == nil {
		c.pool = pooled{c.Pool}
	}
	if c.MaxRequestBody == 0 {
		c.MaxRequestBody = DefaultMaxRequestBody
	}
	if c.MaxBufferedResponse == 0 {
		c.MaxBufferedResponse = DefaultMaxBufferedResponse
	}
	if c.InitialRequestBuffer == 0 {
		c.InitialRequestBuffer = DefaultInitialRequestBuffer
	}
	if c.BudgetWait == 0 {
		c.BudgetWait = DefaultBudgetWait
	}
	switch {
	case c.MaxRequestBody < 0:
		return nil, fmt.Errorf("%w: MaxRequestBody %d is negative", ErrInvalidConfig, c.MaxRequestBody)
	case c.InitialRequestBuffer < 0:
		return nil, fmt.Errorf("%w: InitialRequestBuffer %d is negative", ErrInvalidConfig, c.InitialRequestBuffer)
	}
	cc := &config{Config: c}
	if p, ok := c.pool.(pooled); ok {
		cc.zeroOnRelease = p.p.Config().ZeroOnRelease
		cc.budget = p.p.Config().MaxInUseBytes
	}
	wait := max(c.BudgetWait, 0)
	secs := int64((wait + time.Second - 1) / time.Second)
	cc.retryAfter = fmt.Sprint(max(secs, 1))
	return cc, nil
}
