package echobody

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// unsized hides the length of a reader, so that a client sends it chunked.
type unsized struct{ io.Reader }

// newRequest returns a request with body; nil sends none.
func newRequest(method string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, "/", body)
	if body == nil {
		req.Body = http.NoBody
	}
	return req
}

// newEcho returns an Echo instance that logs nothing, with mws in order
// (the first is outermost).
func newEcho(mws ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.Use(mws...)
	return e
}
