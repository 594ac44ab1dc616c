package middleware

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Echo returns the middleware for Echo v4 with DefaultConfig.
func Echo() echo.MiddlewareFunc { return EchoWithConfig(DefaultConfig) }

// EchoBody is Body for the request of an Echo context.
func EchoBody(c echo.Context) []byte { return Body(c.Request()) }

// EchoDetachBody is DetachBody for the request of an Echo context.
func EchoDetachBody(c echo.Context) []byte { return DetachBody(c.Request()) }

// EchoWithConfig returns the middleware for Echo v4 configured by cfg; see
// New for what it does. Following Echo's convention it panics when cfg is
// not usable. Refusals are returned as *echo.HTTPError (413, 400, or 503
// with Retry-After), so the application's error handler shapes them.
func EchoWithConfig(cfg Config) echo.MiddlewareFunc {
	c, err := cfg.validate()
	if err != nil {
		panic(err)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) (err error) {
			if c.Skipper(ec) {
				return next(ec)
			}
			res := ec.Response()
			orig := res.Writer
			committed, status, size := res.Committed, res.Status, res.Size
			var rw *responseWriter
			returned := false
			defer func() {
				if rw == nil {
					return
				}
				// Put Echo's writer back only if it is still ours: a
				// middleware further in may have left its own in place on
				// purpose (Echo's Timeout does, so that a handler that
				// finishes late cannot write to the connection).
				if res.Writer == http.ResponseWriter(rw) {
					res.Writer = orig
				}
				if !returned && !rw.sent() {
					// The handler panicked before anything went out: the
					// response is not committed, whatever Echo's Response
					// recorded, so that Recover can still send a 500.
					res.Committed, res.Status, res.Size = committed, status, size
				}
			}()
			// The request is changed in place, not copied: what later
			// middleware does to it (MethodOverride before routing) must
			// reach Echo's router.
			rej := c.serve(orig, ec.Request(), func(w http.ResponseWriter, r *http.Request) {
				rw, _ = w.(*responseWriter) // nil when Skip chose the request
				res.Writer = w
				err = next(ec)
			})
			returned = true
			if rej != nil {
				c.rejectHeaders(res.Header(), rej)
				return echo.NewHTTPError(rej.status, rej.msg)
			}
			return err
		}
	}
}
