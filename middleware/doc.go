// Package middleware reads HTTP request bodies into pooled buffers and
// buffers responses in pooled buffers, for net/http (and chi, and anything
// that takes a func([http.Handler]) [http.Handler]). Package echobody adapts
// it to Echo v4.
//
// A handler that calls [io.ReadAll](r.Body) allocates the body afresh on
// every request, and usually more than once while the slice grows. With
// this middleware in front, the body is already in memory from a
// [bufpool.Pool] when the handler runs, and goes back there when it returns:
//
//	mw, err := middleware.New(middleware.Config{MaxRequestBody: 8 << 20})
//	if err != nil { ... }
//	http.ListenAndServe(addr, mw(mux))
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body := middleware.Body(r) // no copy
//		...
//	}
//
// It depends on nothing of Echo: a net/http program that uses it does not
// link Echo.
//
// The rule for handlers: the bytes of the body are valid until the handler
// returns, unless detached with [DetachBody]. Keeping them longer reads
// memory that another request may own by then. Reads of r.Body (and of
// the readers r.GetBody returns) after that fail with
// [http.ErrBodyReadAfterClose] instead; the slice Body returned cannot be
// guarded that way. Put [http.TimeoutHandler] outside the middleware, never
// inside: inside, the handler it abandons at the timeout goes on after the
// middleware returned and released the body.
//
// Requests. The declared Content-Length is never trusted with memory: a
// body declared above MaxRequestBody is refused with 413 before it is read
// (so a client that sent Expect: 100-continue never sends it), and
// otherwise the body is read into a first buffer of at most
// InitialRequestBuffer bytes (4 KiB) that grows through the pool as bytes
// arrive: toward the declared length as soon as the bytes received allow,
// to at most 64 times them (a 1 MiB body moves from 4 KiB to 16 KiB at 4
// KiB received, and to 1 MiB at 16 KiB; with a budget, only once the buffer
// is full), or, when no length was declared, doubling when full and another
// byte has arrived. A request so holds at most 64 times what it sent (twice
// without a length), rounded up to the power of two that the pool
// allocates, so under 128 times, and a body is copied little on its way
// to its final size. A body that turns out larger than the limit is refused with 413
// after at most MaxRequestBody+1 bytes; a truncated or malformed one with
// 400. When the pool has an in-use budget, every byte is taken from it
// before use, growth included; a request that finds no room within
// BudgetWait is refused with 503 and a Retry-After header, and its handler
// never runs; one whose growth could never fit the whole budget is refused
// with 413. Refusals of unread bodies carry Connection: close. The handler
// sees the request as the client sent it (ContentLength, TransferEncoding,
// headers), with a body it can read again through r.GetBody. With
// Decompress, the outermost gzip layers named by Content-Encoding (all its
// lines, in order) are removed into the pooled buffer, the limit applies to
// the decompressed size, and the header keeps only the codings left.
// Requests that Config.Skip selects (full-duplex handlers, uploads streamed
// to disk) pass untouched.
//
// Responses. What the handler writes is buffered up to
// MaxBufferedResponse and sent with a Content-Length in one write when the
// handler returns; beyond the threshold, or on Flush, the response
// streams. A response whose header, when its status becomes final,
// declares a Content-Length or trailers is not buffered, as its framing is
// settled. The header goes out as it was when the status became final:
// later changes are ignored, as net/http ignores them, except trailers.
// Hijack (after sending a status already written, as net/http does),
// Push, 1xx responses and [http.ResponseController] (via Unwrap) pass
// through. If the handler panics, nothing buffered is sent, all memory
// returns to the pool, and the panic continues to the application's
// recovery middleware; the headers of a response it had started are
// discarded with it, so that the recovery's 500 carries its own (what
// already streamed, past the threshold, after a Flush, or with a
// Content-Length the handler set, has gone out, as without the
// middleware).
package middleware
