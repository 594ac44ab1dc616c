package echobody

import (
	"errors"
	"net/http"

	"github.com/bodypool/bodypool/internal/seam"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// Config configures the Echo middleware: a Skipper, and the settings of
// the net/http middleware it shares, documented on [middleware.Config]. The
// zero Config is valid.
type Config struct {
	// Skipper selects the requests the middleware leaves alone. Default
	// echomw.DefaultSkipper (none).
	Skipper echomw.Skipper

	middleware.Config
}

// DefaultConfig is the Config NewMiddleware uses.
var DefaultConfig = Config{Skipper: echomw.DefaultSkipper}

// NewMiddleware returns the middleware with DefaultConfig.
func NewMiddleware() echo.MiddlewareFunc { return NewMiddlewareWithConfig(DefaultConfig) }

// NewMiddlewareWithConfig returns the middleware configured by cfg. As
// Echo's own constructors do, it panics when cfg is not usable, with an
// error wrapping [middleware.ErrInvalidConfig].
func NewMiddlewareWithConfig(cfg Config) echo.MiddlewareFunc {
	if cfg.Skipper == nil {
		cfg.Skipper = echomw.DefaultSkipper
	}
	srv, err := seam.NewServer(cfg.Config, bodyLimitError)
	if err != nil {
		panic(err)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			return serve(srv, c, next)
		}
	}
}

// bodyLimitError reports whether err is the error Echo's BodyLimit reader
// returns past its limit.
func bodyLimitError(err error) bool {
	var he *echo.HTTPError
	return errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge
}

// serve runs next under the middleware, with Echo's Response writing
// through the middleware's writer.
func serve(srv seam.Server, c echo.Context, next echo.HandlerFunc) (err error) {
	res := c.Response()
	orig := res.Writer
	committed, status, size := res.Committed, res.Status, res.Size
	var w http.ResponseWriter
	returned := false
	defer func() {
		if w == nil {
			return
		}
		// Put Echo's writer back only if it is still ours: a middleware
		// further in may have left its own in place on purpose (Echo's
		// Timeout does, so that a handler that finishes late cannot write
		// to the connection).
		if res.Writer == w {
			res.Writer = orig
		}
		if !returned && !seam.Sent(w) {
			// The handler panicked before anything went out: the response
			// is not committed, whatever Echo's Response recorded, so that
			// Recover can still send a 500.
			res.Committed, res.Status, res.Size = committed, status, size
		}
	}()
	// The request is changed in place, not copied: what later middleware
	// does to it (MethodOverride before routing) reaches Echo's router.
	rej := srv.Serve(orig, c.Request(), func(rw http.ResponseWriter, _ *http.Request) {
		w = rw
		res.Writer = rw
		err = next(c)
	})
	returned = true
	if rej != nil {
		srv.RejectHeaders(res.Header(), rej)
		return echo.NewHTTPError(rej.Status, rej.Message)
	}
	return err
}

// Body is [middleware.Body] for the request of c: its body as read into
// pooled memory, valid until the handler returns.
func Body(c echo.Context) []byte { return middleware.Body(c.Request()) }

// DetachBody is [middleware.DetachBody] for the request of c: its body,
// handed to the caller for good.
func DetachBody(c echo.Context) []byte { return middleware.DetachBody(c.Request()) }
