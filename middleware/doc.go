// Package middleware reads HTTP request bodies into pooled buffers and
// buffers responses in pooled buffers, for net/http and for Echo v4.
//
// A handler that calls io.ReadAll(r.Body) allocates the body afresh on
// every request, and usually more than once while the slice grows. With
// this middleware in front, the body is already in memory from a
// bufpool.Pool when the handler runs, and goes back there when it returns:
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
// For Echo: e.Use(middleware.Echo()), and middleware.EchoBody(c) in
// handlers.
//
// The rule for handlers: the bytes of the body are valid until the handler
// returns, unless detached with DetachBody. Keeping them longer reads
// memory that another request may own by then.
//
// Requests. The declared Content-Length is never trusted with memory: a
// body declared above MaxRequestBody is refused with 413 before it is read
// (so a client that sent Expect: 100-continue never sends it), and
// otherwise the body is read into a first buffer of at most
// InitialRequestBuffer bytes that grows through the pool, doubling, as
// bytes arrive. A body that turns out larger than the limit is refused
// with 413 after at most MaxRequestBody+1 bytes; a truncated or malformed
// one with 400. When the pool has an in-use budget, every byte is taken
// from it before use, growth included; a request that finds no room
// within BudgetWait is refused with 503 and a Retry-After header, and its
// handler never runs. Refusals of unread bodies carry Connection: close.
// With Decompress, gzip bodies are decompressed into the pooled buffer and
// the limit applies to the decompressed size.
//
// Responses. What the handler writes is buffered up to
// MaxBufferedResponse and sent with a Content-Length in one write when the
// handler returns; a handler that sets Content-Length itself before writing
// is not buffered, as the length is known. Beyond the threshold, or on Flush, the response
// streams. Hijack, Push, 1xx responses and http.ResponseController (via
// Unwrap) pass through. If the handler panics, nothing buffered is sent,
// all memory returns to the pool, and the panic continues to the
// application's recovery middleware (what already streamed, past the
// threshold, after a Flush, or with a Content-Length the handler set, has
// gone out, as without the middleware).
package middleware
