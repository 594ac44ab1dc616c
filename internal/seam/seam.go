// Package seam connects package middleware to the code of this module
// that must reach its machinery without that machinery being public API:
// the Echo adapter (package echobody) and the demo server's comparison
// pools. Package middleware sets the hooks in its init; importing it is
// enough to use them.
package seam

import (
	"context"
	"io"
	"net/http"

	"github.com/bodypool/bodypool/bufpool"
)

// Pool is where the middleware takes body memory from. The middleware
// adapts a *bufpool.Pool to it; the demo's comparison modes provide their
// own.
type Pool interface {
	// Acquire returns a buffer with room for n bytes, waiting for the
	// pool's budget until ctx ends; see bufpool.Pool.Acquire.
	Acquire(ctx context.Context, n int) (Buffer, error)
	// TryAcquire returns a buffer if the budget has room now, without
	// counting a refusal when it has not; see bufpool.Pool.TryAcquire.
	TryAcquire(n int) (Buffer, bool)
}

// Buffer is the memory of one body, as bufpool.Buffer provides it. Growth
// of a buffer from Acquire reports an error wrapping
// bufpool.ErrBudgetExceeded when the pool's budget has no room.
type Buffer interface {
	Bytes() []byte
	Len() int
	Write(p []byte) (int, error)
	Grow(n int) error
	ReadFromLimit(r io.Reader, limit int64) (int64, error)
	SizeHint(n int)
	Reserve(ctx context.Context, n int) error
	Release()
	Detach() []byte
}

// Rejection is a request the middleware refused before its handler ran.
type Rejection struct {
	Status  int    // 413, 400 or 503
	Reason  string // middleware.ReasonTooLarge, ReasonTruncated or ReasonBudget
	Message string // a short explanation for the client
}

// Server is a configured middleware, as an adapter drives it.
type Server interface {
	// Serve runs next with a pooled request body and response writer,
	// as the net/http middleware does, and settles both when next
	// returns or panics. A refused request is returned, not answered, and
	// next does not run.
	Serve(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) *Rejection
	// RejectHeaders sets on h the headers a refusal needs (Retry-After,
	// Connection: close) and reports it to the Observer.
	RejectHeaders(h http.Header, rej *Rejection)
}

// Hooks set by package middleware.
var (
	// NewServer validates cfg, a middleware.Config, and builds the
	// middleware. outerLimit, if not nil, tells read errors of a body
	// limit further out (answered with 413) from truncated bodies.
	NewServer func(cfg any, outerLimit func(error) bool) (Server, error)
	// WithPool returns cfg, a middleware.Config, set to take its memory
	// from p instead of its Pool.
	WithPool func(cfg any, p Pool) any
	// Pooled returns p as the middleware draws from it, for code that
	// compares it with other Pools.
	Pooled func(p *bufpool.Pool) Pool
	// Sent reports whether anything of the response written through w,
	// a writer Serve gave its handler, went out: after a panic, an adapter
	// that records the response's state (Echo's Response) puts it back
	// when nothing did.
	Sent func(w http.ResponseWriter) bool
)
