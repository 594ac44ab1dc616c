package middleware

import (
	"net/http"
)

// New returns net/http middleware that reads request bodies into pooled
// buffers under cfg's limits and buffers responses in pooled buffers up to
// cfg.MaxBufferedResponse. It returns an error wrapping ErrInvalidConfig
// when cfg is not usable.
//
// Handlers read the body from r.Body as usual (it can be read again, and
// r.GetBody is set), or without a copy with Body(r). The bytes are valid
// until the handler returns, unless detached with DetachBody.
func New(cfg Config) (func(http.Handler) http.Handler, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rej := c.Serve(w, r, next.ServeHTTP); rej != nil {
				c.reject(w, rej)
			}
		})
	}, nil
}

// Handler wraps next with the middleware configured by the zero Config.
func Handler(next http.Handler) http.Handler {
	mw, _ := New(Config{})
	return mw(next)
}

// Serve runs next with a pooled request body and response buffer, and
// settles both when next returns: the body's buffer goes back to the pool
// first, then the buffered response is sent and its buffer follows. When
// next panics, nothing buffered is sent, both buffers go back, and the
// panic goes on to the application's recovery. A refused request is
// returned, not answered, and next does not run. Requests that Skip
// selects go to next as they are.
func (c *config) Serve(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) *rejection {
	if c.Skip != nil && c.Skip(r) {
		next(w, r)
		return nil
	}
	var rb *requestBody
	var saved fields
	if n := outerBody(r); n >= 0 {
		// An outer instance of the middleware read the body: this one
		// only applies its own limit, so that a route can have a smaller
		// limit than the server without the body being read twice.
		if n > c.MaxRequestBody {
			return c.tooLarge()
		}
	} else if hasBody(r) {
		var rej *rejection
		if rb, rej = c.readBody(r); rej != nil {
			return rej
		}
		saved = rb.install(r)
		if c.Observer != nil {
			c.Observer.RequestBody(len(rb.b))
		}
	}
	if _, ok := w.(*responseWriter); ok && rb == nil {
		// The response is buffered further out already.
		next(w, r)
		return nil
	}
	rw := c.newResponseWriter(w, r)
	done := false
	// settleBody gives the body's buffer back and restores r, once.
	settleBody := func() {
		if rb != nil {
			rb.release()
			saved.restore(r)
			rb = nil
		}
	}
	defer func() {
		if !done {
			rw.abort() // next panicked
		}
		settleBody()
	}()
	next(rw, r)
	// The handler is done with the body: its bytes were valid until it
	// returned. The buffer goes back before the response is written out,
	// which can wait on a slow client for as long as the write timeout
	// allows, so that a request holds one pooled buffer, not two, while its
	// response drains.
	settleBody()
	rw.finish()
	done = true
	return nil
}
