package abtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// dialH2C opens n HTTP/2 connections without TLS (prior knowledge, as the
// demo server's -h2c serves them) to the loopback server at baseURL. Each
// is a connection of its own that carries its requests as concurrent
// streams; the caller closes them.
func dialH2C(ctx context.Context, baseURL string, n int) ([]*http.ClientConn, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	if err := demoproc.Loopback(u.Host); err != nil {
		return nil, err
	}
	tr := newTransport(n, 0)
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	tr.TLSNextProto = nil
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var ccs []*http.ClientConn
	for range n {
		cc, err := tr.NewClientConn(dctx, "http", u.Host)
		if err != nil {
			for _, c := range ccs {
				c.Close()
			}
			return nil, fmt.Errorf("abtest: h2c connection to %s: %w", u.Host, err)
		}
		ccs = append(ccs, cc)
	}
	return ccs, nil
}
