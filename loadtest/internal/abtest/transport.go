package abtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// errNotLoopback is returned by the harness's dialer for any other address.
var errNotLoopback = errors.New("abtest: refusing to dial a non-loopback address")

// newTransport returns the client transport for conns connections to one
// loopback server: keep-alive, no proxy, HTTP/1.1 only, no transparent
// compression, and a write buffer of writeBuffer bytes per connection.
func newTransport(conns, writeBuffer int) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if demoproc.Loopback(addr) != nil {
				return nil, fmt.Errorf("%w: %s", errNotLoopback, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		WriteBufferSize:       max(writeBuffer, 4<<10),
		ReadBufferSize:        64 << 10,
	}
}
