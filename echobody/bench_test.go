package echobody

import (
	"io"
	"net/http"
	"testing"

	"github.com/bodypool/bodypool/internal/pooltest"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// benchLimit is the body limit of every contender that has one.
const benchLimit = 2 << 20

// BenchmarkEchoBody is middleware.BenchmarkBody for Echo handlers: io.ReadAll
// (readall), Echo's BodyLimit and io.ReadAll (bodylimit+readall), and this
// middleware with Body (bodypool).
func BenchmarkEchoBody(b *testing.B) {
	readAll := func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEOctetStream, body)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		body := pooltest.Payload(71, size.n)
		b.Run("size="+size.name, func(b *testing.B) {
			b.Run("readall", func(b *testing.B) {
				e := newEcho()
				e.POST("/", readAll)
				pooltest.BenchServe(b, e, body)
			})
			b.Run("bodylimit+readall", func(b *testing.B) {
				e := newEcho(echomw.BodyLimit("2M"))
				e.POST("/", readAll)
				pooltest.BenchServe(b, e, body)
			})
			b.Run("bodypool", func(b *testing.B) {
				e := newEcho(NewMiddlewareWithConfig(Config{Config: middleware.Config{Pool: pooltest.BenchPool(b), MaxRequestBody: benchLimit}}))
				e.POST("/", func(c echo.Context) error {
					return c.Blob(http.StatusOK, echo.MIMEOctetStream, Body(c))
				})
				pooltest.BenchServe(b, e, body)
			})
		})
	}
}
