package middleware

import (
	"net/http"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/seam"
)

// The hooks through which the Echo adapter and the demo's comparison
// pools reach the middleware; see package seam.
func init() {
	seam.NewServer = func(cfg any, outerLimit func(error) bool) (seam.Server, error) {
		c, err := cfg.(Config).validate()
		if err != nil {
			return nil, err
		}
		c.adapterLimit = outerLimit
		return c, nil
	}
	seam.WithPool = func(cfg any, p seam.Pool) any {
		c := cfg.(Config)
		c.pool = p
		return c
	}
	seam.Pooled = func(p *bufpool.Pool) seam.Pool { return pooled{p} }
	seam.Sent = func(w http.ResponseWriter) bool {
		rw, ok := w.(*responseWriter)
		return ok && rw.sent()
	}
}
